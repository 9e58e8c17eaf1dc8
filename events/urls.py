"""Screens of security events, and of risk acceptances (shown under Policies → Risk acceptance)."""

from django.urls import path

from events import acceptance_views, views

app_name = "events"
urlpatterns = [
    path("events/", views.EventListView.as_view(), name="list"),
    path("events/accept/", acceptance_views.AcceptEventsView.as_view(), name="accept"),
    path("events/<id:pk>/", views.EventDetailView.as_view(), name="detail"),
    path("policies/risk-acceptance/", acceptance_views.AcceptanceListView.as_view(), name="acceptance-list"),
    path(
        "policies/risk-acceptance/<id:pk>/",
        acceptance_views.AcceptanceDetailView.as_view(),
        name="acceptance-detail",
    ),
    path(
        "policies/risk-acceptance/<id:pk>/extend/",
        acceptance_views.AcceptanceExtendView.as_view(),
        name="acceptance-extend",
    ),
    path(
        "policies/risk-acceptance/<id:pk>/cancel/",
        acceptance_views.AcceptanceCancelView.as_view(),
        name="acceptance-cancel",
    ),
]
