"""Start-up checks: a Django system check (shown by ``manage.py check``, ``migrate`` and ``serve``) and the same
warning logged when the web server and the worker start (:func:`warn_at_start`)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core import checks

logger = logging.getLogger("kcs")

KEY_BESIDE_THE_DATA = (
    "KCS_ENCRYPTION_KEY is not set, so integration secrets in PostgreSQL are encrypted with a key generated into "
    "{path}. A database backup without that file cannot be decrypted, and a copy of the var/ folder beside the "
    "database reads every secret."
)
KEY_HINT = (
    "Set KCS_ENCRYPTION_KEY to the key in that file (keep it apart from the database and its backups); "
    "see README, Configuration."
)


def key_beside_the_data(engine: str, generated: bool) -> bool:
    """Whether the encryption key was generated into var/ while the secrets live in a server database.
    (The embedded SQLite database sits in var/ beside its key, which is what that set-up is for.)"""
    return generated and engine == "django.db.backends.postgresql"


def _encryption_key_warning() -> str | None:
    if key_beside_the_data(settings.DATABASES["default"]["ENGINE"], settings.KCS_ENCRYPTION_KEY_GENERATED):
        return KEY_BESIDE_THE_DATA.format(path=settings.VAR_DIR / "encryption_key")
    return None


@checks.register(checks.Tags.security)
def encryption_key_kept_apart(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    message = _encryption_key_warning()
    return [checks.Warning(message, hint=KEY_HINT, id="kcs.W001")] if message else []


def warn_at_start() -> None:
    """Log the start-up warnings (the web server and the worker call this; management commands run the checks)."""
    message = _encryption_key_warning()
    if message:
        logger.warning("%s %s", message, KEY_HINT)
