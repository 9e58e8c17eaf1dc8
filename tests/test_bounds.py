"""kcs.bounds: the limits every entry point applies to untrusted input (JSON depth, dates, text)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from kcs import bounds

# --- JSON -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, where",
    [
        ("[" * 1000 + "]" * 1000, "(line 1, column 65)"),
        ("[" * 65 + "]" * 65, "at [0][0][0][0][0][0]…"),
        ('{"items": [{"details": ' + "[" * 70 + "]" * 70 + "}]}", "at items[0].details[0][0][0]…"),
        ('{"a": "[[[[[[", "b": {"c": ' + "{}" + "}}", None),
    ],
)
def test_json_deeper_than_the_limit_is_refused_saying_where(text, where):
    if where is None:
        assert bounds.loads(text) == {"a": "[[[[[[", "b": {"c": {}}}
        return
    with pytest.raises(bounds.JSONTooDeep) as refused:
        bounds.loads(text)
    assert where in refused.value.message and "at most 64 levels" in refused.value.message


def test_json_at_the_limit_is_accepted():
    assert bounds.loads("[" * 64 + "]" * 64) is not None


@pytest.mark.parametrize(
    "moment, expected",
    [
        (datetime.fromisoformat("9999-12-31T23:59:59-14:00"), None),
        (datetime.fromisoformat("0001-01-01T00:00:00+14:00"), None),
        (datetime.fromisoformat("1969-12-31T23:59:59+00:00"), None),
        (datetime.fromisoformat("9001-01-01T00:00:00+00:00"), None),
        (datetime.fromisoformat("1970-01-01T02:00:00+02:00"), datetime(1970, 1, 1, tzinfo=UTC)),
        (datetime(2026, 11, 26, 10), datetime(2026, 11, 26, 10, tzinfo=UTC)),
    ],
)
def test_dates_are_kept_within_the_supported_years_in_utc(moment, expected):
    assert bounds.utc_in_range(moment) == expected


@pytest.mark.parametrize(
    "text, path",
    [
        ('{"a": [1, {"b": "x\\udc00"}]}', "a[1].b"),
        ('["ok", {"k\\ud800": 1}]', "[1].k\\ud800"),
        ('"\\udfff"', ""),
        ('["\\ud83d\\ude00"]', None),  # a pair: one valid character
        ('{"a": "\\\\ud800"}', None),  # an escaped backslash, not a surrogate
    ],
)
def test_lone_surrogates_are_found_with_their_path(text, path):
    assert bounds.unencodable_path(text, json.loads(text)) == path


@pytest.mark.parametrize("text, column", [('{"a": "NaN", "b": NaN}', 19), ("[1, -Infinity]", 5), ("Infinity", 1)])
def test_nan_and_infinity_are_not_json(text, column):
    with pytest.raises(json.JSONDecodeError) as refused:
        bounds.loads(text)
    assert refused.value.colno == column and "is not a JSON value" in refused.value.msg
