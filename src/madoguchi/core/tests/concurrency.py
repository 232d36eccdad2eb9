"""A helper for tests that need real concurrency: n threads, each with its own database connection."""

import threading

from django.db import connections


def run_concurrently(n: int, work) -> tuple[list, list[BaseException]]:
    """Start n threads that call work(k) at the same moment (a barrier); return (results, errors).

    Each thread closes its own connections when done, so a transactional test can flush afterwards.
    """
    barrier, errors, results = threading.Barrier(n), [], [None] * n

    def worker(k):
        try:
            barrier.wait()
            results[k] = work(k)
        except BaseException as exc:  # collected and asserted by the caller
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors
