"""DRF authentication by ``Authorization: Token <key>`` against hashed API tokens."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone
from rest_framework import authentication, exceptions

from kcs.models import ApiToken, UserProfile, hash_token_key

# Writing last_used_at on every request would turn every read into a write; once a minute is precise enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# A scanner posting many single events must not cost a token query plus two permission queries per request: a
# process keeps a checked token (with its user and the user's permissions) this many seconds. Revoking a token,
# deactivating a user or changing rights takes effect at once in the process that made the change and within this
# many seconds in the others.
CACHE_SECONDS = 5.0
_cache: dict[str, tuple[float, ApiToken]] = {}
_cache_lock = threading.Lock()


def forget_cached_tokens(**_ignored) -> None:
    """Drop every cached token (called on any token, user or permission change in this process)."""
    with _cache_lock:
        _cache.clear()


post_delete.connect(forget_cached_tokens, sender=ApiToken, dispatch_uid="token-cache-delete")
post_save.connect(forget_cached_tokens, sender=ApiToken, dispatch_uid="token-cache-save")
post_save.connect(forget_cached_tokens, sender=get_user_model(), dispatch_uid="token-cache-user")
post_save.connect(forget_cached_tokens, sender=UserProfile, dispatch_uid="token-cache-profile")
m2m_changed.connect(forget_cached_tokens, dispatch_uid="token-cache-m2m")  # groups and permissions


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """Authenticates a request by its API token; returns ``(user, token)`` or ``None`` when no token is sent.

    Raises ``AuthenticationFailed`` (401) for a malformed, unknown, expired token or an inactive user, and
    ``PermissionDenied`` (403) while the token's user must change their password.
    """

    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: expected 'Token <key>'.")
        try:
            key = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token header: the key has invalid characters.") from None
        return self.authenticate_key(key)

    def authenticate_key(self, key: str):
        token = self._lookup(hash_token_key(key))
        if token.is_expired:
            raise exceptions.AuthenticationFailed("Token has expired.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        if token.must_change_password:
            raise exceptions.PermissionDenied(
                "This user must change their password before using the API: sign in to the web console and set a "
                "new password."
            )
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now  # also on the cached copy, so the next requests skip the write
        return token.user, token

    @staticmethod
    def _lookup(key_hash: str) -> ApiToken:
        now = time.monotonic()
        cached = _cache.get(key_hash)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        try:
            token = ApiToken.objects.select_related("user").get(key_hash=key_hash)
        except ApiToken.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token.user.get_all_permissions()  # fills the user's permission cache, kept with the token
        token.must_change_password = UserProfile.objects.filter(
            user_id=token.user_id, must_change_password=True
        ).exists()
        with _cache_lock:
            if len(_cache) > 10_000:  # bounded: many distinct tokens simply fall back to the query
                _cache.clear()
            _cache[key_hash] = (now, token)
        return token

    def authenticate_header(self, request) -> str:
        return self.keyword
