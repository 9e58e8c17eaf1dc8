"""Shared fixtures: users with and without rights, authenticated API clients, and a guard against the internet."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from kcs.models import ApiToken

_real_connect = socket.socket.connect
_real_create_connection = socket.create_connection


def _is_local(address) -> bool:
    if isinstance(address, tuple) and address:
        host = address[0]
    else:  # AF_UNIX paths
        return True
    if host in ("localhost", ""):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False  # a host name: tests never resolve public names
    return ip.is_loopback


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address):
        raise RuntimeError(f"Test tried to reach {address!r}: tests must not touch the network beyond loopback")
    return _real_connect(self, address)


@pytest.fixture(autouse=True, scope="session")
def no_internet():
    """Any outbound connection beyond loopback fails loudly (as Zulip's test suite does)."""
    socket.socket.connect = _guarded_connect
    yield
    socket.socket.connect = _real_connect


@pytest.fixture(autouse=True)
def celery_eager(request):
    """Tasks run in-process unless the test is an end-to-end test with a real worker."""
    from kcs.celery import app

    eager = request.node.get_closest_marker("e2e") is None
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = eager
    yield
    app.conf.task_always_eager = previous


def restore_migration_data() -> None:
    """Re-create what data migrations seed (Global scope, groups): a transactional test's flush removed it."""
    import importlib

    from django.apps import apps

    apps.get_model("policies", "Scope").objects.get_or_create(
        is_global=True, defaults={"name": "Global", "description": "Every resource (built in; cannot be changed)."}
    )
    # The seed functions flip AppConfig.models_module for create_permissions(); keep the real registry intact.
    saved = {config.label: config.models_module for config in apps.get_app_configs()}
    try:
        for module, function in (
            ("policies.migrations.0003_seed_groups", "seed_groups"),
            ("events.migrations.0002_scanner_group", "seed_group"),
        ):
            getattr(importlib.import_module(module), function)(apps, None)
    finally:
        for config in apps.get_app_configs():
            config.models_module = saved[config.label]


@pytest.fixture(autouse=True)
def migration_data(request):
    """Transactional tests (live server, real worker) start with the seeded rows like every other test."""
    if {"transactional_db", "live_server"} & set(request.fixturenames) or _is_transactional(request):
        request.getfixturevalue("transactional_db")
        restore_migration_data()


def _is_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))


def grant(user, *codenames: str) -> None:
    """Give ``user`` the permissions named ``app_label.codename``."""
    for name in codenames:
        app_label, codename = name.split(".", 1)
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def token_client(user) -> APIClient:
    """An API client that authenticates as ``user`` with a fresh API token."""
    _, key = ApiToken.issue(user, "test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")


@pytest.fixture
def admin_api(admin_user) -> APIClient:
    return token_client(admin_user)


@pytest.fixture
def plain_user(django_user_model):
    """A signed-in person without any rights."""
    return django_user_model.objects.create_user("nobody", "nobody@example.com", "pw-nobody-123")


@pytest.fixture
def plain_api(plain_user) -> APIClient:
    return token_client(plain_user)
