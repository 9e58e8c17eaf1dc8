"""PostgreSQL array literals for bulk statements: ``unnest(%s::bigint[], %s::text[])`` with one text parameter per
column.

psycopg adapts a Python list element by element in Python, which in a 1,000-event evaluation (thousands of
repeat marks and event links) cost about as much as the statements themselves; a literal built by one ``join`` is
a single string to send, and the server parses it.
"""

from __future__ import annotations

from collections.abc import Iterable


def _element(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    # Quoted, with backslashes and double quotes escaped: any text is taken literally (commas, braces, "NULL").
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def array_literal(values: Iterable) -> str:
    """``{1,2,"a b"}``: integers as they are, everything else as quoted text, None as NULL. Cast it in SQL."""
    return "{" + ",".join(map(_element, values)) + "}"


def insert_returning_ids(model, objects: list) -> None:
    """INSERT ``objects`` (unsaved instances of ``model``, defaults already applied) in one statement and set their
    primary keys, on PostgreSQL: one array literal per column, unnested by the server.

    What ``bulk_create`` does, without compiling a placeholder per value (for a few hundred rows of twenty columns,
    that compilation cost more than the insert). Values are prepared by each field as ``bulk_create`` would.
    """
    from django.db import DEFAULT_DB_ALIAS, connections

    if not objects:
        return
    # The connection itself, not the ``django.db.connection`` proxy: a field prepares each value with it, and every
    # attribute read through the proxy is a thread-local lookup.
    connection = connections[DEFAULT_DB_ALIAS]
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns, casts, params = [], [], []
    for field in fields:
        values = [field.get_db_prep_save(getattr(obj, field.attname), connection) for obj in objects]
        columns.append(connection.ops.quote_name(field.column))
        casts.append(f"%s::{field.db_type(connection)}[]")
        params.append(array_literal(v if v is None or isinstance(v, int) else str(v) for v in values))
    table = connection.ops.quote_name(model._meta.db_table)
    pk = connection.ops.quote_name(model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({', '.join(casts)}) RETURNING {pk}",
            params,
        )
        ids = [row[0] for row in cursor.fetchall()]
    for obj, pk_value in zip(objects, ids, strict=True):
        obj.pk = pk_value
        obj._state.adding = False
        obj._state.db = connection.alias
