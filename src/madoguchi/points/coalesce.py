"""Group commit for the online grant: concurrent one-item requests of a server process recorded together.

A one-item `POST /api/v1/points/transactions` costs, on its own, a transaction with the account lock, the ledger
row, the account's new total and an audit record: about 1.7 ms of application CPU and 1.0 ms of PostgreSQL CPU
(bench/points_online.py). The same items recorded eight at a time through `transactions_record` cost about a
quarter of that each, because the statements, the round trips, the commit and the audit record are shared.

So when a server process answers requests on several threads (gunicorn's gthread workers, granian's blocking
threads), the online grant's lane (`points.api.transactions_lane`) hands each one-item request to this process's
`Coalescer` and waits. One committer thread takes everything that has queued up meanwhile (nothing is held back
to wait for more: under light load a batch is one request) and records it with `transactions_record`, one call —
one transaction, one audit record — per provider and language. The answer to each request is exactly what it
would have been alone:
- it is sent only after its batch committed;
- each item is validated, granted and answered on its own, in arrival order (the same rule as for a batch);
- an id already in the batch being formed (the same provider sending it twice at once) waits for the next
  batch, so it gets the stored first answer (or `conflict`), as a second request would, not `duplicate`;
- the key is checked for every batch (one look-up per distinct key): a revoked key stops at the next batch;
- a batch that fails as a whole is recorded again one item at a time, so that one request's error is not
  another's.

Off unless `POINTS_GRANT_COALESCING` is on and the database is PostgreSQL (tests run inside a transaction that
another thread cannot see; the tests of this module turn it on with real transactions).
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
from dataclasses import dataclass

from django.conf import settings
from django.db import connections
from django.utils import translation

from madoguchi.points import services

logger = logging.getLogger(__name__)

#: Items recorded in one batch at most: far below the set-based path's threshold (`ingest.MIN_ITEMS`), whose
#: staging table would cost more than it saves at these sizes.
MAX_BATCH = 64
#: Committer threads per process. One: a second one (tried on bench/points_online.py) split the batches and cost
#: more CPU per grant than the overlap of their commits saved.
COMMITTERS = 1
#: How long a batch's transaction waits for a row lock (an account, an id being recorded by another
#: transaction, an audit chain head) before the batch is recorded item by item, each then waiting at most
#: ITEM_LOCK_TIMEOUT; an item that still gives up goes to the patient thread (`Coalescer._failed_alone`): one
#: locked account must not hold up every grant of the process.
LOCK_TIMEOUT = "500ms"
ITEM_LOCK_TIMEOUT = "50ms"
#: How long a request waits for its batch before it gives up with an error (the item may still be recorded: the
#: provider's retry with the same id then gets the stored answer).
WAIT_SECONDS = 30.0


@dataclass(eq=False)
class _Pending:
    """One request's item, waiting for its batch. A thread waits on `done`; a coroutine on `future`, which the
    committer settles through the coroutine's event loop (once per loop and batch, see `Coalescer._wake`)."""

    token: str
    item: dict
    language: str
    done: threading.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future | None = None
    provider: services.PaymentProvider | None = None
    result: services.ItemResult | None = None
    error: BaseException | None = None
    settled: bool = False
    patient: bool = False  # handed to the patient thread, which answers it

    def resolve(self, provider, result) -> None:
        self.provider, self.result, self.settled = provider, result, True

    def fail(self, error: BaseException) -> None:
        self.error, self.settled = error, True

    def outcome(self) -> tuple[services.PaymentProvider, services.ItemResult] | None:
        if self.error is not None:
            raise self.error
        if self.provider is None:
            return None
        return self.provider, self.result  # type: ignore[return-value]


class BatchFailed(RuntimeError):
    """The request's batch failed as a whole (the error is logged once, by the committer)."""


def _settle(pendings: list[_Pending]) -> None:
    """In a waiting coroutine's event loop: hand each request its outcome."""
    for pending in pendings:
        if pending.future is not None and not pending.future.done():
            pending.future.set_result(None)


class Coalescer:
    """One per server process (see the module docstring); the committer thread starts with the first request."""

    def __init__(self, max_batch: int = MAX_BATCH, committers: int = COMMITTERS) -> None:
        self.max_batch = max_batch
        self.queue: queue.SimpleQueue[_Pending] = queue.SimpleQueue()
        self.committers = committers
        self._threads: list[threading.Thread] = []
        self.patient: queue.SimpleQueue = queue.SimpleQueue()
        self._patient_thread: threading.Thread | None = None
        self._patient_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self.batches = 0  # batches recorded, for tests and benchmarks
        self.items = 0  # items given to transactions_record

    def submit(
        self, token: str, item: dict, language: str
    ) -> tuple[services.PaymentProvider, services.ItemResult] | None:
        """Record one transaction item sent with API key `token`, waiting in this thread: (provider, its answer),
        or None when the key is not an active provider's (the caller lets the router answer that request)."""
        pending = _Pending(token, item, language, done=threading.Event())
        self._ensure_thread()
        self.queue.put(pending)
        if not pending.done.wait(WAIT_SECONDS):  # type: ignore[union-attr]
            raise TimeoutError("the online grant's batch did not finish in time")
        return pending.outcome()

    async def submit_async(
        self, token: str, item: dict, language: str
    ) -> tuple[services.PaymentProvider, services.ItemResult] | None:
        """`submit` for a coroutine: the event loop goes on serving other requests meanwhile."""
        loop = asyncio.get_running_loop()
        pending = _Pending(token, item, language, loop=loop, future=loop.create_future())
        self._ensure_thread()
        self.queue.put(pending)
        try:
            await asyncio.wait_for(pending.future, WAIT_SECONDS)  # type: ignore[arg-type]
        except TimeoutError:
            raise TimeoutError("the online grant's batch did not finish in time") from None
        return pending.outcome()

    def _ensure_thread(self) -> None:
        if self._threads and all(t.is_alive() for t in self._threads):
            return
        with self._start_lock:
            if self._threads and all(t.is_alive() for t in self._threads):
                return
            self._threads = [t for t in self._threads if t.is_alive()]
            while len(self._threads) < self.committers:
                thread = threading.Thread(target=self._run, name="points-grant-committer", daemon=True)
                thread.start()
                self._threads.append(thread)

    def stop(self) -> None:
        """End the committer threads once the requests queued before are answered; each closes its database
        connections (a server process simply exits; tests stop theirs)."""
        with self._start_lock:  # no thread starts meanwhile (`_ensure_thread` waits for the lock)
            for _ in self._threads:
                self.queue.put(None)  # type: ignore[arg-type]
            for thread in self._threads:
                thread.join()
            self._threads = []
        with self._patient_lock:
            if self._patient_thread is not None:
                self.patient.put(None)
                self._patient_thread.join()
                self._patient_thread = None
        if not self.queue.empty():  # a request queued behind the stop: a new committer answers it
            self._ensure_thread()

    def _run(self) -> None:
        carried: list[_Pending] = []
        stopping = False
        while not stopping or carried:
            batch = carried or []
            if not batch:
                first = self.queue.get()
                if first is None:
                    break
                batch.append(first)
            while len(batch) < self.max_batch and not stopping:
                try:
                    more = self.queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                else:
                    batch.append(more)
            try:
                carried = self.record(batch)
            except BaseException:  # noqa: BLE001 — never leave a request waiting
                # Logged once here; each request gets an error of its own, without this traceback (whose frames
                # hold the other requests' items).
                logger.exception("online grant batch failed")
                for pending in batch:
                    if not pending.settled and not pending.patient:
                        pending.fail(BatchFailed("the online grant's batch failed"))
                carried = []
            self._wake(batch)
        connections.close_all()

    @staticmethod
    def _wake(batch: list[_Pending]) -> None:
        """Wake the settled requests of a batch: threads one by one, coroutines with one call per event loop."""
        by_loop: dict[asyncio.AbstractEventLoop, list[_Pending]] = {}
        for pending in batch:
            if not pending.settled:
                continue  # deferred to the next batch
            if pending.done is not None:
                pending.done.set()
            elif pending.loop is not None:
                by_loop.setdefault(pending.loop, []).append(pending)
        for loop, pendings in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, pendings)
            except RuntimeError:  # the loop has closed: nobody is waiting any more
                pass

    def record(self, batch: list[_Pending]) -> list[_Pending]:
        """Record a batch; returns the requests deferred to the next one (an id already in this batch)."""
        _keep_connections_usable()
        providers = {token: services.provider_for_key(token) for token in {p.token for p in batch}}
        groups: dict[tuple[int, str], tuple[services.PaymentProvider, list[_Pending]]] = {}
        ids: set[tuple[int, str]] = set()
        deferred: list[_Pending] = []
        for pending in batch:
            provider = providers[pending.token]
            if provider is None:
                pending.resolve(None, None)
                continue
            item_id = pending.item.get("id")
            if isinstance(item_id, str):
                if (provider.pk, item_id) in ids:
                    deferred.append(pending)
                    continue
                ids.add((provider.pk, item_id))
            groups.setdefault((provider.pk, pending.language), (provider, []))[1].append(pending)
        for (_pk, language), (provider, members) in groups.items():
            self._record_group(provider, language, members)
            self.items += len(members)
        self.batches += 1
        return deferred

    def _record_group(self, provider, language: str, members: list[_Pending]) -> None:
        with translation.override(language):
            try:
                results = services.transactions_record(
                    provider=provider, items=[p.item for p in members], lock_timeout=LOCK_TIMEOUT
                )
            except Exception as exc:
                if len(members) == 1:
                    self._failed_alone(provider, language, members[0], exc)
                    return
                # One at a time: a request's error stays its own. After a lock timeout, an item waits for a
                # lock only briefly here (the locked ones go to the patient thread), and each is answered as
                # soon as it is recorded, not after the whole group.
                timeout = ITEM_LOCK_TIMEOUT if _lock_waited_too_long(exc) else LOCK_TIMEOUT
                for pending in members:
                    try:
                        pending.resolve(provider, services.transactions_record(
                            provider=provider, items=[pending.item], lock_timeout=timeout)[0])  # fmt: skip
                    except Exception as one:  # noqa: BLE001
                        self._failed_alone(provider, language, pending, one)
                    self._wake([pending])
                return
        for pending, result in zip(members, results, strict=True):
            pending.resolve(provider, result)

    def _failed_alone(self, provider, language: str, pending: _Pending, error: Exception) -> None:
        """One item failed on its own. If it gave up waiting for a lock (an account or an id held by another
        transaction: a refund batch, a large batch, the same id sent elsewhere), the patient thread records it,
        waiting as long as it takes, so that the committer goes on with the others; any other error is the
        request's answer."""
        if not _lock_waited_too_long(error):
            pending.fail(error)
            return
        pending.patient = True
        self.patient.put((provider, language, pending))
        with self._patient_lock:  # not the start lock: stop() holds that while the committer finishes
            if self._patient_thread is None or not self._patient_thread.is_alive():
                self._patient_thread = threading.Thread(target=self._run_patient, name="points-grant-patient",
                                                        daemon=True)  # fmt: skip
                self._patient_thread.start()

    def _run_patient(self) -> None:
        """One thread, one connection: the items whose locks the committer would not wait for, one at a time."""
        while (job := self.patient.get()) is not None:
            provider, language, pending = job
            try:
                _keep_connections_usable()
                with translation.override(language):
                    result = services.transactions_record(provider=provider, items=[pending.item])[0]
                pending.resolve(provider, result)
            except BaseException as exc:  # noqa: BLE001 — never leave a request waiting
                pending.fail(exc)
            self._wake([pending])
        connections.close_all()


def _keep_connections_usable() -> None:
    """Before each batch, as Django does before each request, but without CONN_MAX_AGE: the committer's
    connections live as long as it does (under ASGI that setting is 0, for Django's one thread per request,
    conf/asgi.py). A connection left in a wrong state, or one that the health check finds broken, is replaced."""
    for conn in connections.all(initialized_only=True):
        if conn.connection is None:
            continue
        if conn.get_autocommit() != conn.settings_dict["AUTOCOMMIT"] or not conn.is_usable():
            conn.close()
        else:
            conn.errors_occurred = False


def _lock_waited_too_long(error: BaseException) -> bool:
    """Whether PostgreSQL gave up waiting for a lock (lock_not_available, raised by `lock_timeout`)."""
    return getattr(error.__cause__, "sqlstate", None) == "55P03"


_coalescer: Coalescer | None = None
_coalescer_pid = 0
_lock = threading.Lock()


def active() -> Coalescer | None:
    """This process's coalescer when group commit is on (see the module docstring), else None."""
    global _coalescer, _coalescer_pid
    # The engine from the settings, not `connection.vendor`: an event loop's thread must not touch connections.
    if not getattr(settings, "POINTS_GRANT_COALESCING", False) or "postgresql" not in settings.DATABASES[
        "default"
    ].get("ENGINE", ""):
        return None
    pid = os.getpid()
    if _coalescer is None or _coalescer_pid != pid:  # a forked worker gets its own queue and thread
        with _lock:
            if _coalescer is None or _coalescer_pid != pid:
                _coalescer, _coalescer_pid = Coalescer(), pid
    return _coalescer
