"""Screens of security events, and of the images and vulnerabilities they report."""

from django.urls import path

from events import insight_views, views

app_name = "events"
urlpatterns = [
    path("events/", views.EventListView.as_view(), name="list"),
    path("events/<id:pk>/", views.EventDetailView.as_view(), name="detail"),
    path("vulnerabilities/", insight_views.VulnerabilityListView.as_view(), name="vulnerabilities"),
    path("images/", insight_views.ImageListView.as_view(), name="images"),
    path("images/<id:pk>/", insight_views.ImageDetailView.as_view(), name="image-detail"),
]
