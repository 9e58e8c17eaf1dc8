"""Secrets of notification integrations, encrypted at rest with Fernet (``settings.KCS_ENCRYPTION_KEY``).

The whole secrets dict of an integration is one Fernet token in ``secrets_encrypted``. Values are never logged and
never leave the server except towards the output they belong to; screens and the API show :data:`MASK` instead.

``KCS_ENCRYPTION_KEY`` holds one key or several, comma-separated: the first encrypts, every one decrypts
(:class:`~cryptography.fernet.MultiFernet`). To rotate, put a new key first, run ``manage.py rotate_secrets``
(:func:`rotate`: every integration re-encrypted with the first key), then drop the old key.
"""

from __future__ import annotations

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from kcs.env import comma_list

MASK = "********"
UNREADABLE = (
    "Secret unreadable, enter it again: the stored secrets cannot be decrypted with any key in KCS_ENCRYPTION_KEY."
)


class SecretsUnreadable(Exception):
    """The stored secrets cannot be decrypted with any configured key (the key changed or was lost): a person must
    enter them again, or the key that wrote them must be put back in ``KCS_ENCRYPTION_KEY``."""

    def __init__(self, message: str = UNREADABLE):
        super().__init__(message)


@lru_cache(maxsize=4)
def _fernet(setting: str) -> MultiFernet:
    """The keys of a ``KCS_ENCRYPTION_KEY`` value (comma-separated, the encrypting one first) as one MultiFernet."""
    return MultiFernet([Fernet(key.encode()) for key in comma_list(setting)])


def encrypt(values: dict[str, str]) -> str:
    """The stored form of ``values`` (empty values dropped; an empty dict is stored as an empty string)."""
    kept = {name: value for name, value in values.items() if value}
    if not kept:
        return ""
    return _fernet(settings.KCS_ENCRYPTION_KEY).encrypt(json.dumps(kept).encode()).decode()


def decrypt(token: str) -> dict[str, str]:
    """The secrets dict stored as ``token``; raises :class:`SecretsUnreadable` when no key fits."""
    if not token:
        return {}
    try:
        return json.loads(_fernet(settings.KCS_ENCRYPTION_KEY).decrypt(token.encode()))
    except InvalidToken:
        raise SecretsUnreadable() from None


def readable(token: str) -> bool:
    """Whether ``token`` can be decrypted with a configured key (no secrets at all is readable)."""
    try:
        decrypt(token)
    except SecretsUnreadable:
        return False
    return True


def rotate(token: str) -> str:
    """``token`` encrypted again with the first key (the same secrets); raises :class:`SecretsUnreadable`."""
    if not token:
        return token
    try:
        return _fernet(settings.KCS_ENCRYPTION_KEY).rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretsUnreadable() from None


def masked(token: str) -> dict[str, str]:
    """``{name: MASK}`` for each stored secret: what may be shown of them (nothing when they are unreadable)."""
    try:
        names = decrypt(token)
    except SecretsUnreadable:
        return {}
    return {name: MASK for name in sorted(names)}
