"""The matching engine: which enabled response policies act on an event.

Pure matching (no database writes, no network): policies and scopes are compiled once into a :class:`PolicyIndex`
and events are matched against it. A policy matches an event when it is enabled (only enabled policies are
compiled), its trigger's event type equals the event's type, the event's severity reaches the policy's threshold
(triggers without a threshold accept any severity), and the event lies in ANY of the policy's scopes. Every
matching policy acts; none overrides another.

Scope semantics: an event is in a scope when every non-empty pattern list matches the event's corresponding
field (clusters → cluster, namespaces → namespace, registries → registry, repositories → repository). Patterns are
shell globs (``*``, ``?``, ``[abc]``), matched case-insensitively against the whole value. The Global scope
contains every event.

Why an index: 10,000 policies must cost little more than 10. Policies are grouped by event type and then by
scope; per scope they are sorted by threshold, so for an event only the distinct scopes of its type are tested
(each once per resource in a batch) and the policies at or below its severity are taken by bisection.

Building the index from the database and caching it per process is :mod:`policies.index_cache`'s job (its
``get_index()``); this module never touches the database.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from events.models import Severity
from kcs.globs import compile_globs, literal_prefix
from policies.models import TRIGGER_DEFAULT_SEVERITY, TRIGGER_EVENT_TYPE, Trigger

# Scope pattern list → the event attribute it constrains.
SCOPE_FIELDS = (
    ("clusters", "cluster"),
    ("namespaces", "namespace"),
    ("registries", "registry"),
    ("repositories", "repository"),
)


class Matchable(Protocol):
    """What the engine reads from an event (a SecurityEvent, or any object with these attributes)."""

    type: str
    severity: int
    cluster: str
    namespace: str
    registry: str
    repository: str


@dataclass(frozen=True, slots=True)
class CompiledScope:
    id: int
    name: str
    is_global: bool
    matchers: tuple[tuple[str, re.Pattern], ...] = ()
    # The event attribute to look this scope up by, and the lower-cased literal prefixes its patterns start with
    # (None when no attribute has a literal prefix in every pattern: the scope is then tested for every event).
    key: tuple[str, tuple[str, ...]] | None = None
    # The cleaned patterns per event attribute, as given (the preview narrows stored events with them in SQL).
    patterns: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def build(cls, id: int, name: str, is_global: bool, patterns: dict[str, Sequence[str]]) -> CompiledScope:
        matchers = []
        given = []
        key = None
        if not is_global:
            for list_name, attribute in SCOPE_FIELDS:
                cleaned = [p.strip() for p in patterns.get(list_name) or () if p and p.strip()]
                regex = compile_globs(cleaned)
                if regex is None:
                    continue
                matchers.append((attribute, regex))
                given.append((attribute, tuple(cleaned)))
                prefixes = tuple(sorted({literal_prefix(p).lower() for p in cleaned}))
                # The most selective attribute wins: the one whose shortest prefix is longest.
                if all(prefixes) and (key is None or min(map(len, prefixes)) > min(map(len, key[1]))):
                    key = (attribute, prefixes)
        return cls(id=id, name=name, is_global=is_global, matchers=tuple(matchers), key=key, patterns=tuple(given))

    def mismatches(self, event: Matchable) -> Iterator[str]:
        """The event attributes this scope's patterns do not match (none: the event is in the scope)."""
        for attribute, regex in self.matchers:
            if regex.match(getattr(event, attribute) or "") is None:
                yield attribute

    def contains(self, event: Matchable) -> bool:
        return next(self.mismatches(event), None) is None


def threshold_of(trigger: str, min_severity: int | None) -> int:
    """The lowest severity a trigger acts on: the policy's own, else the trigger's default, else any."""
    if trigger not in TRIGGER_DEFAULT_SEVERITY:
        return Severity.UNKNOWN
    return TRIGGER_DEFAULT_SEVERITY[trigger] if min_severity is None else min_severity


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    id: int
    name: str
    trigger: str
    min_severity: int | None
    repeat_interval: int
    integration_ids: tuple[int, ...]
    scope_ids: tuple[int, ...]
    # When the policy was last created or changed (the decision trace tells events evaluated before from after).
    changed_at: datetime | None = None
    event_type: str = field(init=False)
    threshold: int = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "event_type", str(TRIGGER_EVENT_TYPE[Trigger(self.trigger)]))
        object.__setattr__(self, "threshold", threshold_of(self.trigger, self.min_severity))

    def accepts(self, event: Matchable) -> bool:
        """Trigger and severity match (scopes are the index's business)."""
        return event.type == self.event_type and self.reaches_threshold(event)

    def reaches_threshold(self, event: Matchable) -> bool:
        return event.severity >= self.threshold


class Verdict(StrEnum):
    """What became of an event for one policy. The engine itself decides the first three; evaluation adds the
    others (:mod:`policies.decisions`)."""

    MATCHED = "matched"
    BELOW_THRESHOLD = "below_threshold"
    OUT_OF_SCOPE = "out_of_scope"
    ACCEPTED = "accepted"
    SILENCED = "silenced"
    SUPPRESSED = "suppressed"
    POLICY_CHANGED = "policy_changed"

    @property
    def label(self) -> str:
        return VERDICT_LABELS[self]


VERDICT_LABELS = {
    Verdict.MATCHED: "Matched",
    Verdict.BELOW_THRESHOLD: "Below threshold",
    Verdict.OUT_OF_SCOPE: "Out of scope",
    Verdict.ACCEPTED: "Risk accepted",
    Verdict.SILENCED: "Silenced",
    Verdict.SUPPRESSED: "Suppressed (repeat)",
    Verdict.POLICY_CHANGED: "Policy changed since",
}


@dataclass(frozen=True, slots=True)
class Explanation:
    """The engine's verdict on one event for one policy, with the reason in words."""

    policy: CompiledPolicy
    verdict: Verdict
    reason: str


def severity_label(value: int) -> str:
    return Severity(value).label


class _ScopeBucket:
    """The policies of one event type in one scope, sorted by threshold for bisection."""

    __slots__ = ("scope", "thresholds", "policies")

    def __init__(self, scope: CompiledScope, policies: list[CompiledPolicy]):
        policies.sort(key=lambda p: (p.threshold, p.id))
        self.scope = scope
        self.thresholds = [p.threshold for p in policies]
        self.policies = policies

    def up_to(self, severity: int) -> list[CompiledPolicy]:
        return self.policies[: bisect_right(self.thresholds, severity)]


class _ScopeLookup:
    """The scope buckets of one event type, indexed by literal pattern prefix.

    A scope whose patterns for some attribute all start with literal text (``team-7/*``, ``prod-eu``) can only
    contain events whose attribute starts with one of those prefixes, so it is filed under them; an event then
    looks up its own value's prefixes (one dictionary probe per distinct prefix length) instead of testing every
    scope. Scopes without such an attribute (Global, ``*-prod``) are tested for every event.
    """

    __slots__ = ("always", "by_prefix", "lengths")

    def __init__(self, buckets: list[_ScopeBucket]):
        self.always: list[_ScopeBucket] = []
        self.by_prefix: dict[str, dict[str, list[_ScopeBucket]]] = {}
        for bucket in buckets:
            key = bucket.scope.key
            if key is None:
                self.always.append(bucket)
                continue
            attribute, prefixes = key
            table = self.by_prefix.setdefault(attribute, {})
            for prefix in prefixes:
                table.setdefault(prefix, []).append(bucket)
        self.lengths = {attribute: sorted({len(p) for p in table}) for attribute, table in self.by_prefix.items()}

    def containing(self, event: Matchable) -> list[_ScopeBucket]:
        found = [b for b in self.always if b.scope.contains(event)]
        seen: set[int] = set()
        for attribute, table in self.by_prefix.items():
            value = (getattr(event, attribute) or "").lower()
            for length in self.lengths[attribute]:
                if length > len(value):
                    break
                for bucket in table.get(value[:length], ()):
                    scope_id = bucket.scope.id
                    if scope_id not in seen:
                        seen.add(scope_id)
                        if bucket.scope.contains(event):
                            found.append(bucket)
        return found


class PolicyIndex:
    """Enabled policies compiled for matching. Immutable; build a new one when the configuration changes.

    ``outputs`` is kept with the index for its users, as of the same configuration revision: the enabled outputs
    the policies send through, by integration id (the engine itself never reads it).
    """

    def __init__(
        self,
        policies: Iterable[CompiledPolicy],
        scopes: Iterable[CompiledScope],
        revision: Any = None,
        outputs: Mapping[int, Any] | None = None,
    ):
        self.revision = revision
        self.outputs: Mapping[int, Any] = outputs or {}
        self.policies = {p.id: p for p in policies}
        self.scopes = scope_by_id = {s.id: s for s in scopes}
        self._of_type: dict[str, list[CompiledPolicy]] = {}
        for policy in sorted(self.policies.values(), key=lambda p: (p.name.lower(), p.id)):
            self._of_type.setdefault(policy.event_type, []).append(policy)
        grouped: dict[str, dict[int, list[CompiledPolicy]]] = {}
        for policy in self.policies.values():
            for scope_id in policy.scope_ids:
                if scope_id in scope_by_id:
                    grouped.setdefault(policy.event_type, {}).setdefault(scope_id, []).append(policy)
        self._lookups = {
            event_type: _ScopeLookup([_ScopeBucket(scope_by_id[sid], members) for sid, members in by_scope.items()])
            for event_type, by_scope in grouped.items()
        }

    def __len__(self) -> int:
        return len(self.policies)

    def _in_scope_buckets(self, event: Matchable, cache: dict | None) -> list[_ScopeBucket]:
        lookup = self._lookups.get(event.type)
        if lookup is None:
            return []
        if cache is None:
            return lookup.containing(event)
        # Events of one batch usually share a resource: test each scope once per resource.
        key = (event.type, event.cluster, event.namespace, event.registry, event.repository)
        found = cache.get(key)
        if found is None:
            found = cache[key] = lookup.containing(event)
        return found

    def _match(self, event: Matchable, cache: dict | None) -> list[CompiledPolicy]:
        buckets = self._in_scope_buckets(event, cache)
        if len(buckets) == 1:
            return buckets[0].up_to(event.severity)
        seen: dict[int, CompiledPolicy] = {}
        for bucket in buckets:
            for policy in bucket.up_to(event.severity):
                seen[policy.id] = policy  # a policy in several matching scopes acts once
        return sorted(seen.values(), key=lambda p: p.id)

    def match(self, event: Matchable) -> list[CompiledPolicy]:
        """The policies that act on ``event``, each once."""
        return list(self._match(event, None))

    def match_batch(self, events: Iterable[Matchable]) -> list[tuple[CompiledPolicy, list[Matchable]]]:
        """For a batch: each acting policy with the events it acts on (in the batch's order)."""
        cache: dict = {}
        by_policy: dict[int, list[Matchable]] = {}
        for event in events:
            for policy in self._match(event, cache):
                by_policy.setdefault(policy.id, []).append(event)
        return [(self.policies[pid], matched) for pid, matched in sorted(by_policy.items())]

    def policies_for_type(self, event_type: str) -> list[CompiledPolicy]:
        """The enabled policies whose trigger covers ``event_type``, by name."""
        return self._of_type.get(event_type, [])

    def explain(self, event: Matchable) -> list[Explanation]:
        """For every enabled policy whose trigger covers the event's type: matched, below its threshold, or out of
        its scopes, with the reason.

        Built from the same tests the index matches with (:meth:`CompiledPolicy.reaches_threshold`,
        :meth:`CompiledScope.mismatches`), so a policy is ``matched`` here exactly when :meth:`match` returns it
        (a randomized test holds the two together).
        """
        return [self.explain_one(policy, event) for policy in self.policies_for_type(event.type)]

    def explain_one(self, policy: CompiledPolicy, event: Matchable) -> Explanation:
        scopes = [self.scopes[sid] for sid in policy.scope_ids if sid in self.scopes]
        misses: list[str] = []
        in_scope = False
        for scope in scopes:
            failed = list(scope.mismatches(event))
            if not failed:
                in_scope = True
                break
            values = ", ".join(f"{name} “{getattr(event, name) or ''}”" for name in failed)
            misses.append(f"scope “{scope.name}” does not contain {values}")
        if not scopes:
            misses.append("the policy has no scope")
        if not policy.reaches_threshold(event):
            reason = (
                f"Severity {severity_label(event.severity)} is below the policy's threshold "
                f"{severity_label(policy.threshold)}."
            )
            if not in_scope:
                reason += " Also out of scope: " + "; ".join(misses) + "."
            return Explanation(policy, Verdict.BELOW_THRESHOLD, reason)
        if not in_scope:
            return Explanation(policy, Verdict.OUT_OF_SCOPE, "Out of scope: " + "; ".join(misses) + ".")
        return Explanation(
            policy,
            Verdict.MATCHED,
            f"Severity {severity_label(event.severity)} reaches the threshold {severity_label(policy.threshold)} "
            f"and the event is in scope “{scope.name}”.",
        )
