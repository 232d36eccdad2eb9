"""Django's PostgreSQL backend, with a health check that costs no round trip when there is nothing to doubt.

With `CONN_HEALTH_CHECKS` Django checks a kept connection once per request before using it; its PostgreSQL
backend does so with `SELECT 1`, one round trip on every request (on the online grant, one in seven). A
connection that has gone bad between requests nearly always says so on its socket: the server writes a FATAL
message before it ends a session (a restart, `pg_terminate_backend`, `idle_session_timeout`) and then closes
it, and a pooler that drops it closes it too; either way the idle socket becomes readable. So the check here
polls the socket without waiting: an idle connection with nothing to read is taken as usable; anything else
(something to read — which may also be a harmless notification —, a transaction left open or failed, a
socket that cannot be polled) gets Django's `SELECT 1`, as before. What neither check can see ahead of time,
a network that silently stopped carrying packets, surfaces on the first real query as before.
"""

import select

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


def socket_is_quiet(connection) -> bool:
    """Whether psycopg `connection` is open, idle outside a transaction and has nothing waiting to be read."""
    if connection.closed or connection.broken:
        return False
    if connection.info.transaction_status != TransactionStatus.IDLE:
        return False
    try:
        readable, _, _ = select.select([connection.fileno()], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        if self.connection is not None and socket_is_quiet(self.connection):
            return True
        return super().is_usable()
