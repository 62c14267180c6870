"""Open311 GeoReport v2 (``/open311/v2/``): every resource in XML and JSON by its suffix."""

from django.urls import re_path

from linli.events import open311

app_name = "events_open311"

FMT = r"\.(?P<fmt>json|xml)$"

urlpatterns = [
    re_path(r"^discovery" + FMT, open311.discovery, name="discovery"),
    re_path(r"^services" + FMT, open311.services_list, name="services"),
    re_path(r"^services/(?P<code>[-\w]+)" + FMT, open311.service_definition, name="service"),
    re_path(r"^requests" + FMT, open311.requests_view, name="requests"),
    re_path(r"^requests/(?P<request_id>\d+)" + FMT, open311.request_detail, name="request"),
    re_path(
        r"^requests/(?P<request_id>\d+)/updates" + FMT,
        open311.request_updates,
        name="request_updates",
    ),
    re_path(r"^tokens/(?P<token>[-\w]+)" + FMT, open311.token, name="token"),
    re_path(r"^servicerequestupdates" + FMT, open311.service_request_updates, name="updates"),
]
