"""Fixtures shared by every app's tests."""

import contextlib
import importlib

import pytest
from django.db import connection

from madoguchi.core.public_bodies import public_bodies_load


@pytest.fixture
def public_bodies(db):
    """All 47 prefectures and 1,741 municipalities, as `madoguchi demo` loads them."""
    return public_bodies_load()


@pytest.fixture
def two_municipalities(db):
    """A tenant and a second one that must see nothing of the first."""
    from madoguchi.core.tests.factories import MunicipalityFactory

    return MunicipalityFactory(), MunicipalityFactory()


@contextlib.contextmanager
def audit_triggers_disabled():
    """What a database superuser could do: lift the append-only triggers to tamper with audit rows."""
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres:
            # A superuser's session that fires no triggers (ALTER TABLE would trip over deferred FK checks).
            cursor.execute("SET session_replication_role = replica")
        else:
            cursor.execute("DROP TRIGGER core_auditrecord_no_update")
            cursor.execute("DROP TRIGGER core_auditrecord_no_delete")
        try:
            yield cursor
        finally:
            if postgres:
                cursor.execute("SET session_replication_role = origin")
            else:
                migration = importlib.import_module("madoguchi.core.migrations.0002_audit_append_only")
                for sql in migration.SQLITE_UP:
                    cursor.execute(sql)
