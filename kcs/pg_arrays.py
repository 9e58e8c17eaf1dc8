"""PostgreSQL array literals for bulk statements: ``unnest(%s::bigint[], %s::text[])`` with one text parameter per
column.

psycopg adapts a Python list element by element in Python, which in a 1,000-event evaluation (thousands of
repeat marks and event links) cost about as much as the statements themselves; a literal built by one ``join`` is
a single string to send, and the server parses it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def _element(value) -> str:
    # The common types first, by exact type: this runs for every value of every bulk statement.
    kind = type(value)
    if kind is str:
        text = value
    elif kind is int:
        return str(value)
    elif value is None:
        return "NULL"
    elif isinstance(value, int) and not isinstance(value, bool):
        return str(int(value))
    else:
        text = str(value)
    # Quoted, with backslashes and double quotes escaped: any text is taken literally (commas, braces, "NULL").
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def array_literal(values: Iterable) -> str:
    """``{1,2,"a b"}``: integers as they are, everything else as quoted text, None as NULL. Cast it in SQL."""
    return "{" + ",".join(map(_element, values)) + "}"


def insert_columns(model, columns: Mapping[str, Sequence], constants: Mapping[str, Any] | None = None) -> list:
    """INSERT rows of ``model`` given column by column, in one statement, on PostgreSQL; their primary keys in order.

    ``columns``: field attribute name → one value per row, as the database takes it (int, str or None: sent as they
    are, without the field's conversion — that conversion, per value, cost more than the insert itself).
    ``constants``: field attribute name → the one value of every row (converted by its field). Every other field
    takes its default; a field whose default is callable must be named (one value for all rows would not be what a
    per-row default means). One array literal per column, unnested by the server; no model instances.
    """
    from django.db import DEFAULT_DB_ALIAS, connections

    # The connection itself, not the ``django.db.connection`` proxy (each attribute read through it is a
    # thread-local lookup).
    connection = connections[DEFAULT_DB_ALIAS]
    lengths = {len(values) for values in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f"columns of different lengths (or none): {sorted(lengths)}")
    if not lengths.pop():
        return []
    fixed = dict(constants or {})
    unknown = set(columns) & set(fixed)
    if unknown:
        raise ValueError(f"both a column and a constant: {sorted(unknown)}")
    missing = (set(columns) | set(fixed)) - {f.attname for f in model._meta.concrete_fields if not f.primary_key}
    if missing:
        raise ValueError(f"{model.__name__} has no fields {sorted(missing)}")
    names, selected, fixed_params, arrays, casts = [], [], [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        db_type = field.db_type(connection)
        names.append(connection.ops.quote_name(field.column))
        if field.attname in columns:
            arrays.append(array_literal(columns[field.attname]))
            casts.append(f"%s::{db_type}[]")
            selected.append(f"u.c{len(casts)}")
            continue
        if field.attname in fixed:
            value = fixed.pop(field.attname)
        elif field.has_default() and callable(field.default):
            raise ValueError(f"{model.__name__}.{field.attname} has a per-row default: give its values")
        else:
            value = field.get_default()
        fixed_params.append(field.get_db_prep_save(value, connection))
        selected.append(f"%s::{db_type}")
    table = connection.ops.quote_name(model._meta.db_table)
    pk = connection.ops.quote_name(model._meta.pk.column)
    aliases = ", ".join(f"c{n}" for n in range(1, len(casts) + 1))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(selected)} "
            f"FROM unnest({', '.join(casts)}) AS u({aliases}) RETURNING {pk}",
            [*fixed_params, *arrays],
        )
        return [row[0] for row in cursor.fetchall()]
