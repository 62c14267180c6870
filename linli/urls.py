from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from linli.core import views as core_views

api_patterns: list[URLPattern | URLResolver] = [
    path("", include("linli.core.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]

urlpatterns = [
    path("", include("linli.core.urls")),
    path("accounts/", include("linli.accounts.urls")),
    path("regions/", include("linli.regions.urls")),
    path("audit/", include("linli.audit.urls")),
    path("registry/", include("linli.registry.urls")),
    path("assessment/", include("linli.assessment.urls")),
    path("events/stats/", include("linli.events.urls_stats")),
    path("events/", include("linli.events.urls")),
    path("m/", include("linli.events.urls_mobile")),
    path("open311/v2/", include("linli.events.urls_open311")),
    path("notifications/", include("linli.notifications.urls")),
    path("api/", include((api_patterns, "api"), namespace="api")),
    path("health/", core_views.health, name="health"),
]

handler400 = "linli.core.views.bad_request"
handler403 = "linli.core.views.permission_denied"
handler404 = "linli.core.views.page_not_found"
handler500 = "linli.core.views.server_error"
