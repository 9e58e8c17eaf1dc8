"""Who uses an integration: lookups that higher layers register, so this app never imports them.

Response policies send through integrations, but policies sit above notifications: notifications may not import
them. Instead ``policies`` registers a lookup in its ``AppConfig.ready()``; deleting an integration is refused while
any lookup names a response policy (see :func:`notifications.services.delete_integration`).

A lookup takes a :class:`~notifications.models.NotificationIntegration` and returns the names of the response
policies that send through it (empty when none). It must only read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from notifications.models import NotificationIntegration

Lookup = Callable[["NotificationIntegration"], Sequence[str]]

_lookups: list[Lookup] = []


def register(lookup: Lookup) -> Lookup:
    """Add ``lookup`` (once, however often it is registered); returns it, so it also works as a decorator."""
    if lookup not in _lookups:
        _lookups.append(lookup)
    return lookup


def policies_using(integration: NotificationIntegration) -> list[str]:
    """Names of the response policies that send through ``integration``, sorted, each once."""
    return sorted({name for lookup in _lookups for name in lookup(integration)})
