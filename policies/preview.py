"""Policy preview (dry run): what a draft policy would have done over the stored events of the last days.

Nothing is written. The draft is compiled into a one-policy :class:`~policies.engine.PolicyIndex` and matched with
the engine's own code against the stored events; evaluation's later steps are replayed in arrival order:

- muted events (an active risk acceptance or silence, through :mod:`policies.muting`) send nothing;
- batching: one message per output for each ingest batch with a fresh finding (as evaluation makes them);
- the repeat interval: a finding (fingerprint) already notified stays quiet for ``repeat_interval`` seconds. The
  replay starts one interval before the window, so a finding notified just before it stays quiet inside it too;
  what happened before that look-back cannot matter.

Why SQL first: over a million stored events, reading every row into Python costs seconds. The database narrows
the rows to the draft's event type, threshold and window, and to the scopes' patterns where a glob translates to
a case-insensitive regex (ASCII patterns without ``[…]``); the engine then decides on what is left, so the SQL filter only needs to
be a superset of the engine's answer, never exact.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db import connection
from django.db.models import F, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from events.models import SecurityEvent
from policies import muting
from policies.engine import CompiledPolicy, CompiledScope, PolicyIndex
from policies.models import Scope

DAYS_CHOICES = (1, 7, 30)
DEFAULT_DAYS = 7
WORST_COUNT = 10
DRAFT_ID = 0  # a draft that was never saved has no id; no stored policy has 0


@dataclass(slots=True)
class _Row:
    """An event as the replay reads it (a few columns: a million model instances would cost seconds)."""

    id: int
    batch_id: object
    fingerprint: str
    received: float  # arrival time, in seconds since the epoch (cheaper to read than a datetime)
    type: str
    severity: int
    cvss: float | None
    cluster: str
    namespace: str
    registry: str
    repository: str
    tag: str
    digest: str
    finding_id: str
    source: str
    title: str


ROW_FIELDS = [name for name in _Row.__slots__ if name != "received"]


def compile_draft(values: dict, policy_id: int | None) -> tuple[CompiledPolicy, list[CompiledScope]]:
    """The draft's values (as :mod:`policies.services` takes them) compiled like the index compiles policies."""
    scopes: list[Scope] = list(values["scopes"])
    compiled_scopes = [
        CompiledScope.build(s.pk, s.name, s.is_global, {name: getattr(s, name) for name in Scope.PATTERN_FIELDS})
        for s in scopes
    ]
    integrations = tuple(
        method.integration.pk for method in values.get("notification_methods", ()) if method.integration.enabled
    )
    policy = CompiledPolicy(
        id=policy_id or DRAFT_ID,
        name=values.get("name") or "(draft)",
        trigger=values["trigger"],
        min_severity=values.get("min_severity"),
        repeat_interval=values.get("repeat_interval") or 0,
        integration_ids=integrations,
        scope_ids=tuple(s.id for s in compiled_scopes),
    )
    return policy, compiled_scopes


def preview(values: dict, days: int = DEFAULT_DAYS, policy_id: int | None = None, now: datetime | None = None) -> dict:
    """``{events_matched, notifications, muted, suppressed, outputs, per_day, worst}`` for the draft ``values``.

    ``policy_id``: the saved policy the draft edits (silences limited to some policies apply to it by that id).
    """
    now = now or timezone.now()
    since = now - timedelta(days=days)
    policy, scopes = compile_draft(values, policy_id)
    index = PolicyIndex([policy], scopes)
    rows = _candidates(policy, scopes, since - timedelta(seconds=policy.repeat_interval))
    matched_all = [row for _, events in index.match_batch(rows) for row in events]
    mutes = muting.load(now)
    heard = [row for row in matched_all if mutes.reason(row, policy.id, now) is None]
    start = since.timestamp()
    matched = [row for row in matched_all if row.received >= start]
    days = _Days(since, now)
    outputs = len(policy.integration_ids)
    sent_batches: set = set()
    quiet_until: dict[str, float] = {}
    notifications_per_day: Counter = Counter()
    suppressed = 0
    for row in heard:  # arrival order
        until = quiet_until.get(row.fingerprint)
        counted = row.received >= start  # earlier rows only set quiet periods
        if until is not None and row.received < until:
            suppressed += counted
            continue
        quiet_until[row.fingerprint] = row.received + policy.repeat_interval
        if counted and row.batch_id not in sent_batches:
            sent_batches.add(row.batch_id)
            notifications_per_day[days.of(row.received)] += outputs
    events_per_day = Counter(days.of(row.received) for row in matched)
    heard_count = sum(1 for row in heard if row.received >= start)
    return {
        "events_matched": len(matched),
        "notifications": len(sent_batches) * outputs,
        "muted": len(matched) - heard_count,
        "suppressed": suppressed,
        "outputs": outputs,
        "per_day": [
            {"date": day, "events": events_per_day.get(day, 0), "notifications": notifications_per_day.get(day, 0)}
            for day in days.dates
        ],
        "worst": _worst(matched),
    }


class _Days:
    """The local calendar days from ``since`` to ``now``, and which one a moment (epoch seconds) falls on.

    Computed once per preview: converting each of a hundred thousand timestamps to local time costs more than the
    matching. Midnights are found in local time, so days of 23 or 25 hours (daylight saving) come out right.
    """

    def __init__(self, since: datetime, now: datetime):
        first, last = timezone.localtime(since).date(), timezone.localtime(now).date()
        self.dates = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        zone = timezone.get_current_timezone()
        self.starts = [datetime.combine(day, time.min, zone).timestamp() for day in self.dates]

    def of(self, moment: float):
        return self.dates[max(0, bisect_right(self.starts, moment) - 1)]


def _worst(rows: Iterable[_Row]) -> list[SecurityEvent]:
    """The most severe matched events (severity, then CVSS, then newest), as stored events."""
    top = heapq.nlargest(WORST_COUNT, rows, key=lambda r: (r.severity, r.cvss if r.cvss is not None else -1, r.id))
    found = SecurityEvent.objects.select_related("batch").in_bulk([row.id for row in top])
    return [found[row.id] for row in top if row.id in found]


def _candidates(policy: CompiledPolicy, scopes: list[CompiledScope], since: datetime) -> list[_Row]:
    """The stored events of the window the draft may match, in arrival order (a superset of the engine's answer)."""
    queryset = SecurityEvent.objects.filter(
        type=policy.event_type, severity__gte=policy.threshold, received_at__gte=since
    ).filter(_scopes_filter(scopes))
    postgres = connection.vendor == "postgresql"
    if postgres:  # epoch seconds: reading timestamps with their time zone costs more than all the rest
        queryset = queryset.annotate(received=RawSQL("EXTRACT(EPOCH FROM received_at)::float8", ()))
    else:
        queryset = queryset.annotate(received=F("received_at"))
    queryset = queryset.order_by("received_at", "id").values_list(*ROW_FIELDS[:3], "received", *ROW_FIELDS[3:])
    # The ORM builds the statement; the rows are read raw (model-less tuples cost a third of values_list's).
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if postgres:
        return [_Row(*row) for row in rows]
    return [_Row(*row[:3], row[3].timestamp(), *row[4:]) for row in rows]


def _scopes_filter(scopes: list[CompiledScope]) -> Q:
    """Events in any of the scopes, as far as SQL can tell (``Q()`` — everything — when it cannot)."""
    if not scopes:
        return Q(pk__in=[])
    condition = Q(pk__in=[])
    for scope in scopes:
        scope_q = _scope_filter(scope)
        if scope_q is None:
            return Q()
        condition |= scope_q
    return condition


def _scope_filter(scope: CompiledScope) -> Q | None:
    if scope.is_global:
        return None
    condition = Q()
    for attribute, patterns in scope.patterns:
        regexes = [_sql_regex(pattern) for pattern in patterns]
        if not regexes or any(regex is None for regex in regexes):
            continue  # this attribute is left to the engine
        condition &= Q(**{f"{attribute}__iregex": "|".join(regexes)})
    return condition if condition else None


def _sql_regex(glob: str) -> str | None:
    """A glob as an anchored regex both PostgreSQL and Python read alike, or None when it has a character class or
    non-ASCII text (case folding could differ: left to the engine)."""
    if "[" in glob or not glob.isascii():
        return None
    wildcards = {"*": ".*", "?": "."}
    return "^(" + "".join(wildcards.get(c) or (f"\\{c}" if c in SPECIAL else c) for c in glob) + ")$"


SPECIAL = set("\\.^$|+()[]{}")
