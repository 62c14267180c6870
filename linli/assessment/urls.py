"""The self-assessment's pages; the acceptance publication's live in ``urls_publication``."""

from django.urls import URLPattern, URLResolver, include, path, register_converter

from linli.assessment import views


class CommunityCodeConverter:
    """A region code; the views answer 404 unless it names a community of the user's scope."""

    regex = r"\d{2,15}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class RunIdConverter:
    regex = r"[0-9a-f]{32}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(CommunityCodeConverter, "assessment_community")
register_converter(RunIdConverter, "assessment_run")

app_name = "assessment"

urlpatterns: list[URLPattern | URLResolver] = [
    path("publications/", include("linli.assessment.urls_publication")),
    path("", views.index, name="index"),
    path("county/", views.county, name="county"),
    path("county/export/", views.county_export, name="county_export"),
    path("county/runs/", views.county_run_start, name="county_run_start"),
    path("county/runs/<assessment_run:run_id>/", views.county_run, name="county_run"),
    path(
        "county/runs/<assessment_run:run_id>/status/",
        views.county_run_status,
        name="county_run_status",
    ),
    path("stored/<int:pk>/", views.stored, name="stored"),
    path("figures/help/", views.metric_help, name="metric_help"),
    path("figures/<int:pk>/withdraw/", views.figure_withdraw, name="figure_withdraw"),
    path("figures/<int:pk>/attachment/", views.figure_attachment, name="figure_attachment"),
    path("<assessment_community:code>/", views.community, name="community"),
    path("<assessment_community:code>/store/", views.store, name="store"),
    path("<assessment_community:code>/figures/", views.figure_list, name="figure_list"),
    path("<assessment_community:code>/figures/new/", views.figure_create, name="figure_create"),
]
