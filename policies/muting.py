"""Muting: whether an event a policy matched must stay quiet, and why (a risk acceptance, a silence).

One place that evaluation, the policy preview and the decision trace share, so the three agree. The sources are
compiled indexes cached per process (:class:`events.acceptances.AcceptanceIndex`,
:class:`policies.silences.SilenceIndex`); :func:`load` returns them as of now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from policies.engine import Verdict


@dataclass(frozen=True, slots=True)
class Mute:
    """Why one matched event stays quiet for one policy: the verdict and the acceptance or silence behind it."""

    verdict: Verdict
    source: Any


class Mutes:
    """The active risk acceptances and silences, for :meth:`reason`."""

    def __init__(self, acceptances: Any = None, silences: Any = None):
        self.acceptances = acceptances
        self.silences = silences

    def reason(self, event: Any, policy_id: int, now: datetime) -> Mute | None:
        """Why ``event`` stays quiet for policy ``policy_id`` at ``now``; None when nothing mutes it.

        An accepted risk comes first: it holds for every policy, a silence only for its own.
        """
        if self.acceptances is not None:
            acceptance = self.acceptances.covering(event, now)
            if acceptance is not None:
                return Mute(Verdict.ACCEPTED, acceptance)
        if self.silences is not None:
            silence = self.silences.silencing(event, policy_id, now)
            if silence is not None:
                return Mute(Verdict.SILENCED, silence)
        return None


def load(now: datetime) -> Mutes:
    """The mutes in force at ``now``."""
    return Mutes()
