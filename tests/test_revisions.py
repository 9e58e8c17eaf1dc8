"""Configuration revisions: read one at a time, or all in one query inside ``read_together``."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kcs import revisions

pytestmark = pytest.mark.django_db


def test_reads_together_cost_one_query_and_answer_as_of_the_first_read():
    revisions.renew_revision(revisions.POLICY_INDEX)
    before = {name: revisions.read_revision(name) for name in (revisions.POLICY_INDEX, revisions.SILENCE_INDEX)}
    with CaptureQueriesContext(connection) as queries, revisions.read_together():
        first = revisions.read_revision(revisions.POLICY_INDEX)
        revisions.renew_revision(revisions.POLICY_INDEX)  # a change during the block: seen by the next block
        with revisions.read_together():  # nested blocks share the outer one's reading
            again = revisions.read_revision(revisions.POLICY_INDEX)
        silences = revisions.read_revision(revisions.SILENCE_INDEX)
        missing = revisions.read_revision("never changed")
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert len(reads) == 1
    assert first == again == before[revisions.POLICY_INDEX] and silences == before[revisions.SILENCE_INDEX]
    assert missing == 0
    assert revisions.read_revision(revisions.POLICY_INDEX) != first  # outside the block: read as it is now
