"""The registry of output kinds: the one list of integration kinds, each mapped to its channel class.

How to add an output kind — one module plus registration:

1. Write ``notifications/channels/<kind>.py`` with a :class:`~notifications.channels.base.Channel` subclass. It sets
   ``kind`` (a lower-case slug of at most 16 characters, stored on every integration of that kind), ``label`` (what
   people read), ``description`` and ``form_class`` (an :class:`~notifications.forms.IntegrationForm` subclass: the
   kind's settings and their rules, used by the screens, the API and the admin alike), and implements
   ``destination()``, ``render()`` and ``send()``. Its message templates go under ``templates/messages/<kind>/``.
2. Register the class: add it to ``BUILT_IN`` in :mod:`notifications.channels` (which also sets its place in the
   lists), or call :func:`register` — also usable as a class decorator — from an app's ``AppConfig.ready()``.

Everything else reads this registry when it runs: the integrations screens, the policy form's output-type select, the
API's ``kind`` choices and its OpenAPI enum, and the admin's filter. The model field holds no list of choices, so a
new kind needs no migration.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, TypeVar

from django.core.exceptions import ImproperlyConfigured

from notifications.channels.base import Channel

if TYPE_CHECKING:
    from notifications.models import NotificationIntegration

# NotificationIntegration.kind holds at most 16 characters; a slug also goes into URLs (/integrations/<kind>/).
_KIND = re.compile(r"^[a-z][a-z0-9_-]{0,15}$")
_REQUIRED = ("label", "description", "form_class")

ChannelClass = TypeVar("ChannelClass", bound=type[Channel])

# Kind slug → channel class, in registration order (the order the screens list the kinds in). Read it; change it
# only through register() and unregister().
CHANNELS: dict[str, type[Channel]] = {}


def register(channel_class: ChannelClass) -> ChannelClass:
    """Make ``channel_class`` the channel of its ``kind``; returns the class, so it also works as a decorator.

    Registering the same class again changes nothing. Raises ``ImproperlyConfigured`` for a kind that is not a
    short slug, a class that misses ``label``, ``description`` or ``form_class``, or a kind another class holds.
    """
    kind = getattr(channel_class, "kind", None)
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise ImproperlyConfigured(f"{channel_class.__name__}.kind must be a lower-case slug of at most 16 characters.")
    missing = [name for name in _REQUIRED if not getattr(channel_class, name, None)]
    if missing:
        raise ImproperlyConfigured(f"{channel_class.__name__} must set {', '.join(missing)}.")
    holder = CHANNELS.get(kind)
    if holder is not None and holder is not channel_class:
        raise ImproperlyConfigured(f"The output kind “{kind}” is already registered by {holder.__name__}.")
    CHANNELS[kind] = channel_class
    return channel_class


def unregister(kind: str) -> None:
    """Forget ``kind`` (for tests that register a kind of their own). Its stored integrations stay, unusable."""
    CHANNELS.pop(kind, None)


def kind_choices() -> list[tuple[str, str]]:
    """``(kind, label)`` of every registered kind, in the order the screens list them."""
    return [(kind, channel.label) for kind, channel in CHANNELS.items()]


def kind_label(kind: str) -> str:
    """What people read for ``kind``; the slug itself for a kind no longer registered (its integrations still show)."""
    channel = CHANNELS.get(kind)
    return channel.label if channel is not None else kind


def channel_for(integration: NotificationIntegration) -> Channel:
    """The channel that delivers through ``integration``; ``KeyError`` when its kind is not registered."""
    return CHANNELS[integration.kind](integration)
