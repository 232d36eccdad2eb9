"""Django's SQLite backend, with a flush that can empty the append-only tables.

`madoguchi flush` (and the test runner between transactional tests) deletes every row of every table. On
PostgreSQL that is a TRUNCATE, which the row triggers do not see; on SQLite it is DELETE, which the
append-only trigger refuses. Flushing wipes the whole database, audit chain heads included, so the same
statement lifts the DELETE trigger for itself and puts it back, inside flush's transaction. Nothing else
can delete audit rows. The same holds for the kept (published) form versions of the procedures app.
"""

import importlib

from django.db.backends.sqlite3 import base, operations

# table → (migration module, name of the DELETE trigger, index of its CREATE statement in SQLITE_UP)
GUARDED_TABLES = {
    "core_auditrecord": ("madoguchi.core.migrations.0002_audit_append_only", "core_auditrecord_no_delete", 1),
    "procedures_formversion": (
        "madoguchi.procedures.migrations.0002_frozen_versions_and_signed_revisions",
        "procedures_formversion_keep",
        1,
    ),
}


def _trigger_sql(table: str) -> tuple[str, str]:
    module, trigger, index = GUARDED_TABLES[table]
    migration = importlib.import_module(module)
    return f"DROP TRIGGER IF EXISTS {trigger};", migration.SQLITE_UP[index]


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        statements = super().sql_flush(
            style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
        for table in GUARDED_TABLES:
            if table in tables:
                drop, create = _trigger_sql(table)
                statements = [drop, *statements, create]
        return statements


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
