"""Screens of security events."""

from django.urls import path

from events import views

app_name = "events"
urlpatterns = [
    path("events/", views.EventListView.as_view(), name="list"),
    path("events/<id:pk>/", views.EventDetailView.as_view(), name="detail"),
]
