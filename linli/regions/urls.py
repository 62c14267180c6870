from django.urls import path, register_converter

from linli.regions import views


class RegionCodeConverter:
    regex = r"\d{2,15}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(RegionCodeConverter, "region")

app_name = "regions"

urlpatterns = [
    path("", views.tree, name="tree"),
    path("export/", views.export, name="export"),
    path("<region:code>/", views.detail, name="detail"),
    path("<region:code>/children/", views.children, name="children"),
    path("<region:code>/add/", views.create_child, name="create"),
    path("<region:code>/rename/", views.rename, name="rename"),
    path("<region:code>/move/", views.move, name="move"),
    path("<region:code>/retire/", views.retire, name="retire"),
]
