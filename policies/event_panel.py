"""The decision trace on the event page: a panel (:mod:`events.panels`) for people who may view policies."""

from __future__ import annotations

from events.panels import EventPanel
from policies.decisions import trace
from policies.engine import Verdict
from policies.permissions import VIEW_POLICIES

# What acted (or was held back) first, then the policies that did not match.
VERDICT_ORDER = {verdict: position for position, verdict in enumerate(Verdict)}
VERDICT_ORDER.update({Verdict.BELOW_THRESHOLD: 90, Verdict.OUT_OF_SCOPE: 91})


def decision_panel(request, event) -> EventPanel | None:
    if not request.user.has_perm(VIEW_POLICIES):
        return None
    decisions = sorted(trace(event), key=lambda d: VERDICT_ORDER[d.verdict])
    return EventPanel("policies/_decisions.html", {"decisions": decisions, "event": event})
