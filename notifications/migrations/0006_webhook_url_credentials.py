"""Credentials inside stored webhook URLs move into the encrypted secrets.

A webhook URL's user info (``https://user:pass@host/``) and query string (``?token=…``) become the secrets
``url_userinfo`` and ``url_query``; ``config.url`` keeps ``***`` in their place. Security event log entries of
integrations get the same mask, so no earlier change shows the credentials either. A row whose secrets cannot be
decrypted with the current key is left as it is (merging would destroy what the right key could still read) and
named on the console: fix the key, then migrate again or enter the URL again. Not reversed: the credentials stay in
the secrets.
"""

from urllib.parse import urlsplit, urlunsplit

from django.db import migrations

from notifications.secrets import SecretsUnreadable, decrypt, encrypt

MASK = "***"


def split_url(url):
    """The URL with user info and query masked, and the two parts (a frozen copy of webhook.split_url)."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    netloc = f"{MASK}@{host}" if at else host
    masked = urlunsplit((parts.scheme, netloc, parts.path, MASK if parts.query else "", parts.fragment))
    return masked, {"url_userinfo": userinfo, "url_query": parts.query}


def mask_urls(value):
    """``value`` (audit ``changes``) with every ``"url"`` string masked."""
    if isinstance(value, dict):
        return {
            key: split_url(item)[0] if key == "url" and isinstance(item, str) else mask_urls(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_urls(item) for item in value]
    return value


def move_url_credentials(apps, schema_editor):
    Integration = apps.get_model("notifications", "NotificationIntegration")
    AuditEntry = apps.get_model("kcs", "AuditEntry")
    for integration in Integration.objects.filter(kind="webhook").order_by("pk"):
        url = (integration.config or {}).get("url")
        if not isinstance(url, str):
            continue
        masked, parts = split_url(url)
        if masked == url:
            continue
        try:
            secrets = decrypt(integration.secrets_encrypted)
        except SecretsUnreadable:
            print(
                f"\n  Webhook integration “{integration.name}” (id {integration.pk}) keeps credentials in its URL: "
                "its secrets cannot be decrypted with KCS_ENCRYPTION_KEY. Fix the key and migrate again, or enter "
                "the URL and secrets again."
            )
            continue
        secrets.update({name: value for name, value in parts.items() if value})
        integration.config = {**integration.config, "url": masked}
        integration.secrets_encrypted = encrypt(secrets)
        # update(): a data move, not a change that should bump updated_at or reach signal handlers.
        Integration.objects.filter(pk=integration.pk).update(
            config=integration.config, secrets_encrypted=integration.secrets_encrypted
        )
    for entry in AuditEntry.objects.filter(object_type="notification integration").only("pk", "changes"):
        changes = mask_urls(entry.changes)
        if changes != entry.changes:
            AuditEntry.objects.filter(pk=entry.pk).update(changes=changes)


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0005_integration_kind_from_registry"),
        ("kcs", "0002_config_revision"),
    ]

    operations = [migrations.RunPython(move_url_credentials, migrations.RunPython.noop)]
