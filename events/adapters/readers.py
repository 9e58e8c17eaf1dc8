"""Typed reading of untrusted tool output: bytes to JSON, then strings, numbers, lists, objects and severities.

Every reader takes the container, the key and the ``path`` of the container (``Results[0].Vulnerabilities[3]``)
and either returns a value of the promised type or raises :class:`AdapterError` naming the exact place, so a
client learns what to fix. Missing and ``null`` values are read as empty unless the field is required: the tools
leave out whatever they did not find.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator, Mapping
from typing import Any

from events.models import Severity
from kcs import bounds


class AdapterError(ValueError):
    """The payload is not what this tool sends: wrong tool, missing field, wrong type. ``path`` says where.

    Defined beside the readers, which raise most of them; :mod:`events.adapters.base` makes it part of the
    adapter contract.
    """

    def __init__(self, message: str, path: str = ""):
        super().__init__(message)
        self.message = message
        self.path = path

    def as_errors(self) -> dict[str, list[str]]:
        """Field-level form for the API's 400 body: ``{path or "non_field_errors": [message]}``."""
        return {self.path or "non_field_errors": [self.message]}


# --- decoding --------------------------------------------------------------------------------------------------


def text_of(body: bytes) -> str:
    """The body as text: UTF-8 (with or without BOM), or UTF-16 with a BOM (PowerShell's ``>`` writes that)."""
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as exc:
        raise AdapterError(f"The body is not UTF-8 text (byte {exc.start}).") from None


def decode_json(body: bytes, label: str) -> Any:
    """One JSON value from the body; raises :class:`AdapterError` saying what is wrong and where."""
    text = text_of(body)
    if not text.strip():
        raise AdapterError(f"The body is empty: send the {label} JSON output.")
    try:
        value = bounds.loads(text)  # at most MAX_JSON_DEPTH levels: deeper JSON is refused, not parsed
    except json.JSONDecodeError as exc:
        raise AdapterError(f"The body is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from None
    except bounds.JSONTooDeep as exc:
        raise AdapterError(exc.message, exc.path) from None
    check_text(text, value)
    return value


def check_text(text: str, value: Any, where: str = "") -> None:
    """Raise :class:`AdapterError` naming the path of a lone surrogate (a ``\\udc00`` escape) in ``value``.

    No database can store one (SQLite keeps it and every later read fails), and adapters hash and encode text.
    ``value`` is the JSON ``text`` decoded; ``where`` prefixes the path (``[3]`` for a line of JSON lines).
    """
    path = bounds.unencodable_path(text, value)
    if path is not None:
        path = f"{where}{'.' if where and path and not path.startswith('[') else ''}{path}"
        message = "text that is not valid Unicode (an unpaired surrogate such as \\udc00); fix the tool's output."
        raise AdapterError(f"{path or 'The body'}: {message}", path)


# --- typed values ----------------------------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def obj(value: Any, path: str) -> dict[str, Any]:
    """``value`` as a JSON object, or an error naming ``path``."""
    if not isinstance(value, dict):
        raise AdapterError(f"{path}: expected an object, got {_type_name(value)}.", path)
    return value


def section(container: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
    """``container[key]`` as an object ({} when missing or null)."""
    value = container.get(key)
    if value is None:
        return {}
    return obj(value, f"{path}.{key}" if path else key)


def items(container: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> list[Any]:
    """``container[key]`` as a list (missing or null: empty, unless required)."""
    where = f"{path}.{key}" if path else key
    value = container.get(key)
    if value is None:
        if required:
            raise AdapterError(f"{where}: this field is required.", where)
        return []
    if not isinstance(value, list):
        raise AdapterError(f"{where}: expected a list, got {_type_name(value)}.", where)
    return value


def objects(
    container: Mapping[str, Any], key: str, path: str, *, required: bool = False
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(path, object)`` for each element of the list ``container[key]``; every element must be an object."""
    where = f"{path}.{key}" if path else key
    for index, value in enumerate(items(container, key, path, required=required)):
        yield f"{where}[{index}]", obj(value, f"{where}[{index}]")


def text(container: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str:
    """``container[key]`` as a string ('' when missing or null, an error when required)."""
    where = f"{path}.{key}" if path else key
    value = container.get(key)
    if value is None or (required and value == ""):
        if required:
            raise AdapterError(f"{where}: this field is required.", where)
        return ""
    if not isinstance(value, str):
        raise AdapterError(f"{where}: expected a string, got {_type_name(value)}.", where)
    return value


def number(container: Mapping[str, Any], key: str, path: str) -> float | None:
    """``container[key]`` as a float (None when missing or null)."""
    value = container.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        where = f"{path}.{key}" if path else key
        raise AdapterError(f"{where}: expected a number, got {_type_name(value)}.", where)
    return float(value)


def cvss_score(value: float | None) -> float | None:
    """A CVSS base score in 0..10, or None (tools sometimes write 0 for "not scored" or garbage above 10)."""
    if value is None or not 0 < value <= 10:
        return None
    return round(value, 1)


def name_and_version(value: Any) -> str:
    """``"Trivy v0.56.2"`` from ``{"name": "Trivy", "version": "v0.56.2", …}`` ('' for anything else)."""
    if not isinstance(value, dict):
        return ""
    return " ".join(str(value[key]) for key in ("name", "version") if value.get(key))


# --- severities ------------------------------------------------------------------------------------------------


def severity_table(mapping: Mapping[str, Severity]) -> dict[str, str]:
    """A lookup from a tool's severity names (any case) to our slugs; each adapter module builds its own."""
    return {name.lower(): level.slug for name, level in mapping.items()}


def severity(table: Mapping[str, str], container: Mapping[str, Any], key: str, path: str) -> str:
    """The slug for ``container[key]`` in ``table``; missing or unrecognised names are ``unknown``."""
    name = text(container, key, path)
    return table.get(name.strip().lower(), Severity.UNKNOWN.slug)
