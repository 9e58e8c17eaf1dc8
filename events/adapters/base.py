"""The adapter contract: one class per tool's native format, registered by name, asked in turn to recognise payloads.

Adding a tool is one module and one registration. Write ``events/adapters/<tool>.py`` with a subclass of
:class:`Adapter` and add an instance to the :func:`register` call in ``events/adapters/__init__.py``; the endpoint
``POST /api/v1/ingest/<name>/``, ``manage.py ingest <name>`` and wrong-tool hints for the other endpoints follow
from the registry. A subclass provides:

``name``
    The slug: endpoint path, the events' ``source`` and the registry key.
``label``
    The tool's name as people write it ("Trivy"): in error messages and the API docs.
``severities``
    The tool's severity names → our slugs, built with :func:`~events.adapters.readers.severity_table`. The
    adapter's module owns its table; nothing else maps that tool's names.
``looks_like_object(document) -> bool``
    Whether one JSON object has the marks of this tool's output (top-level keys, ``apiVersion``, ``type``). Only
    used to name the right endpoint when a payload is posted to the wrong one, so a cheap, loose look is right;
    it must never raise.
``parse(payload, hints) -> Parsed``
    The decoded payload → event dicts built with :func:`~events.adapters.event_dicts.make_event`, plus what was
    acknowledged without being stored (and why). ``hints`` are checked resource fields from the query string or
    command line. Raises :class:`AdapterError` for anything wrong with the payload (the API answers 400 with its
    message and path); JSON that is not this tool's at all raises :meth:`Adapter.wrong_payload`.
``decode(body)`` (optional)
    The body → one JSON value; override only for other framings (Falco's JSON lines).

Adapters are pure: no database, no network, no settings; the typed readers in :mod:`events.adapters.readers` turn
untrusted JSON into checked values. Any other exception out of ``parse`` is a bug in the adapter (a 500).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from events.adapters.readers import AdapterError, decode_json

__all__ = ["ADAPTERS", "Adapter", "AdapterError", "Parsed", "guess_tool", "register"]


@dataclass
class Parsed:
    """What an adapter found: event dicts to ingest, and what it acknowledged without storing (and why)."""

    items: list[dict[str, Any]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def extend(self, other: Parsed) -> None:
        self.items.extend(other.items)
        self.ignored.extend(other.ignored)


class Adapter:
    """One tool's native format (see the module docstring for what a subclass provides)."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    severities: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def looks_like(cls, payload: Any) -> bool:
        """True when a decoded payload looks like this tool's output.

        A list looks like whatever its first item looks like: the tools that send lists (Falco alerts, pre-v0.20
        Trivy results, trivy-operator resources) send lists of their own objects.
        """
        if isinstance(payload, list):
            return bool(payload) and cls.looks_like(payload[0])
        return isinstance(payload, dict) and cls.looks_like_object(payload)

    @classmethod
    def looks_like_object(cls, document: dict[str, Any]) -> bool:
        """True when this JSON object has the marks of this tool's output; must not raise."""
        raise NotImplementedError

    def decode(self, body: bytes) -> Any:
        """The JSON value of the body; raises :class:`AdapterError` for an empty or non-JSON body."""
        return decode_json(body, self.label)

    def parse(self, payload: Any, hints: Mapping[str, str]) -> Parsed:
        """Events found in a decoded payload; ``hints`` fill resource fields the payload leaves empty.

        Raises :class:`AdapterError` when the payload is not this tool's output or has a wrong or missing field.
        """
        raise NotImplementedError

    def load(self, body: bytes, hints: Mapping[str, str] | None = None) -> Parsed:
        """:meth:`decode` then :meth:`parse`: the raw body as sent → events (raises :class:`AdapterError`)."""
        return self.parse(self.decode(body), hints or {})

    def wrong_payload(self, what: str, payload: Any) -> AdapterError:
        """The error for JSON that is not this tool's: names the tool it looks like, when it looks like one."""
        other = _lookalike(payload)
        if other is not None and other.name != self.name:
            return AdapterError(
                f"This looks like {other.label} output, not {what}; "
                f"send it to /api/v1/ingest/{other.name}/ (manage.py ingest {other.name})."
            )
        return AdapterError(f"Not {what}.")


# The registered adapters by name, in registration order. The order matters: wrong-tool detection asks them in
# this order and the first that recognises a payload wins.
ADAPTERS: dict[str, Adapter] = {}


def register(*adapters: Adapter) -> None:
    """Make ``adapters`` reachable by name (ingest endpoints, ``manage.py ingest``, wrong-tool detection).

    Raises :class:`ValueError` for an adapter without a name or label, or a name already taken.
    """
    for adapter in adapters:
        if not adapter.name or not adapter.label:
            raise ValueError(f"{type(adapter).__name__} needs a name and a label.")
        if adapter.name in ADAPTERS:
            raise ValueError(f"An adapter named {adapter.name!r} is already registered.")
        ADAPTERS[adapter.name] = adapter


def _lookalike(payload: Any) -> Adapter | None:
    return next((adapter for adapter in ADAPTERS.values() if adapter.looks_like(payload)), None)


def guess_tool(payload: Any) -> str | None:
    """The name of the first registered adapter whose output ``payload`` looks like (for helpful errors), or None."""
    other = _lookalike(payload)
    return other.name if other else None
