"""Native ingestion: one adapter per tool, and the one way a tool's output reaches the ingest service.

The adapter modules are pure (bytes → event dicts); :mod:`events.adapters.base` says what one must provide, and the
:func:`register` call below is the one list of them. :func:`ingest_native` is what the API views and
``manage.py ingest`` call: decode and map the payload, then store it through :func:`events.services.ingest` (one
transaction, one batch, evaluation after commit, uid idempotency), exactly as ``/api/v1/events/`` does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from events import services
from events.adapters.base import ADAPTERS, Adapter, AdapterError, register
from events.adapters.event_dicts import HINT_FIELDS, clean_hints
from events.adapters.falco import FalcoAdapter
from events.adapters.grype import GrypeAdapter
from events.adapters.harbor import HarborAdapter
from events.adapters.trivy import TrivyAdapter

__all__ = [
    "ADAPTERS",
    "HINT_FIELDS",
    "Adapter",
    "AdapterError",
    "NativeIngestResult",
    "clean_hints",
    "ingest_native",
]

logger = logging.getLogger(__name__)

# The one registration of every native format. Order matters for wrong-tool hints: the first adapter whose
# looks_like() accepts a payload is named, so Falco (a "rule" key and little else) is asked last.
register(TrivyAdapter(), GrypeAdapter(), HarborAdapter(), FalcoAdapter())
MAX_IGNORED_SHOWN = 20  # acknowledgements listed in one answer; the rest are counted


@dataclass
class NativeIngestResult:
    """The ingest service's result plus what the adapter acknowledged without storing."""

    result: services.IngestResult
    ignored: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        shown = self.ignored[:MAX_IGNORED_SHOWN]
        if len(self.ignored) > MAX_IGNORED_SHOWN:
            shown.append(f"and {len(self.ignored) - MAX_IGNORED_SHOWN} more")
        return {
            "received": self.result.received,
            "created": self.result.created,
            "duplicates": self.result.duplicates,
            "batch": str(self.result.batch_id) if self.result.batch_id else None,
            "ignored": shown,
        }


def ingest_native(
    tool: str,
    body: bytes,
    *,
    user=None,
    hints: Mapping[str, str] | None = None,
    max_events: int | None = None,
) -> NativeIngestResult:
    """Map ``body`` (the tool's own output) to events and store them as one batch.

    Raises :class:`AdapterError` when the body is not this tool's output,
    :class:`events.services.IngestValidationError` when a mapped event is invalid and
    :class:`events.services.TooManyEvents` when it maps to more than ``max_events`` events (None: no limit; the
    API passes ``KCS_MAX_EVENTS_PER_REQUEST``); nothing is stored then.
    """
    adapter = ADAPTERS[tool]
    parsed = adapter.load(body, hints)
    for note in parsed.ignored:
        logger.info("%s ingest: %s", tool, note)
    result = services.ingest(parsed.items, source=adapter.name, user=user, max_items=max_events)
    logger.info(
        "%s ingest: %d findings, %d stored, %d already known, batch %s",
        tool,
        result.received,
        result.created,
        result.duplicates,
        result.batch_id,
    )
    return NativeIngestResult(result, parsed.ignored)
