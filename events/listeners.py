"""Extension point of ingestion: callables that higher layers run inside the transaction that stores a batch.

The events app stores events without knowing who else wants them; an app above it (the SIEM stream of
``notifications.siem``) registers a listener in its ``AppConfig.ready()``. A listener is called as
``listener(batch_id, event_ids)`` with the new events of the batch, inside the ingest transaction, so what it stores
commits or rolls back with them. It must be cheap (it runs for every ingest request) and send nothing itself:
schedule that with ``transaction.on_commit``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from uuid import UUID

StoredListener = Callable[[UUID, Sequence[int]], None]
_listeners: list[StoredListener] = []


def register(listener: StoredListener) -> None:
    """Call ``listener`` for every batch stored from now on (idempotent)."""
    if listener not in _listeners:
        _listeners.append(listener)


def unregister(listener: StoredListener) -> None:
    """Stop calling ``listener`` (for tests)."""
    if listener in _listeners:
        _listeners.remove(listener)


def stored(batch_id: UUID, event_ids: Sequence[int]) -> None:
    """Tell every listener that ``event_ids`` were stored in batch ``batch_id`` (called by the ingest service)."""
    for listener in list(_listeners):
        listener(batch_id, event_ids)
