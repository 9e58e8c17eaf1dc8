"""The compiled silence index: which silences hold for an event at a moment. Built from the database, cached per
process, invalidated through a revision (as :mod:`policies.index_cache` does for policies).

:func:`get_index` is the one way to it; :mod:`policies.muting` hands it to evaluation, the preview and the trace.
Every save of a silence renews the ``silence_index`` revision in the same transaction (the signal connected by
:func:`connect_signals`); a process compares that one number before using its cached index. Pending silences
become active, and active ones expire, by time alone: the index keeps every silence not ended when it was built
with its start and end, and :meth:`SilenceIndex.matching` compares them with the ``now`` it is given. Ended
silences are dropped when the index is next rebuilt (at the latest :data:`PRUNE_AFTER` after one ended).

Why an index: 1,000 active silences must not mean 1,000 tests per event. Each silence is filed under its most
selective literal text — the literal prefix of a glob matcher (``CVE-2026-1234``, ``shop/``) or its source —
and an event only probes its own values' prefixes (one dictionary look-up per distinct prefix length); a silence
without literal text (``type`` and ``max_severity`` alone, ``*-prod``) is tested for every event.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from events.models import Severity
from kcs import revisions
from kcs.globs import compile_globs, literal_prefix
from kcs.revisions import SILENCE_INDEX
from policies.models import Silence
from policies.silence_rules import GLOB_FIELDS

PRUNE_AFTER = timedelta(minutes=5)
_lock = threading.Lock()
_cached: SilenceIndex | None = None


@dataclass(frozen=True, slots=True)
class CompiledSilence:
    """One silence ready for matching: its window, its policies (empty: every policy) and its tests."""

    id: int
    policy_ids: frozenset[int]
    starts_at: datetime
    ends_at: datetime
    type: str | None = None
    max_severity: int | None = None
    source: str | None = None
    title_contains: str | None = None
    # Glob matchers by how cheaply they are tested: whole value, literal prefix (``shop/*``), or a regex.
    equals: tuple[tuple[str, str], ...] = ()
    prefixes: tuple[tuple[str, str], ...] = ()
    globs: tuple[tuple[str, re.Pattern], ...] = ()
    # The event attribute and lower-cased literal text to file the silence under (None: tested for every event).
    key: tuple[str, str] | None = None

    @classmethod
    def build(
        cls, id: int, matchers: Mapping[str, str], policies: Iterable[int], starts_at: datetime, ends_at: datetime
    ) -> CompiledSilence:
        equals, prefixes, globs = [], [], []
        key: tuple[str, str] | None = None
        for attribute in GLOB_FIELDS:
            pattern = matchers.get(attribute)
            if not pattern:
                continue
            prefix = literal_prefix(pattern).lower()
            # Compiling a regex costs far more than comparing text: only real globs get one.
            if prefix == pattern.lower():
                equals.append((attribute, prefix))
            elif pattern == literal_prefix(pattern) + "*":
                prefixes.append((attribute, prefix))
            else:
                globs.append((attribute, compile_globs([pattern])))
            if prefix and (key is None or len(prefix) > len(key[1])):
                key = (attribute, prefix)
        source = (matchers.get("source") or "").lower() or None
        if key is None and source:
            key = ("source", source)
        severity = matchers.get("max_severity")
        return cls(
            id=id,
            policy_ids=frozenset(policies),
            starts_at=starts_at,
            ends_at=ends_at,
            type=matchers.get("type") or None,
            max_severity=int(Severity.from_slug(severity)) if severity else None,
            source=source,
            title_contains=(matchers.get("title_contains") or "").lower() or None,
            equals=tuple(equals),
            prefixes=tuple(prefixes),
            globs=tuple(globs),
            key=key,
        )

    def active_at(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def holds(self, event: Any) -> bool:
        """Every matcher holds for ``event`` (whatever the time)."""
        if self.type is not None and event.type != self.type:
            return False
        if self.max_severity is not None and event.severity > self.max_severity:
            return False
        if self.source is not None and (event.source or "").lower() != self.source:
            return False
        for attribute, value in self.equals:
            if (getattr(event, attribute) or "").lower() != value:
                return False
        for attribute, prefix in self.prefixes:
            if not (getattr(event, attribute) or "").lower().startswith(prefix):
                return False
        if self.title_contains is not None and self.title_contains not in (event.title or "").lower():
            return False
        return all(regex.match(getattr(event, attribute) or "") for attribute, regex in self.globs)


class SilenceIndex:
    """Silences compiled for matching. Immutable; a new one is built when a silence changes."""

    def __init__(self, silences: Iterable[CompiledSilence], revision: Any = None, built_at: datetime | None = None):
        self.revision = revision
        self.built_at = built_at
        self.silences = sorted(silences, key=lambda s: s.id)
        # Silences without literal text are tested for every event of their type (or of any type, without one):
        # filed by type, an event skips those of other types without testing them.
        self.always: dict[str | None, list[CompiledSilence]] = {}
        self.by_prefix: dict[str, dict[str, list[CompiledSilence]]] = {}
        for silence in self.silences:
            if silence.key is None:
                self.always.setdefault(silence.type, []).append(silence)
            else:
                attribute, prefix = silence.key
                self.by_prefix.setdefault(attribute, {}).setdefault(prefix, []).append(silence)
        self.lengths = {attribute: sorted({len(p) for p in table}) for attribute, table in self.by_prefix.items()}
        self.first_end = min((s.ends_at for s in self.silences), default=None)

    def __len__(self) -> int:
        return len(self.silences)

    def __bool__(self) -> bool:
        return bool(self.silences)

    def matching(self, event: Any, now: datetime) -> list[CompiledSilence]:
        """The silences active at ``now`` whose matchers all hold for ``event``, oldest first."""
        found = [s for s in self.always.get(event.type, ()) if s.active_at(now) and s.holds(event)]
        found += [s for s in self.always.get(None, ()) if s.active_at(now) and s.holds(event)]
        for attribute, table in self.by_prefix.items():
            value = (getattr(event, attribute) or "").lower()
            for length in self.lengths[attribute]:
                if length > len(value):
                    break
                for silence in table.get(value[:length], ()):
                    if silence.active_at(now) and silence.holds(event):
                        found.append(silence)
        if len(found) > 1:
            found.sort(key=lambda s: s.id)
        return found

    def stale(self, revision: Any, now: datetime) -> bool:
        """Whether a silence changed since this index was built, or one ended long enough ago to drop it."""
        if revision != self.revision:
            return True
        return self.first_end is not None and self.first_end <= now and now - self.built_at >= PRUNE_AFTER


def compile_silence(silence: Silence) -> CompiledSilence:
    return CompiledSilence.build(silence.pk, silence.matchers, silence.policies, silence.starts_at, silence.ends_at)


def build_index(now: datetime, revision: Any = 0) -> SilenceIndex:
    """Compile every silence that has not ended at ``now`` (one query)."""
    rows = Silence.objects.filter(ends_at__gt=now).values_list("id", "matchers", "policies", "starts_at", "ends_at")
    return SilenceIndex((CompiledSilence.build(*row) for row in rows), revision=revision, built_at=now)


def get_index(now: datetime | None = None) -> SilenceIndex:
    """The compiled silences for this process, rebuilt when a silence changed (one primary-key read)."""
    global _cached
    now = now or timezone.now()
    revision = revisions.read_revision(SILENCE_INDEX)
    cached = _cached
    if cached is not None and not cached.stale(revision, now):
        return cached
    with _lock:
        if _cached is None or _cached.stale(revision, now):
            _cached = build_index(now, revision)
        return _cached


def _on_change(sender, **kwargs) -> None:
    revisions.renew_revision(SILENCE_INDEX)


def connect_signals() -> None:
    """Renew the revision on every save of a silence, whoever makes it, in the saving transaction."""
    post_save.connect(_on_change, sender=Silence, dispatch_uid="silence-index-save")
    post_delete.connect(_on_change, sender=Silence, dispatch_uid="silence-index-delete")
