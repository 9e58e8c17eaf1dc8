"""Screens of the policies app: response policies and scopes."""

from django.urls import path

from policies import views

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
]
