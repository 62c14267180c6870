from django.urls import path

from linli.audit import views

app_name = "audit"

urlpatterns = [
    path("", views.entry_list, name="entry_list"),
    path("entries/<int:pk>/", views.entry_detail, name="entry_detail"),
    path("verification/", views.verification, name="verification"),
    path("verification/run/", views.verify, name="verify"),
]
