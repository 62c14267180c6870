from django.urls import path

from linli.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("login/code/", views.login_totp_view, name="login_totp"),
    path("logout/", views.logout_view, name="logout"),
    path("password/", views.password_change_view, name="password_change"),
    path("second-factor/", views.totp_setup_view, name="totp_setup"),
    path("users/", views.user_list, name="user_list"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<int:pk>/", views.user_detail, name="user_detail"),
    path("users/<int:pk>/edit/", views.user_edit, name="user_edit"),
    path("users/<int:pk>/active/", views.user_set_active, name="user_set_active"),
    path("users/<int:pk>/reset-password/", views.user_reset_password, name="user_reset_password"),
    path("users/<int:pk>/reset-second-factor/", views.user_reset_totp, name="user_reset_totp"),
    path("users/<int:pk>/phone/", views.user_reveal_phone, name="user_reveal_phone"),
    path("users/<int:pk>/roles/", views.user_grant_role, name="user_grant_role"),
    path(
        "users/<int:pk>/roles/<int:assignment_pk>/revoke/",
        views.user_revoke_role,
        name="user_revoke_role",
    ),
    path("roles/", views.role_list, name="role_list"),
    path("roles/new/", views.role_create, name="role_create"),
    path("roles/<int:pk>/", views.role_detail, name="role_detail"),
    path("roles/<int:pk>/edit/", views.role_edit, name="role_edit"),
    path("policy/", views.policy_view, name="policy"),
    path("policy/edit/", views.policy_edit, name="policy_edit"),
]
