"""Fake sanitizers that the sanitization worker runs in tests (`services.WORKER_SANITIZER_HOOK`). Imported
in the worker process: no Django here, only the pure engine."""

import time

from madoguchi.security.sanitize import sanitize


def never_finishes(data, filename, *, policy, tools):
    """Stands in for a parser stuck on a hostile file: only the timeout ends it."""
    while True:
        time.sleep(3600)


def allocates_too_much(data, filename, *, policy, tools):
    """Needs 8 GiB: more than any limit the tests set, so only the limit stops it."""
    hoard = bytearray(8 * 1024**3)
    hoard[-1] = 1
    return sanitize(data, filename, policy=policy, tools=tools)


def dies(data, filename, *, policy, tools):
    import os

    os.abort()
