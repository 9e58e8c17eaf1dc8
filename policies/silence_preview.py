"""Silence preview (dry run): how many stored events of the last days a draft silence would have muted.

Nothing is written. The database narrows the events to the window and to what SQL can tell of the matchers (type,
severity, source, title, and the globs that translate to a regex: :func:`policies.preview._sql_regex`); the
compiled silence then decides on what is left, with the same code evaluation mutes with, and the policy index says
which of those events a policy of the silence acted on: only those would have been muted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q

from events.models import SecurityEvent, Severity
from policies.index_cache import get_index
from policies.preview import _sql_regex
from policies.silence_index import CompiledSilence
from policies.silence_rules import GLOB_FIELDS

PREVIEW_DAYS = 7
ROW_FIELDS = (
    "type",
    "severity",
    "cluster",
    "namespace",
    "registry",
    "repository",
    "tag",
    "digest",
    "finding_id",
    "source",
    "title",
)


@dataclass(slots=True)
class _Row:
    type: str
    severity: int
    cluster: str
    namespace: str
    registry: str
    repository: str
    tag: str
    digest: str
    finding_id: str
    source: str
    title: str


def _narrowed(matchers: dict[str, str], since: datetime) -> Q:
    condition = Q(received_at__gte=since)
    if matchers.get("type"):
        condition &= Q(type=matchers["type"])
    if matchers.get("max_severity"):
        condition &= Q(severity__lte=int(Severity.from_slug(matchers["max_severity"])))
    if matchers.get("source"):
        condition &= Q(source__iexact=matchers["source"])
    if matchers.get("title_contains"):
        condition &= Q(title__icontains=matchers["title_contains"])
    for attribute in GLOB_FIELDS:
        regex = _sql_regex(matchers[attribute]) if matchers.get(attribute) else None
        if regex is not None:
            condition &= Q(**{f"{attribute}__iregex": regex})
    return condition


def would_have_muted(matchers: dict[str, str], policy_ids: list[int], now: datetime, days: int = PREVIEW_DAYS) -> dict:
    """``{"days", "events", "muted"}``: the events received in the last ``days`` that the matchers hold for, and
    how many of them a policy of the silence (any enabled policy when it names none) acted on — those it would have
    muted. Matchers must be valid (:func:`policies.silence_rules.check_matchers`)."""
    silence = CompiledSilence.build(0, matchers, policy_ids, now, now)
    index = get_index()
    rows = SecurityEvent.objects.filter(_narrowed(matchers, now - timedelta(days=days))).values_list(*ROW_FIELDS)
    events = muted = 0
    for values in rows.iterator(chunk_size=5000):
        row = _Row(*values)
        if not silence.holds(row):
            continue
        events += 1
        acting = index.match(row)
        if any(not silence.policy_ids or policy.id in silence.policy_ids for policy in acting):
            muted += 1
    return {"days": days, "events": events, "muted": muted}
