"""The case-insensitive cluster index (0008) also answers prefixes, on PostgreSQL: a scope's glob with a literal
prefix (``legac*``) filters by ``UPPER(cluster) LIKE 'LEGAC%'`` beside its regex (kcs.visibility.scope_q), and only
a ``text_pattern_ops`` index serves LIKE whatever the database's collation (the regex alone reads every event when
the glob's clusters are rare). Equality, which 0008 served, is in that operator class too.

The model's state keeps 0008's definition: Django cannot declare an operator class on an expression index for
SQLite, which needs none. Built CONCURRENTLY, then swapped, so that ingest goes on while a large table is indexed.
"""

from django.db import migrations

TABLE = "events_securityevent"
INDEX = "event_cluster_ci_id"


def _rebuild(opclass: str):
    def rebuild(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in (
            f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}_new",  # left by an interrupted run
            f"CREATE INDEX CONCURRENTLY {INDEX}_new ON {TABLE} ((UPPER(cluster)) {opclass}, id)",
            f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}",
            f"ALTER INDEX {INDEX}_new RENAME TO {INDEX}",
        ):
            schema_editor.execute(statement)

    return rebuild


class Migration(migrations.Migration):
    atomic = False  # CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("events", "0008_event_cluster_scope_index")]

    operations = [migrations.RunPython(_rebuild("text_pattern_ops"), _rebuild(""), elidable=False)]
