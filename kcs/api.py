"""The one DRF router for ``/api/v1/``.

Each app's ``api`` module exposes ``register(router)`` for its viewsets and may define ``urlpatterns`` for
endpoints that are not viewsets (e.g. native ingestion); both are collected here.
"""

from importlib import import_module

from rest_framework.routers import DefaultRouter

API_MODULES = ("events.api", "events.ingest_api", "policies.api", "notifications.api", "kcs.audit_api")

router = DefaultRouter()
urlpatterns = []
for _name in API_MODULES:
    _module = import_module(_name)
    if hasattr(_module, "register"):
        _module.register(router)
    urlpatterns += getattr(_module, "urlpatterns", [])
urlpatterns += router.urls
