"""Writing response policies and scopes: every change checked, stored and logged in one transaction.

The screens, the API and the admin all call these functions, so a change and its security event log entry are
stored together or not at all, and the same rules (:mod:`policies.validation`) guard every entry point. Each
function takes the ``request`` only to tell :func:`kcs.audit.record` who made the change and from where.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import IntegrityError
from django.utils import timezone

from events.models import SEVERITY_SLUG_BY_VALUE
from kcs import audit
from kcs.models import AuditAction
from kcs.revisions import configuration_change
from kcs.rights import MANAGE_GLOBAL_SCOPE
from kcs.visibility import Visibility, visibility_of
from policies import preview
from policies.models import NotificationMethod, ResponsePolicy, Scope
from policies.validation import (
    MethodChoice,
    ProtectedObject,
    ValidationFailed,
    check_policy,
    check_scope,
    check_scopes_held,
    normalize_policy,
)

REQUIRED_POLICY_VALUES = ("name", "scopes", "trigger", "notification_methods")
POLICY_FIELDS = ("name", "description", "enabled", "trigger", "min_severity", "repeat_interval")
# How many policy names a refusal lists before "and N more".
NAMES_SHOWN = 5


def policy_snapshot(policy: ResponsePolicy) -> dict[str, Any]:
    """A policy as the security event log shows it: names rather than ids, severities as slugs."""
    return {
        "name": policy.name,
        "description": policy.description,
        "enabled": policy.enabled,
        "trigger": policy.trigger,
        "min_severity": SEVERITY_SLUG_BY_VALUE.get(policy.min_severity),
        "scopes": sorted(scope.name for scope in policy.scopes.all()),
        "notification_methods": [
            method.integration.name for method in policy.notification_methods.select_related("integration")
        ],
        "repeat_interval": policy.repeat_interval,
    }


def scope_snapshot(scope: Scope) -> dict[str, Any]:
    return {"name": scope.name, "description": scope.description} | {
        field: list(getattr(scope, field)) for field in Scope.PATTERN_FIELDS
    }


def _as_deleted(snapshot: dict[str, Any]) -> dict[str, list[Any]]:
    """What a deleted object was, in the log's ``{field: [old, new]}`` shape, so it can be recreated."""
    return {field: [value, None] for field, value in snapshot.items()}


def policy_values(policy: ResponsePolicy) -> dict[str, Any]:
    """The stored values of ``policy`` in the shape :func:`create_policy` takes (a base for partial updates)."""
    values = {field: getattr(policy, field) for field in POLICY_FIELDS}
    values["scopes"] = list(policy.scopes.all())
    values["notification_methods"] = [
        MethodChoice(method.integration) for method in policy.notification_methods.select_related("integration")
    ]
    return values


def _check_scopes_held(errors, visibility: Visibility | None, scopes, scopes_before: Iterable[Scope]) -> None:
    if visibility is not None and scopes:
        for message in check_scopes_held(scopes, visibility.held_ids, {scope.pk for scope in scopes_before}):
            errors.setdefault("scopes", []).append(message)


def _validated_policy(
    values: dict[str, Any],
    instance: ResponsePolicy | None,
    visibility: Visibility | None = None,
    scopes_before: Iterable[Scope] = (),
) -> dict[str, Any]:
    """The checked, normalized ``values``; ``visibility``: the editor's, who may give the policy only scopes they
    hold (those it already has, ``scopes_before``, may stay). Raises :class:`ValidationFailed`."""
    errors, rows = check_policy(values, instance)
    _check_scopes_held(errors, visibility, values.get("scopes"), scopes_before)
    for key in REQUIRED_POLICY_VALUES:
        if key not in values:
            errors.setdefault(key, []).append("This field is required.")
    if errors or rows:
        raise ValidationFailed(errors, rows)
    return normalize_policy(values)


def preview_policy(
    values: dict[str, Any], days: int, policy: ResponsePolicy | None = None, visibility: Visibility | None = None
) -> dict[str, Any]:
    """What the draft ``values`` would have done over the last ``days`` (writes nothing; see
    :mod:`policies.preview`), and, when ``policy`` is the saved policy being edited, the same for its saved version
    under ``"saved"``. The draft is checked by the same rules as a save, except that its name may be anything;
    ``visibility``: the person's, whose draft may use only scopes they hold (or the policy already has).

    Raises :class:`ValidationFailed` with field-level messages.
    """
    draft = {key: value for key, value in values.items() if key != "name"}
    if policy is not None:
        draft = {key: value for key, value in policy_values(policy).items() if key != "name"} | draft
    errors, rows = check_policy(draft, policy)
    _check_scopes_held(errors, visibility, draft.get("scopes"), policy.scopes.all() if policy is not None else ())
    for key in REQUIRED_POLICY_VALUES:
        if key != "name" and key not in draft:
            errors.setdefault(key, []).append("This field is required.")
    if days not in preview.DAYS_CHOICES:
        errors.setdefault("days", []).append(f"Choose one of: {', '.join(map(str, preview.DAYS_CHOICES))}.")
    if errors or rows:
        raise ValidationFailed(errors, rows)
    draft = normalize_policy(draft | {"name": values.get("name") or (policy.name if policy else "")})
    now = timezone.now()
    result = preview.preview(draft, days, policy.pk if policy else None, now)
    saved = None
    if policy is not None:
        saved = preview.preview(normalize_policy(policy_values(policy)), days, policy.pk, now)
    return result | {"days": days, "saved": saved}


def _duplicate_name(label: str, name: str) -> ValidationFailed:
    # Two people saving the same new name at once: the check passed for both, the unique index stops one.
    return ValidationFailed({"name": [f"A {label} named “{name}” already exists."]})


def _write_policy(policy: ResponsePolicy, values: dict[str, Any]) -> None:
    for field in POLICY_FIELDS:
        if field in values:
            setattr(policy, field, values[field])
    policy.save()
    if "scopes" in values:
        policy.scopes.set(values["scopes"])
    if "notification_methods" in values:
        methods: Sequence[MethodChoice] = values["notification_methods"]
        policy.notification_methods.all().delete()
        NotificationMethod.objects.bulk_create(
            NotificationMethod(policy=policy, integration=method.integration, position=position)
            for position, method in enumerate(methods)
        )


GLOBAL_SCOPE_MESSAGE = (
    "Attaching a policy to the Global scope, or detaching it, needs the right Manage the Global scope."
)


def _check_global_scope(request, scopes_before: Iterable[Scope], values: dict[str, Any]) -> None:
    """Attaching a policy to the Global scope or detaching it needs *manage the Global scope*, from the screens,
    the API and the admin alike (system jobs, with no request user, are not asked)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or "scopes" not in values:
        return
    was_global = any(scope.is_global for scope in scopes_before)
    is_global = any(scope.is_global for scope in values["scopes"])
    if was_global != is_global and not user.has_perm(MANAGE_GLOBAL_SCOPE):
        raise ValidationFailed({"scopes": [GLOBAL_SCOPE_MESSAGE]})


def _visibility(request) -> Visibility | None:
    """The visibility of the person behind ``request``; None for system jobs (no person: not restricted)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return visibility_of(request)


def create_policy(request, values: dict[str, Any], policy: ResponsePolicy | None = None) -> ResponsePolicy:
    """Create a policy from parsed values (see :func:`policies.validation.check_policy` for the keys).

    ``policy``: an unsaved instance to store (the admin's, which its page then shows); a new one by default.
    Raises :class:`ValidationFailed` with field-level messages; then nothing is stored.
    """
    values = _validated_policy(values, None, _visibility(request))
    _check_global_scope(request, [], values)
    user = getattr(request, "user", None)
    policy = policy if policy is not None else ResponsePolicy()
    policy.created_by = user if user is not None and user.is_authenticated else None
    try:
        with configuration_change():
            _write_policy(policy, values)
            audit.record(request, AuditAction.CREATE, policy, audit.diff({}, policy_snapshot(policy)))
    except IntegrityError:
        raise _duplicate_name("policy", values["name"]) from None
    return policy


def update_policy(request, policy: ResponsePolicy, values: dict[str, Any]) -> ResponsePolicy:
    """Change the given fields of ``policy`` (others keep their stored value) and log the changed ones.

    A change of ``enabled`` alone is logged as enable/disable; a save without any change logs nothing.
    Raises :class:`ValidationFailed`; then nothing is stored.
    """
    stored = policy_values(ResponsePolicy.objects.get(pk=policy.pk))
    merged = stored | values
    if "trigger" in values and "min_severity" not in values:
        # A new trigger without a threshold of its own takes its default: the old one may not even apply.
        merged["min_severity"] = None
    values = _validated_policy(merged, policy, _visibility(request), stored["scopes"])
    _check_global_scope(request, stored["scopes"], values)
    try:
        with configuration_change():
            # From the stored row (locked), not from ``policy``: a bound ModelForm has already changed the instance.
            before = policy_snapshot(ResponsePolicy.objects.select_for_update().get(pk=policy.pk))
            _write_policy(policy, values)
            changes = audit.diff(before, policy_snapshot(policy))
            if changes:
                audit.record(request, action_for(changes), policy, changes)
    except IntegrityError:
        raise _duplicate_name("policy", values["name"]) from None
    return policy


def action_for(changes: dict[str, Any]) -> AuditAction:
    if set(changes) == {"enabled"}:
        return AuditAction.ENABLE if changes["enabled"][1] else AuditAction.DISABLE
    return AuditAction.UPDATE


def set_policy_enabled(request, policy: ResponsePolicy, enabled: bool) -> bool:
    """Enable or disable ``policy``; returns whether its state changed (a repeated click changes nothing)."""
    with configuration_change():
        # Read under a row lock so two people clicking at once log one change, not two contradicting ones.
        current = ResponsePolicy.objects.select_for_update().only("enabled").get(pk=policy.pk).enabled
        policy.enabled = enabled
        if current == enabled:
            return False
        policy.save(update_fields=["enabled", "updated_at"])
        audit.record(request, action_for({"enabled": [current, enabled]}), policy, {"enabled": [current, enabled]})
    return True


def delete_policy(request, policy: ResponsePolicy) -> None:
    """Delete ``policy``; the log keeps what it was. Its past notifications stay, naming it."""
    with configuration_change():
        audit.record(request, AuditAction.DELETE, policy, _as_deleted(policy_snapshot(policy)))
        policy.delete()


def _refuse_global(scope: Scope) -> None:
    if scope.is_global:
        raise ProtectedObject("The Global scope is built in and cannot be changed or deleted.")


def _validated_scope(values: dict[str, Any], instance: Scope | None) -> dict[str, Any]:
    errors, cleaned = check_scope(values, instance)
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def create_scope(request, values: dict[str, Any], scope: Scope | None = None) -> Scope:
    """Create a scope from ``{name, description, clusters, namespaces, registries, repositories}``.

    ``scope``: an unsaved instance to store (the admin's); a new one by default. May raise :class:`ValidationFailed`.
    """
    values = _validated_scope(values, None)
    scope = scope if scope is not None else Scope()
    for field, value in values.items():
        setattr(scope, field, value)
    try:
        with configuration_change():
            scope.save()
            audit.record(request, AuditAction.CREATE, scope, audit.diff({}, scope_snapshot(scope)))
    except IntegrityError:
        raise _duplicate_name("scope", values["name"]) from None
    return scope


def update_scope(request, scope: Scope, values: dict[str, Any]) -> Scope:
    """Change the given fields of ``scope``. Raises :class:`ProtectedObject` for Global, else may raise
    :class:`ValidationFailed`."""
    _refuse_global(scope)
    values = _validated_scope(values, scope)
    try:
        with configuration_change():
            before = scope_snapshot(Scope.objects.select_for_update().get(pk=scope.pk))
            for field, value in values.items():
                setattr(scope, field, value)
            scope.save()
            changes = audit.diff(before, scope_snapshot(scope))
            if changes:
                audit.record(request, AuditAction.UPDATE, scope, changes)
    except IntegrityError:
        raise _duplicate_name("scope", values["name"]) from None
    return scope


def policies_using(scope: Scope) -> list[str]:
    """Names of the policies that use ``scope``."""
    return list(scope.policies.order_by("name").values_list("name", flat=True))


def scope_in_use_message(names: Sequence[str]) -> str:
    shown = ", ".join(f"“{name}”" for name in names[:NAMES_SHOWN])
    more = f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else ""
    return f"This scope is used by {shown}{more}. Remove it from those policies first."


def delete_scope(request, scope: Scope) -> None:
    """Delete ``scope``. Refused (:class:`ProtectedObject`) for Global and while a policy uses it: silently
    dropping it from a policy would change what that policy acts on."""
    _refuse_global(scope)
    with configuration_change():
        names = policies_using(scope)
        if names:
            raise ProtectedObject(scope_in_use_message(names))
        audit.record(request, AuditAction.DELETE, scope, _as_deleted(scope_snapshot(scope)))
        scope.delete()
