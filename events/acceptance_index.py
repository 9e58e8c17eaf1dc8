"""The compiled index of risk acceptances: which acceptance, if any, covers an event at a given moment.

:func:`get_acceptances` is the way to the index that evaluation, the policy preview and the decision trace mute with
(through :mod:`policies.muting`): built from the open acceptances, cached per process, and rebuilt when the
``risk_acceptances`` revision (:mod:`kcs.revisions`) changed. Every change of an acceptance (:mod:`events.acceptances`)
renews that revision in its own transaction, so a process sees the new index exactly when the change is committed.

A lookup is one dict access by ``(type, finding_id)`` and then at most four more (every image, the repository, the
image by digest, the image by tag), whatever the number of acceptances. An event is anything with ``type``,
``finding_id``, ``registry``, ``repository``, ``digest`` and ``tag`` (and ``severity``, when known):
:class:`events.models.SecurityEvent`, the policies' event rows and the preview's rows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.db.models.expressions import RawSQL

from events.models import MALWARE_NEVER_ACCEPTED_FROM, EventType, Extent, RiskAcceptance
from kcs.revisions import ACCEPTANCES, read_revision

INDEX_FIELDS = ("id", "type", "finding_id", "extent", "registry", "repository", "digest", "tag")
FOREVER = float("inf")
ALL, REPOSITORY = Extent.ALL.value, Extent.REPOSITORY.value  # plain strings: compared 10,000 times per rebuild


class CompiledAcceptance:
    """What the index keeps of one open acceptance: its id and its end in seconds since the epoch (``inf``:
    unlimited). A plain class with slots: 10,000 of them are made at each rebuild."""

    __slots__ = ("id", "ends")

    def __init__(self, pk: int, ends: float):
        self.id = pk
        self.ends = ends

    @property
    def expires_at(self) -> datetime | None:
        """The end as a date-time (None: unlimited), for the screens."""
        return None if self.ends == FOREVER else datetime.fromtimestamp(self.ends, tz=UTC)

    def __repr__(self) -> str:
        return f"CompiledAcceptance(id={self.id}, expires_at={self.expires_at})"


def _rows(queryset):
    """``INDEX_FIELDS`` and the end in epoch seconds (None: unlimited) of each acceptance in ``queryset``.

    PostgreSQL gives the end as epoch seconds: reading 10,000 timestamps with their time zone cost more than
    compiling the whole index.
    """
    if connection.vendor == "postgresql":
        queryset = queryset.annotate(ends=RawSQL("EXTRACT(EPOCH FROM expires_at)::float8", ()))
        return queryset.order_by().values_list(*INDEX_FIELDS, "ends")
    return (
        (*row[:-1], None if row[-1] is None else row[-1].timestamp())
        for row in queryset.order_by().values_list(*INDEX_FIELDS, "expires_at")
    )


class _Finding:
    """The open acceptances of one finding, by extent: ``every`` image, by ``repositories`` key (registry,
    repository) and by ``images`` key (registry, repository, "@digest" or ":tag"); the dicts are made when first
    needed (most findings have one acceptance)."""

    __slots__ = ("every", "repositories", "images")

    def __init__(self) -> None:
        self.every: CompiledAcceptance | None = None
        self.repositories: dict[tuple[str, str], CompiledAcceptance] | None = None
        self.images: dict[tuple[str, str, str], CompiledAcceptance] | None = None

    def add(self, extent: str, registry: str, repository: str, digest: str, tag: str, compiled) -> None:
        if extent == ALL:
            self.every = _longer(self.every, compiled)
            return
        if extent == REPOSITORY:
            if self.repositories is None:
                self.repositories = {}
            found, key = self.repositories, (registry, repository)
        else:
            if self.images is None:
                self.images = {}
            found, key = self.images, (registry, repository, f"@{digest}" if digest else f":{tag}")
        found[key] = _longer(found.get(key), compiled)


def _longer(current: CompiledAcceptance | None, new: CompiledAcceptance) -> CompiledAcceptance:
    return new if current is None or new.ends > current.ends else current


def never_accepted(event: Any) -> bool:
    """Events no acceptance may cover: malware of High or Critical severity, and the expiry events themselves."""
    kind = getattr(event, "type", None)
    if kind == EventType.RISK_ACCEPTANCE_EXPIRED:
        return True
    severity = getattr(event, "severity", None)
    return kind == EventType.MALWARE and severity is not None and severity >= MALWARE_NEVER_ACCEPTED_FROM


class AcceptanceIndex:
    """Open risk acceptances compiled for :meth:`covering`; ``revision`` is what it was built under."""

    def __init__(self, rows: Iterable[tuple], revision: int = 0):
        self.revision = revision
        self._findings: dict[tuple[str, str], _Finding] = {}
        self._count = 0
        findings = self._findings
        for pk, kind, finding_id, extent, registry, repository, digest, tag, ends in rows:
            finding = findings.get((kind, finding_id))
            if finding is None:
                finding = findings[(kind, finding_id)] = _Finding()
            finding.add(
                extent, registry, repository, digest, tag, CompiledAcceptance(pk, FOREVER if ends is None else ends)
            )
            self._count += 1

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    @classmethod
    def load(cls, now: datetime | None = None, revision: int = 0) -> AcceptanceIndex:
        """Build the index of every open acceptance (one query). ``now`` is not needed to build it: each lookup
        checks the acceptance's end against the moment it is given."""
        return cls(_rows(RiskAcceptance.objects.open()), revision)

    def covering(self, event: Any, now: datetime) -> CompiledAcceptance | None:
        """The acceptance active at ``now`` that covers ``event`` (the one that lasts longest when several do),
        or None."""
        finding = self._findings.get((event.type, event.finding_id))
        if finding is None or never_accepted(event):
            return None
        registry, repository = event.registry, event.repository
        candidates = [finding.every]
        if finding.repositories:
            candidates.append(finding.repositories.get((registry, repository)))
        if finding.images:
            if event.digest:
                candidates.append(finding.images.get((registry, repository, f"@{event.digest}")))
            if event.tag:
                candidates.append(finding.images.get((registry, repository, f":{event.tag}")))
        moment = now.timestamp()
        best = None
        for candidate in candidates:
            if candidate is not None and candidate.ends > moment and (best is None or candidate.ends > best.ends):
                best = candidate
        return best


_lock = threading.Lock()
_cached: AcceptanceIndex | None = None


def get_acceptances(now: datetime | None = None) -> AcceptanceIndex:
    """This process's index of open acceptances, rebuilt when an acceptance changed (one primary-key read when
    it did not). ``now``: see :meth:`AcceptanceIndex.load`."""
    global _cached
    revision = read_revision(ACCEPTANCES)
    cached = _cached
    if cached is not None and cached.revision == revision:
        return cached
    with _lock:
        if _cached is None or _cached.revision != revision:
            _cached = AcceptanceIndex.load(now, revision)
        return _cached


def covering_each(events: list[Any], now: datetime) -> dict[int, CompiledAcceptance]:
    """The acceptance covering each of ``events`` at ``now``, by event id (one query, for a page of events)."""
    findings = {event.finding_id for event in events if event.finding_id}
    if not findings:
        return {}
    index = AcceptanceIndex(
        _rows(RiskAcceptance.objects.open().filter(finding_id__in=findings, type__in={e.type for e in events}))
    )
    found = {}
    for event in events:
        acceptance = index.covering(event, now)
        if acceptance is not None:
            found[event.id] = acceptance
    return found
