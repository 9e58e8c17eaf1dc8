"""Secrets of notification integrations, encrypted at rest with Fernet (``settings.KCS_ENCRYPTION_KEY``).

The whole secrets dict of an integration is one Fernet token in ``secrets_encrypted``. Values are never logged and
never leave the server except towards the output they belong to; screens and the API show :data:`MASK` instead.
"""

from __future__ import annotations

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

MASK = "********"


class SecretsUnreadable(Exception):
    """The stored secrets cannot be decrypted (the encryption key changed); re-enter them."""


@lru_cache(maxsize=4)
def _fernet(key: str) -> Fernet:
    return Fernet(key.encode())


def encrypt(values: dict[str, str]) -> str:
    """The stored form of ``values`` (empty values dropped; an empty dict is stored as an empty string)."""
    kept = {name: value for name, value in values.items() if value}
    if not kept:
        return ""
    return _fernet(settings.KCS_ENCRYPTION_KEY).encrypt(json.dumps(kept).encode()).decode()


def decrypt(token: str) -> dict[str, str]:
    """The secrets dict stored as ``token``; raises :class:`SecretsUnreadable` when the key does not fit."""
    if not token:
        return {}
    try:
        return json.loads(_fernet(settings.KCS_ENCRYPTION_KEY).decrypt(token.encode()))
    except InvalidToken:
        raise SecretsUnreadable(
            "The stored secrets cannot be decrypted with the current KCS_ENCRYPTION_KEY; enter them again."
        ) from None


def masked(token: str) -> dict[str, str]:
    """``{name: MASK}`` for each stored secret: what may be shown of them."""
    try:
        names = decrypt(token)
    except SecretsUnreadable:
        return {}
    return {name: MASK for name in sorted(names)}
