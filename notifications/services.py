"""Changing notification outputs and acting on the delivery log: every change stored with its audit entry.

The screens, the API and the admin call these functions, so the same rules apply everywhere and a change and its
security event log entry are stored together or not at all. Secrets are written encrypted and never logged: the
audit entry only says which secret changed.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from kcs import audit
from kcs.models import AuditAction
from kcs.queueing import enqueue_on_commit
from notifications.channels import CHANNELS, Delivery, TransportError, channel_for
from notifications.delivery import DELIVER_TASK
from notifications.forms import IntegrationForm
from notifications.messages import MessageContext
from notifications.models import Notification, NotificationIntegration, NotificationStatus
from notifications.secrets import MASK, SecretsUnreadable, decrypt, encrypt

logger = logging.getLogger(__name__)
NAMES_SHOWN = 5


class IntegrationInUse(Exception):
    """Deleting an integration that response policies still use; ``policies`` names them."""

    def __init__(self, integration: NotificationIntegration, policies: list[str]):
        self.policies = policies
        shown = ", ".join(f"“{name}”" for name in policies[:NAMES_SHOWN])
        more = f" and {len(policies) - NAMES_SHOWN} more" if len(policies) > NAMES_SHOWN else ""
        super().__init__(
            f"“{integration.name}” is used by the response polic{'y' if len(policies) == 1 else 'ies'} "
            f"{shown}{more}. Remove it from {'that policy' if len(policies) == 1 else 'those policies'} first."
        )


def stored_secrets(integration: NotificationIntegration | None) -> dict[str, str]:
    """The integration's secrets, or none when they cannot be read (a person must enter them again)."""
    if integration is None:
        return {}
    try:
        return decrypt(integration.secrets_encrypted)
    except SecretsUnreadable:
        return {}


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
    """The settings form of ``kind`` (bound to ``data`` when given), aware of the secrets already stored."""
    return CHANNELS[kind].form_class(data, instance=instance, stored_secrets=stored_secrets(instance), **kwargs)


def save_integration(
    request, kind: str, form: IntegrationForm, instance: NotificationIntegration | None = None
) -> NotificationIntegration:
    """Create or change an integration from a valid form, with its audit entry, in one transaction."""
    if instance is None:
        integration, before, action = NotificationIntegration(kind=kind), {}, AuditAction.CREATE
    else:
        integration = NotificationIntegration.objects.get(pk=instance.pk)
        before = snapshot(integration)
    secrets_before = stored_secrets(instance)
    integration.name = form.cleaned_data["name"]
    integration.enabled = form.cleaned_data["enabled"]
    integration.config = form.to_config()
    secrets_after = form.to_secrets(secrets_before)
    with transaction.atomic():
        integration.secrets_encrypted = encrypt(secrets_after)
        integration.save()
        after = snapshot(integration)
        changes = audit.diff(before, after)
        changed_secrets = sorted(
            n for n in set(secrets_before) | set(secrets_after) if secrets_before.get(n) != secrets_after.get(n)
        )
        if instance is not None and changed_secrets:
            # The values are never logged; only which secrets were replaced or removed.
            changes["secrets"] = [before.get("secrets"), {n: "changed" for n in changed_secrets}]
        if instance is not None:
            action = AuditAction.UPDATE
            if set(changes) == {"enabled"}:
                action = AuditAction.ENABLE if integration.enabled else AuditAction.DISABLE
        if changes or instance is None:
            audit.record(request, action, integration, changes)
    return integration


def set_enabled(request, integration: NotificationIntegration, enabled: bool) -> None:
    """Enable or disable an output (the screens' and the admin's toggle), logged."""
    with transaction.atomic():
        if integration.enabled == enabled:
            return
        integration.enabled = enabled
        integration.save(update_fields=["enabled", "updated_at"])
        audit.record(
            request,
            AuditAction.ENABLE if enabled else AuditAction.DISABLE,
            integration,
            {"enabled": [not enabled, enabled]},
        )


def policies_using(integration: NotificationIntegration) -> list[str]:
    from policies.models import ResponsePolicy

    return list(
        ResponsePolicy.objects.filter(notification_methods__integration=integration)
        .order_by("name")
        .values_list("name", flat=True)
        .distinct()
    )


def delete_integration(request, integration: NotificationIntegration) -> None:
    """Delete an output no policy uses; raises :class:`IntegrationInUse` naming the policies otherwise.

    Its past notifications stay in the delivery log (they keep the integration's name).
    """
    with transaction.atomic():
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
