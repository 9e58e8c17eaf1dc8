"""Shell globs (``prod-*``, ``team-?/api``, ``[abc]``) as every part of the product reads them: the engine's
case-insensitive matcher, the literal prefix its index files patterns by, and the SQL regex that lists filter by.

One module so that a scope means the same thing to the engine, the scoped lists and the silences.
"""

from __future__ import annotations

import fnmatch
import re
import string
from collections.abc import Iterable

GLOB_CHARS = set("*?[")


def compile_globs(patterns: Iterable[str]) -> re.Pattern | None:
    """One case-insensitive regex matching any of the glob ``patterns``; None for an empty list."""
    parts = [fnmatch.translate(p.strip()) for p in patterns if p and p.strip()]
    if not parts:
        return None
    return re.compile("|".join(f"(?:{part})" for part in parts), re.IGNORECASE)


def literal_prefix(pattern: str) -> str:
    """The part of a glob before its first wildcard: every value it matches starts with this."""
    match = re.search(r"[*?[]", pattern)
    return pattern if match is None else pattern[: match.start()]


_ESCAPED = frozenset(string.punctuation + " ")  # ASCII only: PostgreSQL reads a backslash before a letter as an escape


def glob_to_regex(pattern: str, vendor: str) -> str | None:
    """A regex matching the whole value against a shell glob (``*``, ``?``, ``[abc]``, ``[!a-z]``), for ``vendor``;
    None for a glob that matches nothing (a bracket holding only reversed ranges such as ``[z-a]``).

    SQLite's REGEXP is Python's ``re``: fnmatch's own translation, whose atomic-group trick keeps ``*a*a*a*b``
    from backtracking for minutes. PostgreSQL has no such syntax (it answered a*b*c with an error); its engine does
    not backtrack, so plain ``.*`` is safe there.
    """
    if vendor != "postgresql":
        return "^" + fnmatch.translate(pattern)
    parts = ["^"]
    index, size = 0, len(pattern)
    while index < size:
        char = pattern[index]
        index += 1
        if char == "*":
            if parts[-1] != ".*":
                parts.append(".*")
        elif char == "?":
            parts.append(".")
        elif char == "[" and (klass := _bracket(pattern, index)) is not None:
            regex, index = klass
            if regex is None:
                return None
            parts.append(regex)
        else:
            parts.append("\\" + char if char in _ESCAPED else char)
    parts.append("$")
    return "".join(parts)


def _bracket(pattern: str, start: int) -> tuple[str | None, int] | None:
    """The regex for the bracket expression opening before ``start`` (None when it matches nothing) and the index
    after it; None when it is not closed (the ``[`` is then literal). Reversed ranges (``z-a``) are empty, as in
    fnmatch."""
    index = start
    negate = index < len(pattern) and pattern[index] == "!"
    index += negate
    if index < len(pattern) and pattern[index] == "]":
        index += 1  # a ] right after the opening is a member
    end = pattern.find("]", index)
    if end == -1:
        return None
    body = pattern[start + negate : end]
    members = []
    position = 0
    while position < len(body):
        if position + 2 < len(body) and body[position + 1] == "-":
            low, high = body[position], body[position + 2]
            if low <= high:
                members.append(f"{_class_char(low)}-{_class_char(high)}")
            position += 3
        else:
            members.append(_class_char(body[position]))
            position += 1
    if not members:  # only reversed ranges: nothing, or anything when negated
        return ("." if negate else None), end + 1
    return f"[{'^' if negate else ''}{''.join(members)}]", end + 1


def _class_char(char: str) -> str:
    return "\\" + char if char in _ESCAPED else char
