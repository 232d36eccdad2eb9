"""Django's SQLite backend, with a flush that can empty the append-only audit table.

`madoguchi flush` (and the test runner between transactional tests) deletes every row of every table. On
PostgreSQL that is a TRUNCATE, which the row triggers do not see; on SQLite it is DELETE, which the
append-only trigger refuses. Flushing wipes the whole database, audit chain heads included, so the same
statement lifts the DELETE trigger for itself and puts it back, inside flush's transaction. Nothing else
can delete audit rows.
"""

import importlib

from django.db.backends.sqlite3 import base, operations

AUDIT_TABLE = "core_auditrecord"


def _audit_trigger_sql() -> tuple[str, str]:
    migration = importlib.import_module("madoguchi.core.migrations.0002_audit_append_only")
    return "DROP TRIGGER IF EXISTS core_auditrecord_no_delete;", migration.SQLITE_UP[1]


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        statements = super().sql_flush(
            style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
        if AUDIT_TABLE in tables:
            drop, create = _audit_trigger_sql()
            statements = [drop, *statements, create]
        return statements


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
