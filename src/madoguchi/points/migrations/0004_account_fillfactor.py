"""Room in each page of points_pointaccount for the new versions of its rows (PostgreSQL only).

Every batch of grants updates `granted`, which no index contains: with free room in the page the update is HOT
(heap-only: no index entry written, the old version pruned in place). 60 % leaves room for a second version of
about half the rows of a page. Pages written before this migration get the room as their old versions are pruned.
"""

from django.db import migrations


def set_fillfactor(apps, schema_editor, value=60):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE points_pointaccount SET (fillfactor = {int(value)})")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE points_pointaccount RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("points", "0003_ledger_indexes"),
    ]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor, elidable=False)]
