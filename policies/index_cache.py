"""The compiled policy index: built from the database, cached per process, invalidated through a revision.

:func:`get_index` is the one way to the index the engine matches against. Any save or delete of a policy, scope,
notification method or integration gives the configuration a new revision in the same transaction (the signals
connected by :func:`connect_signals`, which ``PoliciesConfig.ready`` calls); bulk ``QuerySet.update()`` calls send
no signal and must call :func:`invalidate`. The services make their changes in
:func:`kcs.revisions.configuration_change`, which locks the revision row before anything else (no deadlock between
two changes at once). Each process compares the revision (one primary-key read) before using
its cached index and rebuilds it when it changed.
"""

from __future__ import annotations

import threading

from django.db.models.signals import m2m_changed, post_delete, post_save

from kcs import revisions
from kcs.revisions import POLICY_INDEX
from notifications.channels import channel_for
from notifications.models import NotificationIntegration
from policies.engine import CompiledPolicy, CompiledScope, PolicyIndex
from policies.models import NotificationMethod, ResponsePolicy, Scope

REVISION_NAME = POLICY_INDEX
_lock = threading.Lock()
_cached: PolicyIndex | None = None


def read_revision() -> int:
    """The configuration's current revision (0 before the first change)."""
    return revisions.read_revision(REVISION_NAME)


def invalidate() -> None:
    """Give the configuration a new revision (inside the caller's transaction, so it is visible exactly when the
    change is)."""
    revisions.renew_revision(REVISION_NAME)


def build_index(revision: int = 0) -> PolicyIndex:
    """Compile every enabled policy with its scopes and enabled integrations (five queries).

    The enabled integrations come along as the index's ``outputs`` (channels, by id): any change to an integration
    gives a new revision, so evaluation can take them from here instead of reading them for every batch.
    """
    policies = list(
        ResponsePolicy.objects.filter(enabled=True).values_list(
            "id", "name", "trigger", "min_severity", "repeat_interval", "updated_at"
        )
    )
    scope_ids: dict[int, list[int]] = {}
    for policy_id, scope_id in ResponsePolicy.scopes.through.objects.filter(responsepolicy__enabled=True).values_list(
        "responsepolicy_id", "scope_id"
    ):
        scope_ids.setdefault(policy_id, []).append(scope_id)
    integrations: dict[int, list[int]] = {}
    for policy_id, integration_id in (
        NotificationMethod.objects.filter(policy__enabled=True, integration__enabled=True)
        .order_by("policy_id", "position", "id")
        .values_list("policy_id", "integration_id")
    ):
        integrations.setdefault(policy_id, []).append(integration_id)
    scopes = [
        CompiledScope.build(
            row["id"], row["name"], row["is_global"], {name: row[name] for name in Scope.PATTERN_FIELDS}
        )
        for row in Scope.objects.values("id", "name", "is_global", *Scope.PATTERN_FIELDS)
    ]
    compiled = [
        CompiledPolicy(
            id=pid,
            name=name,
            trigger=trigger,
            min_severity=min_severity,
            repeat_interval=repeat_interval,
            integration_ids=tuple(integrations.get(pid, ())),
            scope_ids=tuple(scope_ids.get(pid, ())),
            changed_at=updated_at,
        )
        for pid, name, trigger, min_severity, repeat_interval, updated_at in policies
    ]
    used = {integration_id for ids in integrations.values() for integration_id in ids}
    outputs = {row.pk: channel_for(row) for row in NotificationIntegration.objects.filter(pk__in=used, enabled=True)}
    return PolicyIndex(compiled, scopes, revision=revision, outputs=outputs)


def get_index() -> PolicyIndex:
    """The compiled index of enabled policies for this process, rebuilt when the configuration changed."""
    global _cached
    revision = read_revision()
    cached = _cached
    if cached is not None and cached.revision == revision:
        return cached
    with _lock:
        if _cached is None or _cached.revision != revision:
            _cached = build_index(revision)
        return _cached


def _on_change(sender, **kwargs) -> None:
    invalidate()


def _on_scopes_changed(sender, action: str, **kwargs) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        invalidate()


def connect_signals() -> None:
    """Invalidate the index on every configuration change, whoever makes it (screens, API, admin, shell)."""
    for model in (ResponsePolicy, Scope, NotificationMethod, NotificationIntegration):
        post_save.connect(_on_change, sender=model, dispatch_uid=f"policy-index-save-{model.__name__}")
        post_delete.connect(_on_change, sender=model, dispatch_uid=f"policy-index-delete-{model.__name__}")
    m2m_changed.connect(_on_scopes_changed, sender=ResponsePolicy.scopes.through, dispatch_uid="policy-index-m2m")
