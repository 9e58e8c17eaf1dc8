"""Shared fixtures: users with and without rights, authenticated API clients, and a guard against the internet.

Objects are built by tests/factories.py; helpers that are not fixtures live there or in tests/helpers.py.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory, global_scope, token_client

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

    global_scope()
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


@pytest.fixture(autouse=True)
def fresh_policy_index(monkeypatch):
    """Each test starts without a compiled policy index: the revision counter is rolled back with the test's
    transaction, so the next test may reach the same number with different policies."""
    monkeypatch.setattr("policies.index_cache._cached", None)


def _is_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool(marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))


@pytest.fixture
def admin_user(db):
    return UserFactory(username="root", superuser=True)


@pytest.fixture
def admin_api(admin_user) -> APIClient:
    return token_client(admin_user)


@pytest.fixture
def plain_user(db):
    """A person without any rights."""
    return UserFactory(username="nobody")


@pytest.fixture
def plain_api(plain_user) -> APIClient:
    return token_client(plain_user)
