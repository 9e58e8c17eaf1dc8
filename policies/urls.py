"""Screens of the policies app: response policies, scopes and silences."""

from django.urls import path

from policies import silence_views, views

app_name = "policies"
urlpatterns = [
    path("policies/response/", views.PolicyListView.as_view(), name="response-list"),
    path("policies/response/add/", views.PolicyCreateView.as_view(), name="response-add"),
    path("policies/response/<id:pk>/", views.PolicyEditView.as_view(), name="response-edit"),
    path("policies/response/<id:pk>/toggle/", views.PolicyToggleView.as_view(), name="response-toggle"),
    path("policies/response/<id:pk>/delete/", views.PolicyDeleteView.as_view(), name="response-delete"),
    path("policies/scopes/", views.ScopeListView.as_view(), name="scope-list"),
    path("policies/scopes/add/", views.ScopeCreateView.as_view(), name="scope-add"),
    path("policies/scopes/<id:pk>/", views.ScopeEditView.as_view(), name="scope-edit"),
    path("policies/scopes/<id:pk>/delete/", views.ScopeDeleteView.as_view(), name="scope-delete"),
    path("policies/silences/", silence_views.SilenceListView.as_view(), name="silence-list"),
    path("policies/silences/add/", silence_views.SilenceCreateView.as_view(), name="silence-add"),
    path("policies/silences/<id:pk>/", silence_views.SilenceDetailView.as_view(), name="silence-detail"),
    path("policies/silences/<id:pk>/edit/", silence_views.SilenceEditView.as_view(), name="silence-edit"),
    path("policies/silences/<id:pk>/expire/", silence_views.SilenceExpireView.as_view(), name="silence-expire"),
]
