"""The database itself keeps published forms and filed answers unchanged (PostgreSQL and SQLite triggers).

- procedures_formversion: once a version is no longer a draft its definition and hash cannot change, and it
  cannot be deleted (submissions point at it); only its status may move on (published → retired).
- procedures_submissionrevision: no UPDATE at all — what an applicant filed (and signed) stays as filed. A
  correction is a new revision. DELETE stays possible for the retention purge, which is audited.
"""

from django.db import migrations

SQLITE_UP = [
    """CREATE TRIGGER procedures_formversion_frozen BEFORE UPDATE ON procedures_formversion
       WHEN OLD.status <> 'draft'
        AND (NEW.definition IS NOT OLD.definition OR NEW.sha256 IS NOT OLD.sha256
             OR NEW.procedure_id IS NOT OLD.procedure_id OR NEW.number IS NOT OLD.number)
       BEGIN SELECT RAISE(ABORT, 'a published form version is frozen: UPDATE refused'); END;""",
    """CREATE TRIGGER procedures_formversion_keep BEFORE DELETE ON procedures_formversion
       WHEN OLD.status <> 'draft'
       BEGIN SELECT RAISE(ABORT, 'a published form version is kept: DELETE refused'); END;""",
    """CREATE TRIGGER procedures_revision_no_update BEFORE UPDATE ON procedures_submissionrevision
       BEGIN SELECT RAISE(ABORT, 'a filed submission revision never changes: UPDATE refused'); END;""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS procedures_formversion_frozen;",
    "DROP TRIGGER IF EXISTS procedures_formversion_keep;",
    "DROP TRIGGER IF EXISTS procedures_revision_no_update;",
]
POSTGRES_UP = [
    """CREATE OR REPLACE FUNCTION procedures_formversion_guard() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'DELETE' THEN
           IF OLD.status <> 'draft' THEN
             RAISE EXCEPTION 'a published form version is kept: DELETE refused'
               USING ERRCODE = 'insufficient_privilege';
           END IF;
           RETURN OLD;
         END IF;
         IF OLD.status <> 'draft' AND (NEW.definition::text IS DISTINCT FROM OLD.definition::text
             OR NEW.sha256 IS DISTINCT FROM OLD.sha256 OR NEW.procedure_id IS DISTINCT FROM OLD.procedure_id
             OR NEW.number IS DISTINCT FROM OLD.number) THEN
           RAISE EXCEPTION 'a published form version is frozen: UPDATE refused'
             USING ERRCODE = 'insufficient_privilege';
         END IF;
         RETURN NEW;
       END; $$ LANGUAGE plpgsql;""",
    """CREATE TRIGGER procedures_formversion_guard BEFORE UPDATE OR DELETE ON procedures_formversion
       FOR EACH ROW EXECUTE FUNCTION procedures_formversion_guard();""",
    """CREATE OR REPLACE FUNCTION procedures_revision_refuse_update() RETURNS trigger AS $$
       BEGIN
         RAISE EXCEPTION 'a filed submission revision never changes: UPDATE refused'
           USING ERRCODE = 'insufficient_privilege';
       END; $$ LANGUAGE plpgsql;""",
    """CREATE TRIGGER procedures_revision_no_update BEFORE UPDATE ON procedures_submissionrevision
       FOR EACH ROW EXECUTE FUNCTION procedures_revision_refuse_update();""",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS procedures_formversion_guard ON procedures_formversion;",
    "DROP FUNCTION IF EXISTS procedures_formversion_guard();",
    "DROP TRIGGER IF EXISTS procedures_revision_no_update ON procedures_submissionrevision;",
    "DROP FUNCTION IF EXISTS procedures_revision_refuse_update();",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql, None)

    return run


class Migration(migrations.Migration):
    dependencies = [("procedures", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}),
        )
    ]
