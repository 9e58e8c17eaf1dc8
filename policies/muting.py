"""Muting: whether an event a policy matched must stay quiet, and why (a risk acceptance, a silence).

One place that evaluation, the policy preview and the decision trace share, so the three agree. The sources are
compiled indexes cached per process, loaded by :func:`load` as of a moment:

- risk acceptances (:mod:`events.acceptance_index`): ``covering(event, now)`` → the acceptance (an object with
  ``id``) that covers the event's finding, or None. An accepted risk holds for every policy.
- silences (:mod:`policies.silence_index`): ``matching(event, now)`` → the silences (objects with ``id`` and
  ``policy_ids``, a frozenset where empty means every policy) whose matchers hold for the event, oldest first.

Evaluation stores what a mute held back as a ``muted`` Notification whose ``muted_by`` is the mute's
:attr:`Mute.reference` (``acceptance:<id>`` or ``silence:<id>``), so each silence can list what it muted and the
decision trace can link to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from events.acceptance_index import get_acceptances
from policies import silence_index
from policies.engine import Verdict

# Every event field an acceptance or a silence matches on.
MUTE_FIELDS = (
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
# What holds for an event whatever the policy: the covering acceptance (or None) and the matching silences.
Found = tuple[Any, list]
NOTHING: Found = (None, [])
ACCEPTANCE = "acceptance"
SILENCE = "silence"
KIND_VERDICTS = {ACCEPTANCE: Verdict.ACCEPTED, SILENCE: Verdict.SILENCED}


@dataclass(frozen=True, slots=True)
class Mute:
    """Why one matched event stays quiet for one policy: the verdict and the acceptance or silence behind it."""

    verdict: Verdict
    source: Any

    @property
    def kind(self) -> str:
        return ACCEPTANCE if self.verdict == Verdict.ACCEPTED else SILENCE

    @property
    def reference(self) -> str:
        """What a muted Notification stores in ``muted_by``."""
        return reference(self.kind, self.source.id)


def reference(kind: str, pk: int) -> str:
    return f"{kind}:{pk}"


def parse_reference(value: str) -> tuple[str, int] | None:
    """``(kind, id)`` of a stored ``muted_by`` value; None when empty or not one of ours."""
    kind, _, pk = (value or "").partition(":")
    if kind not in KIND_VERDICTS or not pk.isdigit():
        return None
    return kind, int(pk)


class Mutes:
    """The active risk acceptances and silences, for :meth:`reason`.

    What holds for an event does not depend on the policy (a silence's policy list is checked last), and depends
    only on the fields acceptances and silences read (:data:`MUTE_FIELDS`), so it is looked up once per distinct
    set of those values and kept: a batch matched by many policies, or a preview over rescans of the same images,
    costs one lookup per distinct finding and resource.
    """

    def __init__(self, acceptances: Any = None, silences: Any = None):
        self.acceptances = acceptances
        self.silences = silences
        self._seen: dict[Any, Found] = {}

    def __bool__(self) -> bool:
        return bool(self.acceptances) or bool(self.silences)

    def reason(self, event: Any, policy_id: int, now: datetime) -> Mute | None:
        """Why ``event`` stays quiet for policy ``policy_id`` at ``now``; None when nothing mutes it.

        An accepted risk comes first: it holds for every policy, a silence only for its own.
        """
        return self.reason_for(self.lookup(event, now), policy_id)

    def lookup(self, event: Any, now: datetime) -> Found:
        """What holds for ``event`` at ``now`` whatever the policy: give it to :meth:`reason_for` for each policy
        that matched the event (a caller with several policies per event saves repeating the lookup)."""
        if not self:
            return NOTHING
        key = (now, *(getattr(event, name) for name in MUTE_FIELDS))
        found = self._seen.get(key)
        if found is None:
            acceptance = self.acceptances.covering(event, now) if self.acceptances else None
            silences = self.silences.matching(event, now) if self.silences and acceptance is None else []
            found = self._seen[key] = (acceptance, silences)
        return found

    @staticmethod
    def reason_for(found: Found, policy_id: int) -> Mute | None:
        """:meth:`reason` for a :meth:`lookup` result."""
        acceptance, silences = found
        if acceptance is not None:
            return Mute(Verdict.ACCEPTED, acceptance)
        for silence in silences:
            if not silence.policy_ids or policy_id in silence.policy_ids:
                return Mute(Verdict.SILENCED, silence)
        return None


def load(now: datetime) -> Mutes:
    """The mutes in force at ``now``."""
    return Mutes(acceptances=get_acceptances(now), silences=silence_index.get_index(now))
