"""Shared fixtures: users with and without rights, authenticated API clients, a guard against the internet, and a
test database that is safe to reuse between runs.

Objects are built by tests/factories.py; helpers that are not fixtures live there or in tests/helpers.py.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import OperationalError, connections
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
    """Re-create what data migrations seed (Global scope, system roles): a transactional test's flush removed it."""
    import importlib

    from django.apps import apps

    global_scope()
    # The seed functions flip AppConfig.models_module for create_permissions(); keep the real registry intact.
    saved = {config.label: config.models_module for config in apps.get_app_configs()}
    try:
        for module, function in (
            # The system roles (today's groups became roles there; their old seeds are history).
            ("kcs.migrations.0006_system_roles", "seed"),
        ):
            getattr(importlib.import_module(module), function)(apps, None)
    finally:
        for config in apps.get_app_configs():
            config.models_module = saved[config.label]


# --- reusing the test database -----------------------------------------------------------------------------------
# pytest.ini passes --reuse-db: a PostgreSQL test database is kept between runs and Django's migrate applies only the
# migrations it has not recorded. Two things would go wrong with that alone, and are handled here:
# - a migration edited in place (or another branch's migrations) is never applied again: the kept database is marked
#   with a digest of every migration file and re-created when they differ;
# - rows left by the previous run (a transactional test's flush removes the seeded rows; an interrupted run leaves
#   its own): a reused database is flushed and re-seeded before the first test.
# CI passes --create-db anyway (.ci/run). SQLite test databases live in memory, so there is nothing to reuse.


def _migrations_mark() -> str:
    root = Path(settings.BASE_DIR)
    digest = hashlib.sha256()
    for path in sorted(root.glob("*/migrations/*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return f"kcs-migrations:{digest.hexdigest()[:32]}"


@pytest.fixture(scope="session")
def _kept_test_database(django_db_modify_db_settings, django_db_blocker) -> dict | None:
    """The PostgreSQL test database: its ``name`` and its ``mark`` ("" when unmarked, None when it does not exist);
    None for SQLite."""
    connection = connections["default"]
    if connection.vendor != "postgresql":
        return None
    name = connection.creation._get_test_db_name()
    probe = connection.__class__({**connection.settings_dict, "NAME": name}, alias="kept-test-database")
    with django_db_blocker.unblock():
        try:
            with probe.cursor() as cursor:
                cursor.execute(
                    "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()"
                )
                mark = cursor.fetchone()[0] or ""
        except OperationalError:  # not created yet
            mark = None
        finally:
            probe.close()
    return {"name": name, "mark": mark}


@pytest.fixture(scope="session")
def django_db_createdb(django_db_createdb, django_db_keepdb, _kept_test_database) -> bool:
    """--reuse-db re-creates a kept test database that was migrated with other migration files."""
    if django_db_createdb or not django_db_keepdb or _kept_test_database is None:
        return django_db_createdb
    return _kept_test_database["mark"] not in (None, _migrations_mark())


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_createdb, django_db_keepdb, _kept_test_database, django_db_blocker):
    """A reused test database starts as a freshly migrated one; a kept one is marked with its migrations."""
    connection = connections["default"]
    if not django_db_keepdb or _kept_test_database is None:
        return
    if connection.settings_dict["NAME"] != _kept_test_database["name"]:
        return  # no test here uses the database: it was not set up, and the one configured is not the test one
    with django_db_blocker.unblock():
        if not django_db_createdb:
            call_command("flush", interactive=False, verbosity=0)
            restore_migration_data()
        with connection.cursor() as cursor:
            cursor.execute(
                f"COMMENT ON DATABASE {connection.ops.quote_name(_kept_test_database['name'])} "
                f"IS '{_migrations_mark()}'"
            )


@pytest.fixture(autouse=True)
def migration_data(request):
    """Transactional tests (live server, real worker) start with the seeded rows like every other test."""
    if {"transactional_db", "live_server"} & set(request.fixturenames) or _is_transactional(request):
        request.getfixturevalue("transactional_db")
        restore_migration_data()


@pytest.fixture(autouse=True)
def fresh_policy_index(monkeypatch):
    """Each test starts without a compiled policy index or risk acceptance index: the revisions are rolled back
    with the test's transaction, so the next test may reach the same number with different rows."""
    monkeypatch.setattr("policies.index_cache._cached", None)
    monkeypatch.setattr("policies.silence_index._cached", None)
    monkeypatch.setattr("notifications.siem._cached", None)  # the SIEM outputs, cached the same way
    monkeypatch.setattr("events.acceptance_index._cached", None)


@pytest.fixture(autouse=True)
def fresh_sign_in_and_throttle_state(request, django_db_blocker):
    """No test sees another's failed sign-ins, lockouts or counted API requests: the cache (throttle counters) is
    emptied around each test, and after a test that used the database axes' attempts and failure log are reset
    (a test's rollback removes them too; a row committed by a live-server test would not be)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
    uses_db = bool({"db", "transactional_db", "live_server"} & set(request.fixturenames)) or (
        request.node.get_closest_marker("django_db") is not None
    )
    if uses_db:
        from axes.handlers.proxy import AxesProxyHandler

        with django_db_blocker.unblock():
            AxesProxyHandler.reset_attempts()
            AxesProxyHandler.reset_failure_logs()


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
