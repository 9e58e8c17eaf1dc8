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
a case-insensitive regex (ASCII patterns without ``[…]``); the engine then decides on what is left, so the SQL filter
only needs to be a superset of the engine's answer, never exact. What the engine and muting read of an event (its
*finding*: type, severity, resource, finding id, source, title) repeats across rescans, so each distinct finding is
decided once and each event carries only a key to it, its arrival, batch and fingerprint for the replay, and what
ranks the worst events.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import psycopg
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from events.models import SecurityEvent
from kcs.pg_arrays import array_literal
from policies import muting
from policies.engine import CompiledPolicy, CompiledScope, PolicyIndex
from policies.models import Scope

DAYS_CHOICES = (1, 7, 30)
DEFAULT_DAYS = 7
WORST_COUNT = 10
DRAFT_ID = 0  # a draft that was never saved has no id; no stored policy has 0


@dataclass(frozen=True, slots=True)
class _Finding:
    """What matching and muting read of an event (:data:`policies.muting.MUTE_FIELDS`, which hold the engine's
    fields too). Stored events that agree on all of them get the same verdict: it is reached once per distinct
    finding, not once per event (rescans of the same images repeat them over and over)."""

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


FINDING_FIELDS = list(_Finding.__slots__)
assert set(FINDING_FIELDS) == set(muting.MUTE_FIELDS), "a field muting reads is missing here"
# What the replay reads of each event, in this order: arrival (epoch seconds), batch, fingerprint, the finding's
# key, then CVSS and id (for the worst events).
KEY, ID = 3, 5
# A finding's verdict: not matched (below threshold, out of scope), or matched, muted or not, with its severity.
UNMATCHED = None


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
    rows, findings = _candidates(policy, scopes, since - timedelta(seconds=policy.repeat_interval))
    verdicts = _verdicts(findings, PolicyIndex([policy], scopes), policy.id, muting.load(now), now)
    start = since.timestamp()
    days = _Days(since, now)
    outputs = len(policy.integration_ids)
    interval = policy.repeat_interval
    events_per_day = [0] * len(days.dates)
    notifications_per_day = [0] * len(days.dates)
    sent_batches: set = set()
    quiet_until: dict[str, float] = {}
    matched: list[tuple] = []  # (severity, CVSS or -1, id) of the matched events of the window
    muted = suppressed = 0
    for received, batch, fingerprint, key, cvss, pk in rows:  # arrival order
        verdict = verdicts[key]
        if verdict is UNMATCHED:
            continue
        is_muted, severity = verdict
        counted = received >= start  # earlier rows only set quiet periods
        if counted:
            day = days.index(received)
            events_per_day[day] += 1
            matched.append((severity, -1 if cvss is None else cvss, pk))
        if is_muted:
            muted += counted
            continue
        until = quiet_until.get(fingerprint)
        if until is not None and received < until:
            suppressed += counted
            continue
        quiet_until[fingerprint] = received + interval
        if counted and batch not in sent_batches:
            sent_batches.add(batch)
            notifications_per_day[day] += outputs
    return {
        "events_matched": len(matched),
        "notifications": len(sent_batches) * outputs,
        "muted": muted,
        "suppressed": suppressed,
        "outputs": outputs,
        "per_day": [
            {"date": date, "events": events, "notifications": notifications}
            for date, events, notifications in zip(days.dates, events_per_day, notifications_per_day, strict=True)
        ],
        "worst": _worst(matched),
    }


def _verdicts(
    findings: dict[object, _Finding], index: PolicyIndex, policy_id: int, mutes: muting.Mutes, now: datetime
) -> dict[object, tuple[bool, int] | None]:
    """Per finding key: None when the draft does not match it, else (muted, severity), decided by the engine and
    :mod:`policies.muting` as for one event."""
    verdicts: dict[object, tuple[bool, int] | None] = {}
    for key, finding in findings.items():
        if not index.match(finding):
            verdicts[key] = UNMATCHED
        else:
            verdicts[key] = (mutes.reason(finding, policy_id, now) is not None, finding.severity)
    return verdicts


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
        self._at = 0

    def index(self, moment: float) -> int:
        """The position in :attr:`dates` of the day ``moment`` falls on. Moments come in arrival order, so the
        day only ever moves forward (a cursor; an earlier moment is looked up by bisection)."""
        position = self._at
        if moment < self.starts[position]:
            return max(0, bisect_right(self.starts, moment) - 1)
        while position + 1 < len(self.starts) and moment >= self.starts[position + 1]:
            position += 1
        self._at = position
        return position


def _worst(matched: list[tuple]) -> list[SecurityEvent]:
    """The most severe matched events (severity, then CVSS, then newest), as stored events."""
    top = heapq.nlargest(WORST_COUNT, matched)
    found = SecurityEvent.objects.select_related("batch").in_bulk([pk for _, _, pk in top])
    return [found[pk] for _, _, pk in top if pk in found]


def _candidates(
    policy: CompiledPolicy, scopes: list[CompiledScope], since: datetime
) -> tuple[list[tuple], dict[object, _Finding]]:
    """The stored events of the window the draft may match (a superset of the engine's answer), in arrival order,
    as rows ``(arrival in epoch seconds, batch, fingerprint, finding key, CVSS, id)``, and the distinct findings of
    those rows by their key."""
    queryset = SecurityEvent.objects.filter(
        type=policy.event_type, severity__gte=policy.threshold, received_at__gte=since
    ).filter(_scopes_filter(scopes))
    if connection.vendor == "postgresql":
        return _candidates_postgresql(queryset)
    return _candidates_portable(queryset)


def _candidates_portable(queryset: QuerySet[SecurityEvent]) -> tuple[list[tuple], dict[object, _Finding]]:
    """:func:`_candidates` on any database: a finding's key is the tuple of its fields."""
    rows = []
    findings: dict[object, _Finding] = {}
    for received, batch, fingerprint, cvss, pk, *fields in queryset.order_by("received_at", "id").values_list(
        "received_at", "batch_id", "fingerprint", "cvss", "id", *FINDING_FIELDS
    ):
        key = tuple(fields)
        if key not in findings:
            findings[key] = _Finding(*fields)
        rows.append((received.timestamp(), batch, fingerprint, key, cvss, pk))
    return rows, findings


def _candidates_postgresql(queryset: QuerySet[SecurityEvent]) -> tuple[list[tuple], dict[object, _Finding]]:
    """:func:`_candidates` on PostgreSQL. A row carries its finding as one text key (sending the eleven fields of
    every event as columns cost seconds); the fields come once per key, read by the id of an event that has them."""
    quote = connection.ops.quote_name
    record = ", ".join(quote(SecurityEvent._meta.get_field(name).column) for name in FINDING_FIELDS)
    queryset = queryset.annotate(
        # Epoch seconds and the batch as text: reading timestamps with their time zone, or UUID objects, costs
        # more than all the rest.
        received=RawSQL("EXTRACT(EPOCH FROM received_at)::float8", ()),
        batch_text=RawSQL("batch_id::text", ()),
        # The finding's fields as one record's text: exact (a record's text reads back as that record) and cheaper
        # for the server than any digest of it (MD5 cost a quarter of the statement).
        finding_key=RawSQL(f"ROW({record})::text", ()),
    )
    queryset = queryset.order_by("received_at", "id").values_list(
        "received", "batch_text", "fingerprint", "finding_key", "cvss", "id"
    )
    # The ORM builds the statement; the rows are read raw (model-less tuples cost a third of values_list's).
    sql, params = queryset.query.sql_with_params()
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Sorting a month of candidates in memory rather than on disk (the default work_mem spills it).
            cursor.execute("SET LOCAL work_mem = '64MB'")
        # psycopg's own cursor on the same connection, reading binary results: Django's cursors bind on the client
        # side, which reads every value as text, and parsing a hundred thousand rows of text took twice as long.
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params, binary=True)
            rows = cursor.fetchall()
    first: dict[str, int] = {}
    for row in rows:
        first.setdefault(row[KEY], row[ID])
    fields = ", ".join(quote(SecurityEvent._meta.get_field(name).column) for name in ["id", *FINDING_FIELDS])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {fields} FROM {quote(SecurityEvent._meta.db_table)} WHERE id = ANY(%s::bigint[])",
            [array_literal(first.values())],
        )
        by_id = {pk: values for pk, *values in cursor.fetchall()}
    return rows, {key: _Finding(*by_id[pk]) for key, pk in first.items()}


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
