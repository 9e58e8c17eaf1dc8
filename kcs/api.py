"""The one DRF router for ``/api/v1/``.

Each app's ``api`` module exposes ``register(router)`` for its viewsets and may define ``urlpatterns`` for
endpoints that are not viewsets (e.g. native ingestion); both are collected here.
"""

from importlib import import_module

from rest_framework.routers import DefaultRouter

API_MODULES = (
    "events.api",
    "events.ingest_api",
    "events.acceptance_api",
    "policies.api",
    "policies.decisions_api",
    "policies.silences_api",
    "notifications.api",
    "kcs.audit_api",
)


class Router(DefaultRouter):
    """DRF's router with path converters; a detail route's id uses ``<id:pk>`` (:mod:`kcs.converters`) unless the
    viewset names another ``lookup_value_converter``, so an id no database integer holds is a 404, not a query.

    No format-suffix routes (``events.json``): the API speaks JSON only, the actions (``test``, ``retry``) took no
    ``format`` argument (a 500), and the schema listed every path twice as ``…{format}``."""

    include_format_suffixes = False

    def __init__(self) -> None:
        super().__init__(use_regex_path=False)
        self._default_value_pattern = "id"  # DRF's default here is "str"; it has no public setting for it


router = Router()
urlpatterns = []
for _name in API_MODULES:
    _module = import_module(_name)
    if hasattr(_module, "register"):
        _module.register(router)
    urlpatterns += getattr(_module, "urlpatterns", [])
urlpatterns += router.urls
