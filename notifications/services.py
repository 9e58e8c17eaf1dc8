"""Changing notification outputs and acting on the delivery log: every change stored with its audit entry.

The screens, the API and the admin call these functions, so the same rules apply everywhere and a change and its
security event log entry are stored together or not at all. Secrets are written encrypted and never logged: the
audit entry only says which secret changed. An integration's settings are validated by its kind's form, bound to
form data by :func:`form_for` (the screens) or to the API's ``{name, enabled, config, secrets}`` shape by
:func:`validate_integration` (the API, the admin); :func:`write_integration` stores the result.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from events.models import SecurityEvent
from kcs import audit, bounds
from kcs.models import AuditAction
from kcs.queueing import enqueue_on_commit
from kcs.revisions import configuration_change
from kcs.visibility import Visibility
from notifications.channels import CHANNELS, Delivery, TransportError, channel_for
from notifications.delivery import DELIVER_TASK
from notifications.forms import IntegrationForm
from notifications.integration_users import policies_using
from notifications.messages import MessageContext
from notifications.models import Notification, NotificationIntegration, NotificationStatus
from notifications.scoping import visible_policy_names
from notifications.secrets import MASK, UNREADABLE, SecretsUnreadable, decrypt, encrypt, readable, rotate

logger = logging.getLogger(__name__)
NAMES_SHOWN = 5


@dataclass(frozen=True)
class IntegrationSettings:
    """An integration's validated settings, ready to store (from a valid form: :func:`validate_integration`,
    :func:`save_integration`). ``secrets``: every secret to store, new values over kept ones."""

    kind: str
    name: str
    enabled: bool
    config: dict[str, Any]
    secrets: dict[str, str] = field(repr=False)


class InvalidIntegration(Exception):
    """Settings that break their kind's rules; nothing was stored. ``errors`` holds the messages by place, in the
    API's shape: ``{"name": [...], "config": {"url": [...]}, "secrets": {"token": [...]}, "non_field_errors": [...]}``
    (email's ``config.smtp`` nests one level deeper)."""

    def __init__(self, errors: dict[str, Any]):
        super().__init__(errors)
        self.errors = errors

    def messages(self) -> list[tuple[tuple[str, ...], str]]:
        """Each message with its place, e.g. ``(("config", "url"), "Enter a valid URL.")``."""

        def walk(node: dict[str, Any], path: tuple[str, ...]):
            for key, value in node.items():
                if isinstance(value, dict):
                    yield from walk(value, (*path, key))
                else:
                    yield from (((*path, key), str(message)) for message in value)

        return list(walk(self.errors, ()))


class IntegrationInUse(Exception):
    """Deleting an integration that response policies still use. ``policies`` names those the person sees;
    ``hidden`` counts the others (outside their scopes: named, they would leak, but they still hold the deletion)."""

    def __init__(self, integration: NotificationIntegration, policies: list[str], hidden: int = 0):
        self.integration, self.policies, self.hidden = integration, policies, hidden
        super().__init__(_in_use_message(integration.name, policies, hidden))

    def seen_by(self, visibility: Visibility) -> IntegrationInUse:
        """The same refusal told to a person: only the policies they see are named."""
        seen = visible_policy_names(visibility, self.policies)
        return IntegrationInUse(self.integration, seen, self.hidden + len(self.policies) - len(seen))


def _in_use_message(name: str, policies: list[str], hidden: int) -> str:
    total = len(policies) + hidden
    policy_word = "policy" if total == 1 else "policies"
    if not policies:
        return (
            f"“{name}” is used by {hidden} response {policy_word} outside your scopes. Someone who holds "
            f"{'its' if total == 1 else 'their'} scopes must take the integration out of {'it' if total == 1 else 'them'} "
            "first."
        )
    named = [f"“{policy}”" for policy in policies[:NAMES_SHOWN]]
    if len(policies) > NAMES_SHOWN:
        named.append(f"{len(policies) - NAMES_SHOWN} more")
    if hidden:
        named.append(f"{hidden} outside your scopes")
    listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
    return (
        f"“{name}” is used by the response {policy_word} {listed}. "
        f"Remove it from {'that policy' if total == 1 else 'those policies'} first."
    )


def stored_secrets(integration: NotificationIntegration | None) -> dict[str, str]:
    """The integration's secrets, or none when they cannot be read (a person must enter them again)."""
    if integration is None:
        return {}
    try:
        return decrypt(integration.secrets_encrypted)
    except SecretsUnreadable:
        return {}


def secrets_error(integration: NotificationIntegration) -> str | None:
    """Why the integration's stored secrets cannot be used (no key can read them), or None when they can."""
    return None if readable(integration.secrets_encrypted) else UNREADABLE


def rotate_secrets() -> tuple[int, list[str]]:
    """Re-encrypt every integration's secrets with the first key of ``KCS_ENCRYPTION_KEY``.

    Returns how many were re-encrypted and the names of those no key can read (left as they are).
    """
    rotated, unreadable = 0, []
    with transaction.atomic():
        integrations = NotificationIntegration.objects.select_for_update().exclude(secrets_encrypted="")
        for integration in integrations.only("pk", "name", "secrets_encrypted").order_by("pk"):
            try:
                token = rotate(integration.secrets_encrypted)
            except SecretsUnreadable:
                unreadable.append(integration.name)
                continue
            # update(), not save(): the same secrets, not a change of settings (the policy index stays as it is).
            NotificationIntegration.objects.filter(pk=integration.pk).update(secrets_encrypted=token)
            rotated += 1
    logger.info(
        "re-encrypted the secrets of %d integrations with the first key; %d unreadable", rotated, len(unreadable)
    )
    return rotated, unreadable


def snapshot(integration: NotificationIntegration) -> dict[str, Any]:
    """What the security event log shows of an integration: its settings, and secrets only as masks."""
    return {
        "name": integration.name,
        "kind": integration.kind,
        "enabled": integration.enabled,
        "config": integration.config,
        "secrets": {name: MASK for name in sorted(stored_secrets(integration))},
    }


def form_for(kind: str, data=None, instance: NotificationIntegration | None = None, **kwargs) -> IntegrationForm:
    """The settings form of ``kind`` (bound to ``data`` when given), aware of the secrets already stored (and of
    stored secrets no key can read)."""
    unreadable = instance is not None and secrets_error(instance) is not None
    return CHANNELS[kind].form_class(
        data, instance=instance, stored_secrets=stored_secrets(instance), secrets_unreadable=unreadable, **kwargs
    )


def _settings(kind: str, form: IntegrationForm, stored: dict[str, str]) -> IntegrationSettings:
    """What a valid form of ``kind`` says to store; ``stored``: the secrets stored so far."""
    return IntegrationSettings(
        kind=kind,
        name=form.cleaned_data["name"],
        enabled=form.cleaned_data["enabled"],
        config=form.to_config(),
        secrets=form.to_secrets(stored),
    )


def validate_integration(
    kind: str, values: dict[str, Any], instance: NotificationIntegration | None = None
) -> IntegrationSettings:
    """Validate an integration given as ``{name, enabled, config, secrets}`` (the API's and the stored shape).

    ``config`` is complete (merge a partial change with the stored one first); ``secrets`` left out, blank or sent
    back as the mask (``"********"``, as answers show them) keep the stored ones. The kind's form applies the rules,
    so the screens, the API and the admin refuse the same input with the same messages. Raises
    :class:`InvalidIntegration`, also for a ``kind`` that is not registered and for ``config``/``secrets`` keys the
    kind does not have.
    """
    if kind not in CHANNELS:
        raise InvalidIntegration({"kind": [f"“{kind}” is not an output kind."]})
    form_class = CHANNELS[kind].form_class
    config = values.get("config") or {}
    secrets = {name: value for name, value in (values.get("secrets") or {}).items() if value != MASK}
    errors: dict[str, Any] = {}
    for unknown in sorted(set(config) - set(form_class.config_keys())):
        _nest(errors, ("config", unknown), [f"Unknown setting for {kind}."])
    for unknown in sorted(set(secrets) - set(form_class.secret_fields)):
        derived = unknown in form_class.derived_secrets
        _nest(errors, ("secrets", unknown), ["Set through config." if derived else f"Unknown secret for {kind}."])
    # Text no database can hold (a lone surrogate from a JSON escape) is refused before the form, whose fields take
    # text as given and may fail on it.
    unstorable = {key: problem for key, value in config.items() if (problem := bounds.json_text_problem(value))}
    if unstorable:
        for key, problem in unstorable.items():
            _nest(errors, ("config", key), [problem])
        raise InvalidIntegration(errors)
    data = {
        "name": values.get("name", ""),
        "enabled": values.get("enabled", True),
        **form_class.data_from_config(config),
        **secrets,
    }
    stored = stored_secrets(instance)
    unreadable = instance is not None and secrets_error(instance) is not None
    form = form_class(data, instance=instance, stored_secrets=stored, secrets_unreadable=unreadable)
    for name, messages in form.errors.items():
        _nest(errors, form_class.error_path(name), list(messages))
    if errors:
        raise InvalidIntegration(errors)
    return _settings(kind, form, stored)


def _nest(errors: dict[str, Any], path: tuple[str, ...], messages: list[str]) -> None:
    node = errors
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node.setdefault(path[-1], []).extend(messages)


def save_integration(
    request, kind: str, form: IntegrationForm, instance: NotificationIntegration | None = None
) -> NotificationIntegration:
    """Create (no ``instance``) or change an integration from a valid bound form of ``kind`` (see :func:`form_for`),
    as :func:`write_integration` does."""
    return write_integration(request, _settings(kind, form, stored_secrets(instance)), instance)


def write_integration(
    request, settings: IntegrationSettings, instance: NotificationIntegration | None = None
) -> NotificationIntegration:
    """Create (no ``instance``) or change an integration from validated settings, with its audit entry, in one
    transaction. The audit entry says which secrets changed, never their values."""
    with configuration_change():
        if instance is None:
            integration, before, secrets_before = NotificationIntegration(kind=settings.kind), {}, {}
        else:
            # The stored row, locked: ``instance`` may already carry the new values (the admin's ModelForm does).
            integration = NotificationIntegration.objects.select_for_update().get(pk=instance.pk)
            if integration.kind != settings.kind:
                raise ValueError("The kind of an integration cannot change.")
            before, secrets_before = snapshot(integration), stored_secrets(integration)
        integration.name = settings.name
        integration.enabled = settings.enabled
        integration.config = settings.config
        integration.secrets_encrypted = encrypt(settings.secrets)
        integration.save()
        changes = audit.diff(before, snapshot(integration))
        if instance is None:
            audit.record(request, AuditAction.CREATE, integration, changes)
            return integration
        changed_secrets = sorted(
            name
            for name in set(secrets_before) | set(settings.secrets)
            if secrets_before.get(name) != settings.secrets.get(name)
        )
        if changed_secrets:
            # The values are never logged; only which secrets were replaced or removed.
            changes["secrets"] = [before.get("secrets"), {name: "changed" for name in changed_secrets}]
        if changes:
            action = AuditAction.UPDATE
            if set(changes) == {"enabled"}:
                action = AuditAction.ENABLE if integration.enabled else AuditAction.DISABLE
            audit.record(request, action, integration, changes)
    return integration


def set_enabled(request, integration: NotificationIntegration, enabled: bool) -> bool:
    """Enable or disable an output (the screens' and the admin's toggle), logged; returns whether it changed."""
    with configuration_change():
        # Read under a row lock so two people clicking at once log one change, not two.
        current = NotificationIntegration.objects.select_for_update().only("enabled").get(pk=integration.pk).enabled
        integration.enabled = enabled
        if current == enabled:
            return False
        integration.save(update_fields=["enabled", "updated_at"])
        audit.record(
            request,
            AuditAction.ENABLE if enabled else AuditAction.DISABLE,
            integration,
            {"enabled": [current, enabled]},
        )
    return True


def delete_integration(request, integration: NotificationIntegration) -> None:
    """Delete an output no policy uses; raises :class:`IntegrationInUse` naming the policies otherwise.

    Its past notifications stay in the delivery log (they keep the integration's name).
    """
    with configuration_change():
        users = policies_using(integration)
        if users:
            raise IntegrationInUse(integration, users)
        audit.record(request, AuditAction.DELETE, integration, audit.diff(snapshot(integration), {}))
        integration.delete()


def send_test(request, integration: NotificationIntegration) -> tuple[bool, str]:
    """Send a real test message through ``integration`` now; store and log the result; returns (ok, message)."""
    key = f"test-{uuid.uuid4().hex}"
    channel = channel_for(integration)
    try:
        message = channel.render(MessageContext.sample(integration, key))
        channel.send(message, Delivery(key=key, timestamp=int(time.time())))
        ok, text = True, f"Test message sent ({channel.destination()})."
    except TransportError as exc:
        ok, text = False, exc.message
    except Exception as exc:  # a person pressed Test: show what broke instead of a 500, and keep the trace
        logger.exception("test of integration %s failed unexpectedly", integration.pk)
        ok, text = False, f"Internal error: {exc.__class__.__name__}"
    with transaction.atomic():
        before = {"last_test_ok": integration.last_test_ok, "last_test_message": integration.last_test_message}
        integration.last_test_at = timezone.now()
        integration.last_test_ok = ok
        integration.last_test_message = text
        # update(), not save(): a test result is not a configuration change that should rebuild the policy index.
        NotificationIntegration.objects.filter(pk=integration.pk).update(
            last_test_at=integration.last_test_at, last_test_ok=ok, last_test_message=text
        )
        audit.record(
            request, AuditAction.TEST, integration, audit.diff(before, {"last_test_ok": ok, "last_test_message": text})
        )
    return ok, text


@dataclass(frozen=True)
class Preview:
    """What an integration's settings would send for a sample or stored event: the rendered parts, or the error."""

    subject: str = ""
    body: str = ""
    html: str = ""
    error: str = ""
    source: str = "sample events"


def preview_message(kind: str, form: IntegrationForm, event: SecurityEvent | None = None) -> Preview:
    """The message the (bound, validated) ``form``'s settings would send — its valid templates, the default for any
    part left empty or refused — for ``event`` (a stored one) or made-up sample events. Nothing is stored or sent."""
    data = getattr(form, "cleaned_data", {})
    integration = NotificationIntegration(kind=kind, name=data.get("name") or "Preview", config=form.to_config())
    context = MessageContext.preview(integration, [event] if event is not None else None)
    source = f"event #{event.pk}" if event is not None else "sample events"
    try:
        message = channel_for(integration).render(context)
    except TransportError as exc:
        return Preview(error=exc.message, source=source)
    return Preview(subject=message.subject, body=message.body, html=message.html, source=source)


def retry(request, notification: Notification) -> bool:
    """Send a failed notification again (attempts start over); False when it is not failed (any more)."""
    with transaction.atomic():
        updated = Notification.objects.filter(pk=notification.pk, status=NotificationStatus.FAILED).update(
            status=NotificationStatus.PENDING,
            attempts=0,
            next_attempt_at=timezone.now(),
            claimed_at=None,
            throttled_until=None,
        )
        if updated:
            audit.record(
                request,
                AuditAction.RETRY,
                notification,
                {"status": [NotificationStatus.FAILED, NotificationStatus.PENDING]},
            )
            enqueue_on_commit(DELIVER_TASK, notification.pk)
    return bool(updated)
