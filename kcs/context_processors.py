"""Template context every screen gets: the header's scope switcher (computed only when a template reads it)."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from kcs.visibility import visibility_of


def scope_switcher(request) -> dict:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {"visibility": SimpleLazyObject(lambda: visibility_of(request))}
