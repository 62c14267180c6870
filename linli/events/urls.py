"""Staff pages of the event hub (``/events/``) and the reporter's desktop view of a report."""

from django.urls import path

from linli.events import views

app_name = "events"

urlpatterns = [
    path("", views.workbench, name="workbench"),
    path("list/", views.event_list, name="list"),
    path("new/", views.report, name="new"),
    path("new/extra/", views.report_extra, name="new_extra"),
    path("new/places/", views.report_places, name="new_places"),
    path("new/duplicates/", views.report_duplicates, name="new_duplicates"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/act/<slug:action>/", views.act, name="act"),
    path("<int:pk>/members/", views.members, name="members"),
    path("attachments/<int:pk>/", views.attachment, name="attachment"),
    path("mine/", views.mine, name="mine"),
    path("mine/<int:pk>/", views.mine_detail, name="mine_detail"),
    # Configuration.
    path("categories/", views.categories, name="categories"),
    path("categories/new/", views.category_create, name="category_create"),
    path("categories/<int:pk>/", views.category_edit, name="category_edit"),
    path("departments/", views.departments, name="departments"),
    path("departments/new/", views.department_create, name="department_create"),
    path("departments/<int:pk>/", views.department_detail, name="department_detail"),
    path(
        "departments/<int:pk>/members/",
        views.department_member_add,
        name="department_member_add",
    ),
    path(
        "departments/<int:pk>/members/<int:user_pk>/remove/",
        views.department_member_remove,
        name="department_member_remove",
    ),
    path("departments/<int:pk>/retire/", views.department_retire, name="department_retire"),
    path("rules/", views.rules, name="rules"),
    path("rules/new/", views.rule_create, name="rule_create"),
    path("rules/<int:pk>/", views.rule_edit, name="rule_edit"),
    path("rules/<int:pk>/remove/", views.rule_delete, name="rule_delete"),
    path("holidays/", views.holidays, name="holidays"),
    path("holidays/<int:pk>/", views.holiday_edit, name="holiday_edit"),
    path("holidays/<int:pk>/remove/", views.holiday_delete, name="holiday_delete"),
]
