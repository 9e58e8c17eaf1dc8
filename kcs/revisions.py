"""Revisions of cached configuration, and configuration changes one at a time.

Each cached, compiled configuration (the policy index, the risk acceptance index) has a revision row
(:class:`kcs.models.ConfigRevision`) that every change renews in its own transaction; a process compares the
revision (:func:`read_revision`, one primary-key read) before using its cached copy and rebuilds it when it changed.

Configuration changes, one at a time: the transaction of every change of policies, scopes, methods and
integrations locks the configuration's revision row (:class:`kcs.models.ConfigRevision`) *first*.

Each such change also renews that row (the policy index's revision, in the same transaction). Without the lock
first, two changes at once could take their locks in opposite orders and deadlock: an integration's update locks
the integration and then the revision row, while a policy's update renews the revision and then, inserting its
notification methods, needs a share lock on that integration (PostgreSQL ended one of them: a 500). Taken first, the
revision row makes concurrent changes wait their turn; configuration changes are rare and short.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction

from kcs.models import ConfigRevision

POLICY_INDEX = "policy_index"  # the revision of the compiled policy index (policies.index_cache)
SILENCE_INDEX = "silence_index"  # the revision of the compiled silences (policies.silence_index)
ACCEPTANCES = "risk_acceptances"  # the revision of the risk acceptance index (events.acceptance_index)
OUTPUTS = "outputs"  # the revision of the integrations' settings (notifications.siem caches the SIEM outputs)


_together = threading.local()


def read_revision(name: str = POLICY_INDEX) -> int:
    """The current revision of ``name`` (0 before its first change).

    Raw SQL: this runs before every evaluation, and building the ORM query cost ten times running it. Inside
    :func:`read_together`, answered from one read of every revision.
    """
    table = connection.ops.quote_name(ConfigRevision._meta.db_table)
    if getattr(_together, "depth", 0):
        if _together.values is None:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT name, value FROM {table}")
                _together.values = dict(cursor.fetchall())
        return _together.values.get(name, 0)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT value FROM {table} WHERE name = %s", [name])
        row = cursor.fetchone()
    return row[0] if row else 0


@contextmanager
def read_together() -> Iterator[None]:
    """Within the block, the first :func:`read_revision` reads every revision (a handful of rows) in one query and
    the later ones answer from it.

    For one short unit of work that checks several caches (an evaluation checks the policy index, the risk
    acceptances, the silences and the SIEM outputs): one round trip instead of four. The revisions are those of the
    block's start, as if every change committed during the block had committed just after it; the next block sees
    them.
    """
    depth = getattr(_together, "depth", 0)
    if not depth:
        _together.values = None
    _together.depth = depth + 1
    try:
        yield
    finally:
        _together.depth = depth
        if not depth:
            _together.values = None


def renew_revision(name: str = POLICY_INDEX) -> None:
    """Give ``name`` a new revision (inside the caller's transaction, so it is visible exactly when the change is).

    A random number rather than a counter: a transaction that renewed and then rolled back must not leave some
    process holding a copy built under a number that a later, different change would reach again.
    """
    value = secrets.randbits(62)
    with transaction.atomic():
        if not ConfigRevision.objects.filter(name=name).update(value=value):
            ConfigRevision.objects.update_or_create(name=name, defaults={"value": value})


def lock_revision(name: str = POLICY_INDEX) -> None:
    """Lock the revision row ``name`` until the current transaction ends (creating it, at 0, when missing)."""
    rows = ConfigRevision.objects.select_for_update().filter(name=name)
    if not rows.values_list("pk", flat=True):
        ConfigRevision.objects.get_or_create(name=name)  # 0: what read_revision() answers for a missing row
        list(rows.values_list("pk", flat=True))  # another transaction may have created it first: wait for it


@contextmanager
def configuration_change(name: str = POLICY_INDEX) -> Iterator[None]:
    """A transaction for a change of the configuration revisioned as ``name``, holding its revision lock from its
    start."""
    with transaction.atomic():
        lock_revision(name)
        yield
