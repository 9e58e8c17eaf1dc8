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
