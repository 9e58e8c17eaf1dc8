"""Screens of the notifications app: integrations per output type and the delivery log."""

from django.urls import path

from notifications import overview_views, views

app_name = "notifications"
urlpatterns = [
    path("overview/", overview_views.OverviewView.as_view(), name="overview"),
    path("integrations/", views.IntegrationIndexView.as_view(), name="integration-index"),
    path("integrations/<slug:kind>/", views.IntegrationListView.as_view(), name="integration-list"),
    path("integrations/<slug:kind>/add/", views.IntegrationFormView.as_view(), name="integration-add"),
    path("integrations/<slug:kind>/<id:pk>/", views.IntegrationDetailView.as_view(), name="integration-detail"),
    path("integrations/<slug:kind>/<id:pk>/edit/", views.IntegrationFormView.as_view(), name="integration-edit"),
    path("integrations/<slug:kind>/<id:pk>/delete/", views.IntegrationDeleteView.as_view(), name="integration-delete"),
    path("integrations/<slug:kind>/<id:pk>/test/", views.IntegrationTestView.as_view(), name="integration-test"),
    path("notifications/", views.NotificationListView.as_view(), name="notification-list"),
    path("notifications/<id:pk>/", views.NotificationDetailView.as_view(), name="notification-detail"),
    path("notifications/<id:pk>/retry/", views.NotificationRetryView.as_view(), name="notification-retry"),
]
