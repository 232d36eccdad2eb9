"""The PostgreSQL backend's health check (core/db/backends/postgresql): a quiet idle connection is usable without
a round trip; a session the server ended is found out and replaced; anything doubtful gets Django's SELECT 1."""

import time

import psycopg
import pytest
from django.db import connection, connections

from madoguchi.core.db.backends.postgresql.base import DatabaseWrapper, socket_is_quiet

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL backend's own check"),
    pytest.mark.django_db,
]


def _own_connection():
    """A second Django connection to the same database, outside the test's transaction."""
    wrapper = DatabaseWrapper(connection.settings_dict, alias="health-check-test")
    wrapper.ensure_connection()
    return wrapper


def _terminate(pid: int) -> None:
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_the_project_uses_this_backend():
    assert isinstance(connections["default"], DatabaseWrapper)
    assert isinstance(connections["vault"], DatabaseWrapper)


def test_a_quiet_connection_is_usable_without_a_query(monkeypatch):
    wrapper = _own_connection()
    try:
        asked = []
        monkeypatch.setattr("django.db.backends.postgresql.base.DatabaseWrapper.is_usable",
                            lambda self: asked.append(1) or True)  # fmt: skip
        assert socket_is_quiet(wrapper.connection)
        assert wrapper.is_usable() and asked == []
        # Inside a transaction it is not "idle": the ordinary check decides.
        wrapper.connection.execute("BEGIN")
        assert not socket_is_quiet(wrapper.connection)
        assert wrapper.is_usable() and asked == [1]
        wrapper.connection.execute("ROLLBACK")
    finally:
        wrapper.close()


def test_a_session_the_server_ended_is_found_and_replaced():
    wrapper = _own_connection()
    try:
        with wrapper.connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        _terminate(pid)
        for _ in range(100):  # the FATAL message and the close reach the socket shortly after
            if not socket_is_quiet(wrapper.connection):
                break
            time.sleep(0.01)
        assert not socket_is_quiet(wrapper.connection)
        assert wrapper.is_usable() is False
        # What Django does at the start of a request: the dead connection is closed, the next query reconnects.
        wrapper.health_check_enabled, wrapper.health_check_done = True, False
        wrapper.close_if_health_check_failed()
        assert wrapper.connection is None
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            assert cursor.fetchone()[0] != pid
    finally:
        wrapper.close()


def test_something_to_read_gets_the_ordinary_check():
    """A notification waiting on the socket is not an error: the SELECT 1 fallback says usable."""
    wrapper = _own_connection()
    try:
        wrapper.connection.autocommit = True
        wrapper.connection.execute("LISTEN health_check_test")
        params = connection.get_connection_params()
        with psycopg.connect(**params, autocommit=True) as other:
            other.execute("NOTIFY health_check_test")
        for _ in range(100):
            if not socket_is_quiet(wrapper.connection):
                break
            time.sleep(0.01)
        assert not socket_is_quiet(wrapper.connection)
        assert wrapper.is_usable() is True
    finally:
        wrapper.close()
