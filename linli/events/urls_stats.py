"""Statistics of the event hub, mounted at /events/stats/."""

from django.urls import path

from linli.events import views_stats as views

app_name = "events_stats"

urlpatterns = [
    path("", views.index, name="index"),
    path("export/", views.export, name="export"),
]
