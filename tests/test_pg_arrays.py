"""Array literals for bulk statements: whatever the text, PostgreSQL reads back exactly what was sent."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from kcs.pg_arrays import array_literal

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL array literals"),
]

AWKWARD = ["plain", "", "a,b", "{braces}", 'say "hi"', "back\\slash", "NULL", " spaced ", "ünïcode ✓", "new\nline"]


def read_back(literal: str, cast: str) -> list:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT unnest(%s::{cast}[])", [literal])
        return [row[0] for row in cursor.fetchall()]


def test_text_comes_back_unchanged():
    assert read_back(array_literal(AWKWARD), "text") == AWKWARD


def test_integers_nulls_and_an_empty_list():
    assert read_back(array_literal([1, -2, 9_007_199_254_740_993, None]), "bigint") == [
        1,
        -2,
        9_007_199_254_740_993,
        None,
    ]
    assert read_back(array_literal([]), "bigint") == []


def test_json_documents_stay_json():
    documents = ['{"policy": "a \\"quoted\\" name", "events": 3}', "[]"]
    # Django reads jsonb as text: parse it.
    read = [json.loads(value) for value in read_back(array_literal(documents), "jsonb")]
    assert read == [{"policy": 'a "quoted" name', "events": 3}, []]


def test_insert_columns_stores_columns_constants_and_defaults_and_returns_ids_in_order():
    from django.utils import timezone

    from kcs.pg_arrays import insert_columns
    from notifications.models import Notification

    now = timezone.now()
    keys = [f"key-{n}" for n in range(5)]
    ids = insert_columns(
        Notification,
        {"idempotency_key": keys, "policy_name": AWKWARD[:5], "status": ["muted", "suppressed"] * 2 + ["pending"]},
        constants={"next_attempt_at": now, "created_at": now, "trigger_label": "Malware"},
    )
    rows = Notification.objects.in_bulk(ids)
    assert [rows[pk].idempotency_key for pk in ids] == keys  # ids come back in the order of the values
    assert [rows[pk].policy_name for pk in ids] == AWKWARD[:5]
    first = rows[ids[0]]
    assert (first.status, first.trigger_label, first.created_at, first.next_attempt_at) == (
        "muted",
        "Malware",
        now,
        now,
    )
    # Every other field has its default, as bulk_create would store it.
    assert (first.attempts, first.last_error, first.muted_by, first.policy_id, first.sent_at) == (0, "", "", None, None)


def test_insert_columns_refuses_what_it_cannot_store_faithfully():
    from kcs.pg_arrays import insert_columns
    from notifications.models import Notification

    with pytest.raises(ValueError, match="next_attempt_at"):  # a per-row default (timezone.now) must be given
        insert_columns(Notification, {"idempotency_key": ["a"]})
    with pytest.raises(ValueError, match="colour"):
        insert_columns(Notification, {"idempotency_key": ["a"], "colour": ["red"]})
    with pytest.raises(ValueError, match="lengths"):
        insert_columns(Notification, {"idempotency_key": ["a", "b"], "policy_name": ["x"]})
    assert insert_columns(Notification, {"idempotency_key": []}) == []
    assert not Notification.objects.exists()
