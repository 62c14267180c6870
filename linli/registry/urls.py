"""The register's pages. Every kind of record gets list / new / detail / edit / retire; people,
houses, compounds and buildings have their own detail pages, and the Excel import and export
routes live in ``urls_excel``."""

from django.urls import URLPattern, URLResolver, include, path

from linli.registry import views

app_name = "registry"

# (url prefix, kind) of the records with the generic pages.
KIND_PATHS = [
    ("organisations", "organisation"),
    ("compounds", "compound"),
    ("buildings", "building"),
    ("units", "unit"),
    ("houses", "house"),
    ("households", "household"),
    ("people", "person"),
    ("residences", "residence"),
    ("vehicles", "vehicle"),
    ("rentals", "rental"),
]
# Kinds whose list or detail page is their own view, not the generic one.
OWN_LIST = {"person": views.person_list}
OWN_DETAIL = {
    "person": views.person_detail,
    "house": views.house_detail,
    "compound": views.compound_detail,
    "building": views.building_detail,
}

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.index, name="index"),
    path("overview/", views.overview, name="overview"),
    path("people/search/", views.person_search, name="person_search"),
    path("people/bulk-tag/", views.person_bulk_tag, name="person_bulk_tag"),
    path("people/<int:pk>/reveal/<slug:field>/", views.person_reveal, name="person_reveal"),
    path("people/<int:pk>/tag/", views.person_tag, name="person_tag"),
    path("people/<int:pk>/untag/<int:tag_pk>/", views.person_untag, name="person_untag"),
    path("residences/<int:pk>/move-out/", views.residence_move_out, name="residence_move_out"),
    path("houses/<int:pk>/use/", views.house_set_use, name="house_set_use"),
    path("houses/<int:pk>/qr.svg", views.house_qr, name="house_qr"),
    path("address/<slug:code>/", views.house_by_address, name="house_by_address"),
    path("pick/houses/", views.pick_houses, name="pick_houses"),
    path("pick/people/", views.pick_people, name="pick_people"),
    path("tags/", views.tags, name="tags"),
    path("tags/<int:pk>/edit/", views.tag_edit, name="tag_edit"),
]

for prefix, kind in KIND_PATHS:
    own_list = OWN_LIST.get(kind)
    own_detail = OWN_DETAIL.get(kind)
    urlpatterns += [
        path(f"{prefix}/", own_list, name=f"{kind}_list")
        if own_list
        else path(f"{prefix}/", views.record_list, {"kind": kind}, name=f"{kind}_list"),
        path(f"{prefix}/new/", views.record_create, {"kind": kind}, name=f"{kind}_create"),
        path(f"{prefix}/<int:pk>/", own_detail, name=f"{kind}_detail")
        if own_detail
        else path(
            f"{prefix}/<int:pk>/", views.record_detail, {"kind": kind}, name=f"{kind}_detail"
        ),
        path(f"{prefix}/<int:pk>/edit/", views.record_edit, {"kind": kind}, name=f"{kind}_edit"),
        path(
            f"{prefix}/<int:pk>/retire/",
            views.record_retire,
            {"kind": kind},
            name=f"{kind}_retire",
        ),
    ]

urlpatterns.append(path("", include("linli.registry.urls_excel")))
