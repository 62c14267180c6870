"""The acceptance publication's pages (included under ``assessment:``)."""

from django.urls import URLPattern, URLResolver, path

from linli.assessment import views_publication as views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.publication_list, name="publication_list"),
    path("new/", views.publication_create, name="publication_create"),
    path("<int:pk>/", views.publication_detail, name="publication_detail"),
    path("<int:pk>/edit/", views.publication_edit, name="publication_edit"),
    path("<int:pk>/issue/", views.publication_issue, name="publication_issue"),
    path("<int:pk>/document/", views.publication_document, name="publication_document"),
    path("<int:pk>/docx/", views.publication_download, name="publication_docx"),
]
