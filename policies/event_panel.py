"""The decision trace on the event page: a panel (:mod:`events.panels`) for people who may view policies.

Every policy that acted on the event (or was held back: risk accepted, silenced, repeat, changed since) is listed;
of the policies that did not match, the first :data:`NOT_MATCHED_SHOWN` are, with a link to all of them — an
organisation with thousands of policies would otherwise get a page of thousands of rows on a phone.
"""

from __future__ import annotations

from collections import Counter

from events.panels import EventPanel
from kcs.visibility import visibility_of
from policies.decisions import trace
from policies.engine import Verdict
from policies.permissions import VIEW_POLICIES

NOT_MATCHED = (Verdict.BELOW_THRESHOLD, Verdict.OUT_OF_SCOPE)
NOT_MATCHED_SHOWN = 20
SHOW_ALL_PARAMETER = "decisions"
# What acted (or was held back) first, then the policies that did not match.
VERDICT_ORDER = {verdict: position for position, verdict in enumerate(Verdict)}
VERDICT_ORDER.update({Verdict.BELOW_THRESHOLD: 90, Verdict.OUT_OF_SCOPE: 91})


def decision_panel(request, event) -> EventPanel | None:
    if not request.user.has_perm(VIEW_POLICIES):
        return None
    decisions = sorted(trace(event, visibility_of(request)), key=lambda d: VERDICT_ORDER[d.verdict])
    counts = Counter(d.verdict for d in decisions)
    show_all = request.GET.get(SHOW_ALL_PARAMETER) == "all"
    shown = [d for d in decisions if d.verdict not in NOT_MATCHED]
    not_matched = [d for d in decisions if d.verdict in NOT_MATCHED]
    hidden = 0 if show_all else max(0, len(not_matched) - NOT_MATCHED_SHOWN)
    shown += not_matched if show_all else not_matched[:NOT_MATCHED_SHOWN]
    return EventPanel(
        "policies/_decisions.html",
        {
            "decisions": shown,
            "total": len(decisions),
            "counts": [(verdict.label, counts[verdict]) for verdict in Verdict if counts[verdict]],
            "hidden": hidden,
            "show_all_query": f"{SHOW_ALL_PARAMETER}=all",
            "event": event,
        },
    )
