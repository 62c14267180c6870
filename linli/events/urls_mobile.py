"""The phone pages (``/m/``): reporting, my reports, my tasks."""

from django.urls import path

from linli.events import views_mobile as views

app_name = "events_mobile"

urlpatterns = [
    path("", views.home, name="home"),
    path("report/", views.report, name="report"),
    path("report/fields/", views.report_fields, name="report_fields"),
    path("report/duplicates/", views.report_duplicates, name="report_duplicates"),
    path("mine/", views.mine, name="mine"),
    path("mine/<int:pk>/", views.mine_detail, name="mine_detail"),
    path("mine/<int:pk>/rate/", views.rate, name="rate"),
    path("tasks/", views.tasks, name="tasks"),
    path("event/<int:pk>/", views.event_detail, name="event"),
    path("event/<int:pk>/<slug:action>/", views.event_step, name="event_step"),
    path("attachments/<int:pk>/", views.attachment, name="attachment"),
]
