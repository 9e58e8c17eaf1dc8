"""Top-level URLs: screens, admin, the REST API, its schema and health checks."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from kcs import access_views, audit_views, health, metrics, views

urlpatterns = [
    # Signing in lands on the Overview (notifications app; reached by URL name, not import).
    path("", RedirectView.as_view(pattern_name="notifications:overview", permanent=False), name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="kcs/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Django's password views (the admin's templates); each change or reset is logged (kcs/signin.py).
    path("password/change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password/change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password/reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("scope/", views.ScopeSwitchView.as_view(), name="scope-switch"),
    path("tokens/", views.TokenListView.as_view(), name="tokens"),
    path("tokens/<id:pk>/revoke/", views.TokenRevokeView.as_view(), name="token-revoke"),
    path("security-log/", audit_views.SecurityLogView.as_view(), name="security-log"),
    path("account/password/", access_views.PasswordChangeView.as_view(), name="password-change"),
    path("access/users/", access_views.UserListView.as_view(), name="access-users"),
    path("access/users/add/", access_views.UserCreateView.as_view(), name="access-user-add"),
    path("access/users/reset-password/", access_views.UserResetPasswordView.as_view(), name="access-users-reset"),
    path("access/users/<id:pk>/", access_views.UserEditView.as_view(), name="access-user-edit"),
    path("access/users/<id:pk>/delete/", access_views.UserDeleteView.as_view(), name="access-user-delete"),
    path("access/roles/", access_views.RoleListView.as_view(), name="access-roles"),
    path("access/roles/add/", access_views.RoleCreateView.as_view(), name="access-role-add"),
    path("access/roles/<id:pk>/", access_views.RoleEditView.as_view(), name="access-role-edit"),
    path("access/roles/<id:pk>/delete/", access_views.RoleDeleteView.as_view(), name="access-role-delete"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("kcs.api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Split: the page loads its init script from ?script, so it needs no inline script under the CSP.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="kcs/swagger_ui.html"),
        name="api-docs",
    ),
    path("", include("events.urls")),
    path("", include("policies.urls")),
    path("", include("notifications.urls")),
]

handler403 = "kcs.errors.permission_denied"
handler404 = "kcs.errors.not_found"
handler500 = "kcs.errors.server_error"
