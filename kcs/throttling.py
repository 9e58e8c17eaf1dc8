"""API throttling per token: at most ``KCS_API_TOKEN_RATE`` requests per token, then 429 with ``Retry-After``.

DRF's throttle (scope ``token``, keyed by the token's id) with a fixed-window counter instead of DRF's list of
timestamps: one atomic ``add``/``incr`` per request in the cache, whatever the rate (DRF's history list grows with
the rate and is read and written whole on every request, too costly on the ingest path). A window may therefore
let up to twice the rate through around its boundary. The count is shared by all processes only when the cache
is (``CACHE_URL=redis://…``); with the default in-process cache each web process counts on its own.
Requests signed in by session (the screens' own calls) are not throttled.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

from kcs.models import ApiToken


class TokenRateThrottle(SimpleRateThrottle):
    scope = "token"
    cache_format = "kcs:throttle:%(scope)s:%(ident)s:%(window)d"

    def get_rate(self) -> str | None:
        # Read at each request (DRF's own reads its settings once, at import), so a changed setting applies.
        rate = settings.KCS_API_TOKEN_RATE
        return None if rate == "off" else rate

    def get_cache_key(self, request, view) -> str | None:
        token = getattr(request, "auth", None)
        if not isinstance(token, ApiToken):
            return None
        self.window_start = int(self.timer() // self.duration) * self.duration
        return self.cache_format % {"scope": self.scope, "ident": token.pk, "window": self.window_start}

    def allow_request(self, request, view) -> bool:
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        # add() is a no-op when the window's counter exists; incr() is atomic (Redis INCR, a lock in memory).
        cache.add(self.key, 0, timeout=self.duration + 1)
        try:
            count = cache.incr(self.key)
        except ValueError:  # expired between add and incr
            cache.add(self.key, 1, timeout=self.duration + 1)
            count = 1
        return count <= self.num_requests

    def wait(self) -> float:
        """Seconds until the next window starts (sent as ``Retry-After``, rounded up, at least 1)."""
        return max(1.0, self.window_start + self.duration - self.timer())

    timer = staticmethod(time.time)
