"""*Silence similar…* on the event page (:mod:`events.panels`), for people who may manage silences: a link to the
silence form prefilled from the event."""

from __future__ import annotations

from django.urls import reverse

from events.panels import EventPanel
from policies.permissions import MANAGE_SILENCES

PREFILL_PARAMETER = "event"


def silence_similar_panel(request, event) -> EventPanel | None:
    if not request.user.has_perm(MANAGE_SILENCES):
        return None
    return EventPanel(
        "policies/_silence_similar.html",
        {"url": f"{reverse('policies:silence-add')}?{PREFILL_PARAMETER}={event.pk}", "event": event},
    )
