"""Excel import and export routes of the register (included by ``linli.registry.urls``)."""

from django.urls import URLPattern, URLResolver, path

from linli.registry import views_excel as views

urlpatterns: list[URLPattern | URLResolver] = [
    path("import/", views.import_index, name="import_index"),
    path("import/jobs/<int:pk>/", views.import_job, name="import_job"),
    path("import/jobs/<int:pk>/status/", views.import_status, name="import_status"),
    path("import/jobs/<int:pk>/errors/", views.import_errors, name="import_errors"),
    path("import/<slug:kind>/", views.import_start, name="import_start"),
    path("import/<slug:kind>/template/", views.import_template, name="import_template"),
    path("export/<slug:kind>/", views.export, name="export"),
]
