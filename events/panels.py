"""Extension point of the event page: sections that higher layers add (the decision trace, for one).

The events app shows events without knowing who reacts to them; an app above it registers a panel in its
``AppConfig.ready()``. A panel is a callable ``(request, event) -> EventPanel | None``: None when it has nothing
to show this person (no right to see it, say). Panels render in the order they were registered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest


@dataclass
class EventPanel:
    """A section of the event page: the template to include and its context (under ``panel``)."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)


PanelFactory = Callable[[HttpRequest, Any], "EventPanel | None"]
_panels: list[PanelFactory] = []


def register(factory: PanelFactory) -> None:
    """Add a section to the event page (idempotent: registering the same callable twice adds it once)."""
    if factory not in _panels:
        _panels.append(factory)


def panels_for(request: HttpRequest, event) -> list[EventPanel]:
    """The sections to show ``request.user`` for ``event``."""
    return [panel for factory in _panels if (panel := factory(request, event)) is not None]
