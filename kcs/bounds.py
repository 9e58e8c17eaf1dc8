"""Bounds on untrusted input: what the database, Python's ``datetime`` and ``json`` can hold and give back.

A value outside these bounds must be refused where it comes in (400 naming the field, 404 for an id in a path),
never stored: a date PostgreSQL keeps but Python cannot read, an id no database integer holds, text SQLite stores
but nothing can encode again, or JSON nested so deeply that parsing it exhausts the stack.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

# --- dates ------------------------------------------------------------------------------------------------------

# Inclusive years, in UTC. Far inside what PostgreSQL, SQLite and Python's datetime all hold, so a stored date
# stays readable after any time-zone conversion and a filter can add a day to it.
MIN_YEAR = 1970
MAX_YEAR = 9000
DATE_RANGE_MESSAGE = f"Must be between {MIN_YEAR}-01-01 and {MAX_YEAR}-12-31 (UTC)."


def utc_in_range(value: datetime) -> datetime | None:
    """``value`` (aware; naive is taken as UTC) in UTC when its year is within the bounds; None otherwise."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-14:00 is in year 10000
        return None
    return utc if MIN_YEAR <= utc.year <= MAX_YEAR else None


# --- ids --------------------------------------------------------------------------------------------------------

MAX_ID = 2**63 - 1  # the largest value of a bigint (PostgreSQL) or an INTEGER (SQLite): no id is above it


def id_in_range(value: int) -> bool:
    """True when ``value`` can be a row id (1 to 2**63 - 1); comparing with anything larger fails in the database."""
    return 0 < value <= MAX_ID


# --- text -------------------------------------------------------------------------------------------------------

# JSON's \ud800–\udfff escapes decode to lone surrogates, which no database encoding can hold: SQLite stores them
# and every later read fails, PostgreSQL refuses the write.
UNICODE_MESSAGE = "Must be valid Unicode text (it contains an unpaired surrogate such as \\udc00)."
NUL_MESSAGE = "Must not contain NUL (\\u0000) characters."
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def is_encodable(text: str) -> bool:
    """True when ``text`` can be written as UTF-8 (it holds no lone surrogate)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored (a NUL or a lone surrogate), or None."""
    if "\x00" in text:
        return NUL_MESSAGE
    if not is_encodable(text):
        return UNICODE_MESSAGE
    return None


def unencodable_path(text: str, value: Any) -> str | None:
    """The path (``Results[0].Title``) of the first key or string in ``value``, decoded from the JSON ``text``, that
    holds a lone surrogate; None when there is none. Cheap unless the text has a surrogate escape (``\\ud800``)."""
    if not _SURROGATE_ESCAPE.search(text):
        return None  # UTF-8 text decodes to valid code points: only escapes make lone surrogates
    return _first_path(value, lambda item, _depth: isinstance(item, str) and not is_encodable(item))


def json_text_problem(value: Any) -> str | None:
    """Why a JSON value cannot be stored (a NUL or a lone surrogate in any key or string in it), or None."""
    dumped = json.dumps(value)  # ASCII: NUL and surrogates appear as escapes wherever they hide
    if "\\u0000" in dumped:
        return NUL_MESSAGE
    if "\\ud" in dumped and not is_encodable(json.dumps(value, ensure_ascii=False)):
        return UNICODE_MESSAGE
    return None


# --- JSON -------------------------------------------------------------------------------------------------------

# Levels of lists and objects. Real payloads use about ten (a trivy-operator list of reports); Python's parser
# gives up near a thousand with a RecursionError, and everything that walks a value recursively before that.
MAX_JSON_DEPTH = 64
_SHOWN_PATH_PARTS = 6
_CONTAINERS = (dict, list)  # what json.loads makes of objects and arrays
_JSON_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_JSON_TOKENS = re.compile(_JSON_STRING + r"|[\[\]{}]")
_CONSTANT_TOKENS = re.compile(_JSON_STRING + r"|-?Infinity|NaN")


class JSONTooDeep(ValueError):
    """JSON nested more than :data:`MAX_JSON_DEPTH` levels; ``path`` (``[1].details.x``) or ``where`` says where."""

    def __init__(self, limit: int, *, path: str = "", where: str = ""):
        self.limit = limit
        self.path = path
        location = f" at {path}" if path else f" ({where})" if where else ""
        self.message = f"The JSON is nested too deeply{location}: at most {limit} levels of lists and objects."
        super().__init__(self.message)


class _Constant(Exception):
    def __init__(self, name: str):
        self.name = name


def _refuse_constant(name: str) -> None:
    raise _Constant(name)


def loads(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH, **kwargs: Any) -> Any:
    """``json.loads`` for untrusted text: raises :class:`JSONTooDeep` (a ``ValueError``) for JSON nested too deeply
    and ``json.JSONDecodeError`` for ``NaN``/``Infinity`` (Python reads them; JSON, and PostgreSQL's jsonb, has
    none) unless ``parse_constant`` says otherwise."""
    kwargs.setdefault("parse_constant", _refuse_constant)
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise JSONTooDeep(max_depth, where=_position(text, max_depth)) from None
    except _Constant as constant:
        document = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text
        raise json.JSONDecodeError(
            f"{constant.name} is not a JSON value", document, _constant_position(document, constant.name)
        ) from None
    check_depth(value, max_depth)
    return value


def check_depth(value: Any, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise :class:`JSONTooDeep` naming the path when lists and objects nest more than ``max_depth`` levels."""
    level = [value] if type(value) in _CONTAINERS else []
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            too_deep = _first_path(value, lambda item, at, top=depth: at == top and type(item) in _CONTAINERS, depth)
            raise JSONTooDeep(max_depth, path=too_deep or "")
        # One list per level (a comprehension: twice as fast as a loop here, which runs over every value).
        level = [
            child
            for node in level
            for child in (node.values() if type(node) is dict else node)
            if type(child) in _CONTAINERS
        ]


def _first_path(value: Any, wanted: Callable[[Any, int], bool], max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """The path (``a[0].b``) of the first key or value ``item`` at ``depth`` (the top value is at 1) for which
    ``wanted(item, depth)`` is true, looking at most ``max_depth`` levels down; '' for the top value, None if none.
    For error messages only: the walk is slow."""
    if wanted(value, 1):
        return ""
    parts: list[str] = []

    def find(node: Any, depth: int) -> bool:
        children = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in children:
            parts.append(f".{_printable(key)}" if isinstance(node, dict) else f"[{key}]")
            if (isinstance(node, dict) and wanted(key, depth)) or wanted(child, depth):
                return True
            if isinstance(child, (dict, list)) and depth < max_depth and find(child, depth + 1):
                return True
            parts.pop()
        return False

    if not isinstance(value, (dict, list)) or not find(value, 2):
        return None
    shown = "".join(parts[:_SHOWN_PATH_PARTS]).lstrip(".")
    return shown + ("…" if len(parts) > _SHOWN_PATH_PARTS else "")


def _printable(key: Any) -> str:
    """A key as it can be shown in a message (lone surrogates as ``\\udc00``)."""
    text = str(key)
    return text if is_encodable(text) else text.encode("utf-8", "backslashreplace").decode()


def _constant_position(text: str, name: str) -> int:
    """Where the first ``name`` (NaN, Infinity, -Infinity) outside strings is in ``text`` (0 if not found)."""
    for match in _CONSTANT_TOKENS.finditer(text):
        if match.group() == name:
            return match.start()
    return 0


def _position(text: str | bytes, max_depth: int) -> str:
    """``line L, column C`` where the JSON text first nests deeper than ``max_depth`` ('' if it never does)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    depth = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token == "[" or token == "{":
            depth += 1
            if depth > max_depth:
                line = text.count("\n", 0, match.start()) + 1
                column = match.start() - text.rfind("\n", 0, match.start())
                return f"line {line}, column {column}"
        elif token == "]" or token == "}":
            depth -= 1
    return ""
