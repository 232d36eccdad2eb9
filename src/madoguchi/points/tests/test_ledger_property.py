"""The ledger against a slow, obviously correct reference (issue 4, "Correctness that tests must prove").

Hypothesis draws sequences of batches (transactions and refunds, valid and broken, new ids, ids sent again
with the same or other content, repeats inside one batch) and sends them through the real services and
database. `Reference` below is the rule of the issue and DOMAIN.md §2 written as plainly as possible: dicts
and loops, one item at a time. After every batch each answer (status, granted, remaining) must equal the
reference's; at the end every account's total and every ledger row too.

Each example runs inside a savepoint that is rolled back, so every example starts from the same accounts
(created once per test by `world`). The `batch` parametrisation lowers `ingest.MIN_ITEMS` so that, on
PostgreSQL, every batch takes the set-based path of points/ingest.py; on SQLite both take the row path.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.points import ingest, services
from madoguchi.points.models import Application, Campaign, PointAccount, ProviderTransaction
from madoguchi.points.tests.conftest import make_resident

MAX_AMOUNT = 100_000_000  # the API's limit for one charge or purchase ("yen, 1 to 100,000,000")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# The current campaign (the `campaign` fixture, given the real 2020 rules) and an earlier one of the same
# provider with another rate and cap: a 決済サービスID enrolled in both earns in the campaign whose window
# holds the date.
CAMPAIGNS = {
    "current": {"rate_bp": 2500, "cap": 5000, "modes": ["charge", "purchase"],
                "earning_starts_at": _at("2020-09-01T00:00:00+09:00"),
                "earning_ends_at": _at("2021-03-31T23:59:59+09:00")},
    "earlier": {"rate_bp": 5000, "cap": 3000, "modes": ["charge"],
                "earning_starts_at": _at("2019-10-01T00:00:00+09:00"),
                "earning_ends_at": _at("2020-03-31T23:59:59+09:00")},
}  # fmt: skip
# (決済サービスID, campaign, mode, applied at), in the order the residents applied (= primary-key order).
ENROLMENTS = [
    ("a4", "earlier", "charge", "2019-09-01T10:00:00+09:00"),
    ("a1", "current", "charge", "2020-07-01T10:00:00+09:00"),
    ("a2", "current", "purchase", "2020-07-02T10:00:00+09:00"),
    ("a3", "current", "charge", "2020-11-01T12:00:00+09:00"),  # applied when earning had already begun
    ("a4", "current", "purchase", "2020-07-15T10:00:00+09:00"),
]


@dataclass
class Account:
    name: str
    key: str
    mode: str
    cap: int
    rate_bp: int
    starts: datetime
    ends: datetime
    applied: datetime


@pytest.fixture
def world(campaign, provider) -> dict[int, Account]:
    """The accounts of ENROLMENTS, by primary key."""
    Campaign.objects.filter(pk=campaign.pk).update(**CAMPAIGNS["current"])
    earlier = Campaign.objects.create(
        code="earlier", name="earlier", kind=Campaign.Kind.PREMIUM, budget=10**9,
        application_starts_at=_at("2019-09-01T00:00:00+09:00"),
        application_ends_at=_at("2020-03-31T00:00:00+09:00"),
        **CAMPAIGNS["earlier"],
    )  # fmt: skip
    earlier.providers.add(provider)
    campaigns = {"current": Campaign.objects.get(pk=campaign.pk), "earlier": earlier}
    accounts = {}
    for key, which, mode, applied in ENROLMENTS:
        c = campaigns[which]
        application = Application.objects.create(campaign=c, resident=make_resident(), provider=provider,
                                                 mode=mode, service_account=key)  # fmt: skip
        Application.objects.filter(pk=application.pk).update(created_at=_at(applied))
        account = PointAccount.objects.create(application=application, campaign=c, provider=provider,
                                              service_account=key, mode=mode, cap=c.cap,
                                              enrolled_at=_at(applied))  # fmt: skip
        accounts[account.pk] = Account(f"{key}@{which}", key, mode, c.cap, c.rate_bp, c.earning_starts_at,
                                       c.earning_ends_at, _at(applied))  # fmt: skip
    return accounts


# --- The reference ------------------------------------------------------------------------------------------
def _content(raw) -> str:
    """What "the same content" means: the same JSON."""
    return json.dumps(raw, sort_keys=True, ensure_ascii=False)


def _whole_yen(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_AMOUNT


def _valid_id(value) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 64


def _when(value) -> datetime | None:
    """An ISO 8601 date-time with a time zone, of this century (2000-01-01 UTC up to 2100), else None."""
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    if at.utcoffset() is None:
        return None
    return at if datetime(2000, 1, 1, tzinfo=UTC) <= at < datetime(2100, 1, 1, tzinfo=UTC) else None


class Reference:
    """The rules, one item at a time.

    A transaction: invalid unless it has an id (1–64 characters), a 決済サービスID (1–64 characters once
    stripped), kind charge or purchase, a whole amount of 1–100,000,000 yen and a date-time with a time zone;
    an invalid item is answered and not recorded. An id already recorded answers its first answer again (same
    content) or `conflict` (other content); an id recorded earlier in the same batch answers `duplicate` (same
    content) or `conflict`. A new item: `not_enrolled` without an account for its key; `outside_period` unless
    the date is in the earning window of one of the key's campaigns and not before the resident applied
    (DOMAIN.md §2: a charge made before applying does not earn); `wrong_mode` unless the kind is the account's
    mode; else grant = min(floor(amount × rate), cap − granted so far), `granted` if that is the whole
    premium, `capped` if less. `remaining` is the account's headroom after the item. Every new valid item is
    a ledger row, against its account when the key has one (outside every window: the one applied for first).

    A refund: invalid unless id and original_id (1–64 characters each) and a whole amount of 1–100,000,000
    yen. The same id again (even in the same batch) answers its first answer (same content) or `conflict`.
    Else a ledger row: `unknown_original` when the original was not recorded against an account, else
    `clawed_back` with min(points granted on the original − clawed back already, floor(amount × rate of the
    original's campaign)), which frees headroom.
    """

    def __init__(self, accounts: dict[int, Account]):
        self.accounts = accounts
        self.by_key: dict[str, list[Account]] = {}
        for pk in sorted(accounts):
            self.by_key.setdefault(accounts[pk].key, []).append(accounts[pk])
        self.granted = {a.name: 0 for a in accounts.values()}
        self.transactions: dict[
            str, dict
        ] = {}  # id → {content, answer, account, amount, points, clawed_back}
        self.refunds: dict[str, dict] = {}  # id → {content, answer, account, points, original}

    def transaction_batch(self, items: list) -> list[tuple]:
        answers = []
        in_batch: dict[str, str] = {}  # id → content, of the new items of this batch
        for raw in items:
            answers.append(self._transaction(raw, in_batch))
        return answers

    def _transaction(self, raw, in_batch: dict[str, str]) -> tuple:
        if not isinstance(raw, dict):
            return ("invalid", 0, 0)
        item_id, key, kind = raw.get("id"), raw.get("account"), raw.get("kind")
        at = _when(raw.get("occurred_at"))
        if (
            not _valid_id(item_id)
            or not isinstance(key, str)
            or not 1 <= len(key.strip()) <= 64
            or kind not in ("charge", "purchase")
            or not _whole_yen(raw.get("amount"))
            or at is None
        ):
            return ("invalid", 0, 0)
        content = _content(raw)
        if item_id in in_batch:
            return ("duplicate" if in_batch[item_id] == content else "conflict", 0, 0)
        if item_id in self.transactions:
            first = self.transactions[item_id]
            return first["answer"] if first["content"] == content else ("conflict", 0, 0)
        in_batch[item_id] = content
        amount = raw["amount"]
        candidates = self.by_key.get(key.strip(), [])
        account, points = None, 0
        if not candidates:
            status = "not_enrolled"
        else:
            earning = [a for a in candidates if a.starts <= at <= a.ends]
            account = earning[0] if earning else candidates[0]
            if not earning or at < account.applied:
                status = "outside_period"
            elif kind != account.mode:
                status = "wrong_mode"
            else:
                premium = amount * account.rate_bp // 10_000
                points = min(premium, account.cap - self.granted[account.name])
                status = "granted" if points == premium else "capped"
                self.granted[account.name] += points
        remaining = account.cap - self.granted[account.name] if account else 0
        answer = (status, points, remaining)
        self.transactions[item_id] = {"content": content, "answer": answer, "account": account,
                                      "amount": amount, "points": points, "clawed_back": 0}  # fmt: skip
        return answer

    def refund_batch(self, items: list) -> list[tuple]:
        return [self._refund(raw) for raw in items]

    def _refund(self, raw) -> tuple:
        if not isinstance(raw, dict):
            return ("invalid", 0, 0)
        item_id, original_id, amount = raw.get("id"), raw.get("original_id"), raw.get("amount")
        if not _valid_id(item_id) or not _valid_id(original_id) or not _whole_yen(amount):
            return ("invalid", 0, 0)
        content = _content(raw)
        if item_id in self.refunds:
            first = self.refunds[item_id]
            return first["answer"] if first["content"] == content else ("conflict", 0, 0)
        original = self.transactions.get(original_id)
        account = original["account"] if original else None
        if account is None:
            answer, points = ("unknown_original", 0, 0), 0
        else:
            points = min(original["points"] - original["clawed_back"], amount * account.rate_bp // 10_000)
            original["clawed_back"] += points
            self.granted[account.name] -= points
            answer = ("clawed_back", -points, account.cap - self.granted[account.name])
        self.refunds[item_id] = {"content": content, "answer": answer, "account": account, "points": -points,
                                 "original": original_id if original else None}  # fmt: skip
        return answer

    def ledger(self) -> list[tuple]:
        """(kind, id, account, status, points, clawed back, original id) of every row."""
        rows = [("tx", i, t["account"].name if t["account"] else None, t["answer"][0], t["points"],
                 t["clawed_back"], None) for i, t in self.transactions.items()]  # fmt: skip
        rows += [("refund", i, r["account"].name if r["account"] else None, r["answer"][0], r["points"], 0,
                  r["original"]) for i, r in self.refunds.items()]  # fmt: skip
        return sorted(rows, key=repr)


def _totals(rows: list[tuple], granted: dict[str, int]) -> dict[str, tuple]:
    """Per account: (total on the account, ledger rows, Σ points of its rows, Σ clawed back)."""
    out = {}
    for name, total in granted.items():
        mine = [r for r in rows if r[2] == name]
        out[name] = (total, len(mine), sum(r[4] for r in mine), sum(r[5] for r in mine))
    return out


# --- What Hypothesis draws ----------------------------------------------------------------------------------
IDS = ["t0", "t1", "t2", "t3", "t4", 'ä"\\ 5']  # quotes and backslashes: the batch path COPYs them
# (決済サービスID, kind): mostly the account's own mode, sometimes the other, sometimes nobody's account.
KEY_KINDS = [("a1", "charge"), ("a3", "charge"), ("a2", "purchase"), ("a4", "purchase"), ("a4", "charge"),
             (" a3 ", "charge"), ("a1", "charge"), ("a1", "purchase"), ("a2", "charge"), ("zz", "charge"),
             ('z"\\ä', "purchase")]  # fmt: skip
DATES = [
    "2020-12-24T18:30:00+09:00",
    "2021-01-15T12:00:00+09:00",
    "2019-12-01T09:00:00+09:00",  # in the earlier campaign's window
    "2020-08-31T23:59:59+09:00",  # one second before the current window
    "2020-09-01T00:00:00+09:00",  # its first second
    "2020-08-31T15:00:00Z",  # the same instant in UTC
    "2020-10-15T10:00:00+09:00",  # in the window, before a3 applied
    "2021-03-31T23:59:59+09:00",  # the window's last second
    "2021-04-01T00:00:00+09:00",  # after it
    "0001-01-01T00:00:00+09:00",  # a "zero date": before year 1 in UTC, invalid
    "1999-12-31T23:59:59Z",  # the last second before the accepted range
    "2000-01-01T08:59:59+09:00",  # the same instant in JST
    "2099-12-31T23:59:59Z",  # the last second of the range (outside every window)
    "9999-12-31T23:59:59-09:00",  # after year 9999 in UTC, invalid
]
# Yen: premiums of 0 (1–3 yen), ordinary ones, ones that fill or pass the 5,000-point cap, the largest one.
AMOUNTS = st.one_of(
    st.sampled_from([12_000, 4_000, 25_000, 20_000, 3, 4, 5, 399, 19_999, 20_004, MAX_AMOUNT]),
    st.integers(1, 25_000),
)
BAD = {
    "id": ["", "x" * 65, 7, None],
    "account": ["", "   ", "k" * 65, 12, None],
    "kind": ["refund", "Charge", None],
    "amount": [0, -1, -20_000, MAX_AMOUNT + 1, 10**20, 2.5, 400.0, "400", True, None],
    "occurred_at": ["2020-12-24T18:30:00", "2020-12-24", "yesterday", "2021-02-30T10:00:00+09:00", 20201224,
                    None],
}  # fmt: skip


@st.composite
def new_transaction(draw):
    key, kind = draw(st.sampled_from(KEY_KINDS))
    item = {"id": draw(st.sampled_from(IDS)), "account": key, "kind": kind, "amount": draw(AMOUNTS),
            "occurred_at": draw(st.sampled_from(DATES))}  # fmt: skip
    how = draw(st.sampled_from(["valid"] * 8 + ["extra key", "bad value", "missing key", "not a dict"]))
    if how == "extra key":
        item["note"] = "extra"
    elif how == "bad value":
        name = draw(st.sampled_from(sorted(BAD)))
        item[name] = draw(st.sampled_from(BAD[name]))
    elif how == "missing key":
        del item[draw(st.sampled_from(sorted(BAD)))]
    elif how == "not a dict":
        return draw(st.sampled_from(["not a dict", None, []]))
    return item


RECENT = st.integers(0, 7)  # the k-th most recent one
FIELDS = ["amount", "account", "kind", "occurred_at"]
TRANSACTION_OP = st.one_of(
    st.tuples(st.just("new"), new_transaction()),
    st.tuples(st.just("again"), RECENT),  # an item sent before, again (maybe in the same batch)
    # Its id with one field of another item: other content (or, by chance, the same).
    st.tuples(st.just("change"), RECENT, st.sampled_from(FIELDS), new_transaction()),
)
REFUND_AMOUNT = st.one_of(
    st.sampled_from([(1, 4), (1, 2), (1, 1), (2, 1)]),  # that fraction of the original's amount
    st.integers(1, 25_000),
    st.sampled_from([3, 4, MAX_AMOUNT]),
    st.sampled_from([0, -4, MAX_AMOUNT + 1, "4", 4.0, True, None]),
)
REFUND_ID = st.one_of(st.sampled_from(["r0", "r1", "r2", "t0"]), st.sampled_from(["", "x" * 65, 3, None]))
# The original: an id that earned points (what refunds are about), any id recorded, an unknown or bad one.
ORIGINAL = st.one_of(
    st.tuples(st.just("earned"), RECENT),
    st.tuples(st.just("earned"), RECENT),
    st.tuples(st.just("recorded"), RECENT),
    st.sampled_from(["nope", "x" * 65, 5, None]),
)
REFUND_OP = st.one_of(
    st.tuples(st.just("new"), REFUND_ID, ORIGINAL, REFUND_AMOUNT),
    st.tuples(st.just("again"), RECENT),  # a refund sent before, again (maybe in the same batch)
    st.tuples(st.just("another"), REFUND_ID, RECENT, REFUND_AMOUNT),  # a further refund of its original
    st.tuples(st.just("change"), RECENT, REFUND_AMOUNT),  # its id and original, another amount
)
# Steps: a batch of transactions, then (unless empty) a batch of refunds.
PLAN = st.lists(
    st.tuples(st.lists(TRANSACTION_OP, min_size=1, max_size=8), st.lists(REFUND_OP, max_size=5)),
    min_size=1,
    max_size=4,
)
DEFAULT_TX = {"id": "t0", "account": "a1", "kind": "charge", "amount": 4000, "occurred_at": DATES[0]}
DEFAULT_REFUND = {"id": "r0", "original_id": "t0", "amount": 400}


def _recent(history: list, k: int):
    return history[-1 - k % len(history)] if history else None


def _transaction_items(ops: list, history: list) -> list:
    items = []
    for op in ops:
        if op[0] == "new":
            item = op[1]
        elif op[0] == "again":
            item = _recent(history, op[1]) or DEFAULT_TX
        else:
            _op, k, name, other = op
            item = dict(_recent(history, k) or DEFAULT_TX)
            if isinstance(other, dict) and name in other:
                item[name] = other[name]
        if isinstance(item, dict):
            history.append(item)
        items.append(item)
    return items


def _refund_amount(spec, base: int | None):
    """A literal amount, or (numerator, denominator): that fraction of the original's amount."""
    if isinstance(spec, tuple):
        numerator, denominator = spec
        return (base or 400) * numerator // denominator
    return spec


def _refund_items(ops: list, reference: Reference, refunds: list) -> list:
    """Refund items for `ops`: the originals are picked among the transactions recorded so far (as the
    reference has them: the choice only steers the drawing, every answer is still compared)."""
    items = []
    for op in ops:
        if op[0] == "new":
            _op, item_id, which, amount = op
            original_id, base = which, None
            if isinstance(which, tuple):
                recorded = [(i, t["amount"]) for i, t in reference.transactions.items()
                            if which[0] == "recorded" or t["points"] > 0]  # fmt: skip
                original_id, base = _recent(recorded, which[1]) or ("t0", None)
            item = {"id": item_id, "original_id": original_id, "amount": _refund_amount(amount, base)}
        elif op[0] == "again":
            item = _recent(refunds, op[1]) or DEFAULT_REFUND
        elif op[0] == "another":
            _op, item_id, k, amount = op
            original_id = (_recent(refunds, k) or DEFAULT_REFUND)["original_id"]
            base = reference.transactions.get(original_id, {}).get("amount")
            item = {"id": item_id, "original_id": original_id, "amount": _refund_amount(amount, base)}
        else:
            item = (_recent(refunds, op[1]) or DEFAULT_REFUND) | {"amount": _refund_amount(op[2], None)}
        refunds.append(item)
        items.append(item)
    return items


# --- The test -----------------------------------------------------------------------------------------------
def _compare(got: list, expected: list[tuple], items: list, where: str) -> None:
    assert [(str(r.status), r.granted, r.remaining) for r in got] == expected, f"{where}: {items}"
    # Each answer names its item (for an invalid id, whatever the service makes of it: not compared).
    ids = [item.get("id") if isinstance(item, dict) and _valid_id(item.get("id")) else None for item in items]
    assert [r.id if i is not None else None for r, i in zip(got, ids, strict=True)] == ids, where


def _ledger(provider, names: dict[int, str]) -> list[tuple]:
    rows = ProviderTransaction.objects.filter(provider=provider).values_list(
        "kind", "external_id", "account_id", "status", "points", "clawed_back", "original__external_id"
    )
    return sorted(((k, i, names.get(a), s, p, c, o) for k, i, a, s, p, c, o in rows), key=repr)


class _Undo(Exception):
    pass


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["rows", "batch"])
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])  # fmt: skip
@given(plan=PLAN)
def test_ledger_equals_the_reference(world, provider, monkeypatch, path, plan):
    """Every answer after every batch, then every account and ledger row, equal the reference's."""
    # `batch`: on PostgreSQL every batch takes the set-based path (ingest.py); SQLite always the row path.
    # `rows` on PostgreSQL: one-item batches take the online path (services._record_one), others the row path.
    monkeypatch.setattr(ingest, "MIN_ITEMS", 1 if path == "batch" else 10**9)
    reference = Reference(world)
    names = {pk: a.name for pk, a in world.items()}
    history: list = []
    refunds: list = []
    try:
        with transaction.atomic():  # a savepoint, rolled back: every example starts from the same accounts
            for step, (transaction_ops, refund_ops) in enumerate(plan):
                items = _transaction_items(transaction_ops, history)
                got = services.transactions_record(provider=provider, items=items)
                _compare(got, reference.transaction_batch(items), items, f"step {step}, transactions")
                if refund_ops:
                    items = _refund_items(refund_ops, reference, refunds)
                    got = services.refunds_record(provider=provider, items=items)
                    _compare(got, reference.refund_batch(items), items, f"step {step}, refunds")
            ledger = _ledger(provider, names)
            assert ledger == reference.ledger()
            granted = dict(PointAccount.objects.filter(pk__in=names).values_list("pk", "granted"))
            totals = _totals(ledger, {names[pk]: g for pk, g in granted.items()})
            assert totals == _totals(reference.ledger(), reference.granted)
            raise _Undo
    except _Undo:
        pass
