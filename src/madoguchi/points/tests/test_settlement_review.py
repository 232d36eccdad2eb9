"""Settlement reviewed as a whole: every ledger row settled exactly once whatever the order of the steps,
fixed grants settled like grants, the provider lock, the states, and the documents against the page.

The property test draws a campaign's life month by month: grants (charges and phase-2 fixed grants), refunds
of earlier grants, rows that commit late (labelled with the month before), and the operators' steps in any
order (draw up, claim, approve, pay, discard); then the final settlement and repayments after it. Whatever
happened, each row that moved points is on exactly one claimed statement, and the statements add up to the
ledger to the yen.
"""

import threading
from datetime import datetime

import pytest
from django.db import DatabaseError, connection, connections, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from madoguchi.core.models import AuditRecord
from madoguchi.identity.tests.factories import StaffRoleFactory
from madoguchi.points import services, settlement
from madoguchi.points.models import (
    Campaign,
    PointAccount,
    ProviderTransaction,
    Statement,
    StatementEntry,
)
from madoguchi.points.services import ApplicationRequest
from madoguchi.points.settlement import SettlementError
from madoguchi.points.tests.conftest import at, make_resident, sandbox_account

Kind, Status, Line = Statement.Kind, Statement.Status, StatementEntry.Line
FROZEN = (Status.CLAIMED, Status.APPROVED, Status.PAID)


def at_month(month: int, day: int = 10) -> datetime:
    return at(month // 100, month % 100, day)


@pytest.fixture
def operators():
    return StaffRoleFactory(operator=True).user, StaffRoleFactory(operator=True).user


def enrol(campaign, provider, account: str) -> PointAccount:
    sandbox_account(provider, account)
    resident = make_resident()
    services.reservation_create(resident=resident, campaign=campaign, actor=None)
    application = services.application_submit(
        resident=resident, campaign=campaign, actor=None,
        request=ApplicationRequest(provider, "charge", account, account, "123"),
    )  # fmt: skip
    return PointAccount.objects.get(application=application)


_ids = iter(range(10**9))


def ledger_row(account: PointAccount, *, points: int, month: int, kind: str = "tx", original=None):
    """A ledger row as the services write it (only what settlement reads matters: provider, account, points,
    month, original)."""
    n = next(_ids)
    return ProviderTransaction.objects.create(
        provider_id=account.provider_id, kind=kind, external_id=f"{kind}-{n}", fingerprint=str(n),
        account=account, original=original, amount=abs(points) * 4,
        status="granted" if points > 0 else "clawed_back", points=points, remaining=0, month=month,
    )  # fmt: skip


# --- The property ------------------------------------------------------------------------------------------------
CAMPAIGN_MONTHS = [202009, 202010, 202011, 202012, 202101, 202102, 202103]
AFTER_MONTHS = [202104, 202105, 202106]

EVENT = st.one_of(
    st.tuples(st.just("grant"), st.integers(0, 2), st.integers(1, 2_000), st.sampled_from(["tx", "fixed"])),
    st.tuples(st.just("late"), st.integers(0, 2), st.integers(1, 2_000)),
    st.tuples(st.just("refund"), st.integers(0, 10**6), st.integers(1, 2_000)),
    st.tuples(
        st.just("step"),
        st.sampled_from(["generate", "claim", "approve", "pay", "discard", "provider_claim"]),
        st.integers(0, 10**6),
    ),
)
MONTH = st.lists(EVENT, max_size=8)
PLAN = st.tuples(
    st.lists(MONTH, min_size=len(CAMPAIGN_MONTHS), max_size=len(CAMPAIGN_MONTHS)),
    st.lists(MONTH, min_size=len(AFTER_MONTHS), max_size=len(AFTER_MONTHS)),
    st.booleans(),  # pay the final before the repayments (or leave it approved)
)


class _Undo(Exception):
    pass


class World:
    def __init__(self, campaign, provider, accounts, operators):
        self.campaign, self.provider, self.accounts = campaign, provider, accounts
        self.claimer, self.approver = operators
        self.grants: list[ProviderTransaction] = []  # grants of kind "tx" (what a refund can name)

    def event(self, event, month: int) -> None:
        match event:
            case ("grant", account, points, kind):
                row = ledger_row(self.accounts[account], points=points, month=month, kind=kind)
                if kind == "tx":
                    self.grants.append(row)
            case ("late", account, points):  # committed after its month ended: labelled with the month before
                self.grants.append(
                    ledger_row(self.accounts[account], points=points, month=settlement.previous_month(month))
                )
            case ("refund", pick, points):
                if not self.grants:
                    return
                original = self.grants[pick % len(self.grants)]
                original.refresh_from_db()
                points = min(points, original.points - original.clawed_back)
                if points <= 0:
                    return
                ledger_row(
                    original.account, points=-points, month=max(month, original.month), kind="refund",
                    original=original,
                )  # fmt: skip
                ProviderTransaction.objects.filter(pk=original.pk).update(
                    clawed_back=original.clawed_back + points
                )
            case ("step", step, pick):
                self.step(step, pick, month)

    def _pick(self, status: str, pick: int) -> Statement | None:
        found = list(Statement.objects.filter(status=status).order_by("pk"))
        return found[pick % len(found)] if found else None

    def step(self, step: str, pick: int, month: int) -> None:
        try:
            if step == "generate":
                earlier = [m for m in CAMPAIGN_MONTHS + AFTER_MONTHS if m < month] or [month]
                settlement.statement_generate(
                    campaign=self.campaign, provider=self.provider, month=earlier[pick % len(earlier)],
                    actor=self.claimer,
                )  # fmt: skip
            elif step in ("claim", "provider_claim", "discard"):
                draft = self._pick(Status.DRAFT, pick)
                if draft is None:
                    return
                if step == "discard":
                    settlement.statement_discard(statement=draft, actor=self.claimer)
                else:
                    actor = self.claimer
                    if step == "provider_claim":
                        actor = settlement.audit.Actor("provider", str(self.provider.pk), self.provider.code)
                    settlement.statement_claim(statement=draft, actor=actor)
            elif step == "approve":
                claimed = self._pick(Status.CLAIMED, pick)
                if claimed is not None:
                    settlement.statement_approve(statement=claimed, actor=self.approver)
            elif step == "pay":
                approved = self._pick(Status.APPROVED, pick)
                if approved is not None:
                    settlement.statement_mark_paid(statement=approved, actor=self.approver)
        except SettlementError:
            pass  # a refused step changes nothing; the invariants below must hold anyway

    def finish_estimates(self) -> None:
        """Pay every estimate claimed or approved, as the ministry does before the final settlement."""
        for s in Statement.objects.filter(kind=Kind.ESTIMATE, status__in=FROZEN).order_by("month", "pk"):
            if s.status == Status.CLAIMED:
                s = settlement.statement_approve(statement=s, actor=self.approver)
            if s.status == Status.APPROVED:
                settlement.statement_mark_paid(statement=s, actor=self.approver)

    def final(self, *, pay: bool) -> None:
        final = settlement.statement_generate(
            campaign=self.campaign, provider=self.provider, kind=Kind.FINAL, actor=self.claimer
        )
        final = settlement.statement_claim(statement=final, actor=self.claimer)
        final = settlement.statement_approve(statement=final, actor=self.approver)
        if pay:
            settlement.statement_mark_paid(statement=final, actor=self.approver)

    def repayment(self) -> None:
        made, refusals = settlement.statements_generate(
            campaign=self.campaign, kind=Kind.REPAYMENT, actor=self.claimer
        )
        assert refusals == []
        for s in made:
            if s.status == Status.DRAFT:
                settlement.statement_claim(statement=s, actor=self.claimer)


def check_everything_settled_once(campaign, provider) -> None:
    moved = ProviderTransaction.objects.filter(account__campaign=campaign).exclude(points=0)
    ledger_total = sum(moved.values_list("points", flat=True))
    entries = StatementEntry.objects.filter(statement__campaign=campaign)
    # Exactly once: one entry per row that moved points (the primary key forbids two), none missing.
    assert sorted(entries.values_list("ledger_id", flat=True)) == sorted(moved.values_list("pk", flat=True))
    assert not StatementEntry.objects.filter(statement__status=Status.DRAFT).exists()
    claimed = list(Statement.objects.filter(campaign=campaign, status__in=FROZEN))
    assert not Statement.objects.filter(campaign=campaign, status=Status.DRAFT).exists()
    # The statements add up to the ledger, to the yen: their nets, and the money that moves.
    assert sum(s.net_points for s in claimed) == ledger_total
    assert sum(s.amount_due for s in claimed) == ledger_total
    for s in claimed:
        mine = {e.ledger_id: e for e in StatementEntry.objects.filter(statement=s).select_related("ledger")}
        granted = sum(e.ledger.points for e in mine.values() if e.line == Line.GRANT)
        clawed = -sum(e.ledger.points for e in mine.values() if e.line == Line.CLAWBACK)
        repaid = -sum(e.ledger.points for e in mine.values() if e.line == Line.REPAYMENT)
        assert (s.granted_points, s.clawed_back_points, s.repayment_points) == (granted, clawed, repaid)
        assert s.net_points == granted - clawed - repaid
        for e in mine.values():
            row = e.ledger
            if row.points > 0:
                assert e.line == Line.GRANT
            else:
                # A refund is repaid when its grant was on an earlier statement, a clawback on the same one.
                assert e.line == (Line.CLAWBACK if row.original_id in mine else Line.REPAYMENT), row
                assert StatementEntry.objects.get(ledger_id=row.original_id).statement_id <= s.pk
        if s.kind != Kind.FINAL:
            assert s.amount_due == s.net_points


@pytest.mark.django_db
@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])  # fmt: skip
@given(plan=PLAN)
def test_every_row_is_settled_once_and_the_statements_add_up(clock, campaign2020, provider, operators, plan):
    during, after, pay_final = plan
    try:
        with transaction.atomic():  # a savepoint, rolled back: every example starts from scratch
            clock.move_to(at(2020, 9, 1))
            accounts = [enrol(campaign2020, provider, f"acct-{k}") for k in range(3)]
            world = World(campaign2020, provider, accounts, operators)
            for month, events in zip(CAMPAIGN_MONTHS, during, strict=True):
                clock.move_to(at_month(month))
                for event in events:
                    world.event(event, month)
            clock.move_to(at(2021, 4, 2))
            world.finish_estimates()
            world.final(pay=pay_final)
            for month, events in zip(AFTER_MONTHS, after, strict=True):
                clock.move_to(at_month(month))
                for event in events:
                    if event[0] == "step":  # after the final only repayment statements are drawn up
                        if event[2] % 2:
                            world.repayment()
                        continue
                    world.event(event, month)
            clock.move_to(at(2021, 7, 2))
            world.repayment()
            check_everything_settled_once(campaign2020, provider)
            raise _Undo
    except _Undo:
        pass


# --- Concurrency (PostgreSQL: real row locks between real connections) ----------------------------------------
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_claim_does_not_block_or_deadlock_a_refund_batch(
    clock, campaign2020, provider, operators, monkeypatch
):
    """A claim holds the provider's settlement lock while it links rows; a refund batch of that provider
    commits meanwhile (its ledger row references the provider: PostgreSQL's foreign-key check takes FOR KEY
    SHARE on the provider row at commit). Taken FOR UPDATE, the settlement lock made that commit wait for
    the claim while the claim waited for the batch's audit head: a deadlock, one of the two aborted.
    The order is forced with events: the batch audits (holding the audit head) after the claim has taken the
    provider lock, and the claim goes on only then."""
    if connection.vendor != "postgresql":
        pytest.skip("row-lock concurrency is tested on PostgreSQL")
    claimer, approver = operators
    account = enrol(campaign2020, provider, "acct-a")
    clock.move_to(at(2020, 9, 20))
    services.transactions_record(provider=provider, items=[
        {"id": "s1", "account": "acct-a", "kind": "charge", "amount": 8_000, "occurred_at": at(2020, 9, 20).isoformat()},
        {"id": "s2", "account": "acct-a", "kind": "charge", "amount": 4_000, "occurred_at": at(2020, 9, 20).isoformat()},
    ])  # fmt: skip
    clock.move_to(at(2020, 10, 2))
    september = settlement.statement_generate(
        campaign=campaign2020, provider=provider, month=202009, actor=claimer
    )
    settlement.statement_claim(statement=september, actor=claimer)
    clock.move_to(at(2020, 10, 20))
    ledger_row(account, points=250, month=202010)
    clock.move_to(at(2020, 11, 2))
    october = settlement.statement_generate(
        campaign=campaign2020, provider=provider, month=202010, actor=claimer
    )

    locked, audited = threading.Event(), threading.Event()
    link = settlement._link_entries

    def link_when_the_batch_has_audited(statement):
        locked.set()
        assert audited.wait(60)  # a safety net against a hang, not a measure
        link(statement)

    monkeypatch.setattr(settlement, "_link_entries", link_when_the_batch_has_audited)

    def work(k):
        if k == 0:
            return settlement.statement_claim(statement=october, actor=claimer).status
        assert locked.wait(60)
        with transaction.atomic():
            granted = services.refunds_record(provider=provider, items=[
                {"id": "r1", "original_id": "s1", "amount": 8_000}])[0].granted  # fmt: skip
            audited.set()
        return granted

    from madoguchi.core.tests.concurrency import run_concurrently

    results, errors = run_concurrently(2, work)
    assert errors == [], errors
    assert results == ["claimed", -2_000]
    # The refund committed after the claim's rows were read: it is on the next statement, as a repayment.
    refund_row = ProviderTransaction.objects.get(kind="refund", external_id="r1")
    assert not StatementEntry.objects.filter(ledger=refund_row).exists()
    clock.move_to(at(2020, 12, 2))
    november = settlement.statement_generate(
        campaign=campaign2020, provider=provider, month=202011, actor=claimer
    )
    november = settlement.statement_claim(statement=november, actor=claimer)
    assert (november.repayment_points, november.net_points) == (2_000, -2_000)
    assert StatementEntry.objects.get(ledger=refund_row).line == Line.REPAYMENT
    connections.close_all()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_claim_locks_neither_the_campaign_nor_the_provider_against_new_rows(
    clock, campaign2020, provider, operators, monkeypatch
):
    """While a claim links rows, another connection can still take what a ledger row's or an application's
    foreign-key check takes (FOR KEY SHARE on the provider and the campaign): NOWAIT, so nothing is timed."""
    if connection.vendor != "postgresql":
        pytest.skip("row-lock concurrency is tested on PostgreSQL")
    account = enrol(campaign2020, provider, "acct-a")
    clock.move_to(at(2020, 9, 20))
    ledger_row(account, points=500, month=202009)
    clock.move_to(at(2020, 10, 2))
    draft = settlement.statement_generate(
        campaign=campaign2020, provider=provider, month=202009, actor=operators[0]
    )
    probes: list = []
    link = settlement._link_entries

    def probe():
        try:
            with connection.cursor() as cursor:
                for table, pk in (
                    ("points_paymentprovider", provider.pk),
                    ("points_campaign", campaign2020.pk),
                ):
                    cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR KEY SHARE NOWAIT", [pk])  # noqa: S608
                    probes.append((table, cursor.fetchone()[0]))
        except DatabaseError as exc:
            probes.append(exc)
        finally:
            connections.close_all()

    def link_with_a_probe(statement):
        thread = threading.Thread(target=probe)
        thread.start()
        thread.join()
        link(statement)

    monkeypatch.setattr(settlement, "_link_entries", link_with_a_probe)
    assert settlement.statement_claim(statement=draft, actor=operators[0]).status == Status.CLAIMED
    assert probes == [("points_paymentprovider", 1), ("points_campaign", 1)]


# --- Fixed grants ----------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_fixed_grants_are_settled_like_grants(clock, provider, operators):
    claimer = operators[0]
    insurance = Campaign.objects.create(
        code="mp-insurance", name="健康保険証としての利用申込み", kind=Campaign.Kind.FIXED, cap=7500,
        fixed_points=7500, modes=["charge", "purchase"], budget=7500 * 10,
        application_starts_at=at(2022, 6, 1, 0), application_ends_at=at(2023, 5, 31, 23),
        earning_starts_at=at(2022, 6, 30, 0), earning_ends_at=at(2023, 5, 31, 23),
    )  # fmt: skip
    insurance.providers.add(provider)
    clock.move_to(at(2022, 7, 1))
    sandbox_account(provider, "acct-f")
    resident = make_resident()
    services.application_submit(resident=resident, campaign=insurance, actor=None,
                                request=ApplicationRequest(provider, "charge", "acct-f", "acct-f", "123"))  # fmt: skip
    row = services.fixed_grant_record(
        campaign=insurance, resident=resident, reference="ins-001", actor=claimer
    )
    assert (row.kind, row.points) == ("fixed", 7_500)

    clock.move_to(at(2022, 8, 2))
    made, refusals = settlement.statements_generate(campaign=insurance, month=202207, actor=claimer)
    assert refusals == [] and len(made) == 1
    assert (made[0].granted_points, made[0].granted_rows) == (7_500, 1)
    assert settlement.unsettled_summary(campaign=insurance)[0]["points"] == 7_500
    claimed = settlement.statement_claim(statement=made[0], actor=claimer)
    assert (claimed.granted_points, claimed.net_points, claimed.amount_due) == (7_500, 7_500, 7_500)
    assert StatementEntry.objects.get(ledger=row).line == Line.GRANT
    assert settlement.unsettled_summary(campaign=insurance) == []


# --- The PDF against the page ----------------------------------------------------------------------------------
def pdf_text_lines(pdf: bytes) -> list[str]:
    """The strings the page draws, in order, decoded (the Japanese CID fonts are UCS-2, Helvetica Latin-1)."""
    import io

    import pikepdf

    document = pikepdf.open(io.BytesIO(pdf))
    page = document.pages[0]
    fonts = page.Resources.Font
    out, cid = [], False
    for operands, operator in pikepdf.parse_content_stream(page):
        if str(operator) == "Tf":
            cid = "Heisei" in str(fonts[operands[0]].BaseFont)
        elif str(operator) == "Tj":
            raw = bytes(operands[0])
            out.append(raw.decode("utf-16-be") if cid else raw.decode("latin-1"))
    return out


@pytest.mark.django_db
def test_the_pdf_shows_the_page_figures(client, clock, campaign2020, provider, operators):
    from django.urls import reverse

    from madoguchi.identity.tests.factories import sign_in_staff

    claimer, approver = operators
    account = enrol(campaign2020, provider, "acct-a")
    clock.move_to(at(2020, 9, 20))
    grant = ledger_row(account, points=2_500, month=202009)
    clock.move_to(at(2020, 10, 2))
    september = settlement.statement_generate(
        campaign=campaign2020, provider=provider, month=202009, actor=claimer
    )
    settlement.statement_claim(statement=september, actor=claimer)
    clock.move_to(at(2020, 10, 20))
    ledger_row(account, points=-2_000, month=202010, kind="refund", original=grant)
    ledger_row(account, points=1_234, month=202010, kind="fixed")
    clock.move_to(at(2020, 11, 2))
    october = settlement.statement_generate(
        campaign=campaign2020, provider=provider, month=202010, actor=claimer
    )
    october = settlement.statement_claim(statement=october, actor=claimer)
    assert (october.granted_points, october.repayment_points, october.amount_due) == (1_234, 2_000, -766)

    sign_in_staff(client, approver)
    page = client.get(reverse("points_ops:statement", args=[october.pk])).text
    drawn = pdf_text_lines(
        client.get(reverse("points_ops:statement_export", args=[october.pk, "pdf"])).content
    )
    for line in settlement.statement_lines(october):
        label = settlement.amount_due_label_ja(october) if line.code == "amount_due" else line.label_ja
        at_label = drawn.index(label)
        shown = abs(line.points) if line.code == "amount_due" else line.points
        assert f"{shown:,}" in drawn[at_label + 1 : at_label + 3], (label, drawn)
        assert f">{line.points:,}<" in page  # the page's table shows the same figure
    assert "返還額（事業者から国へ）" in drawn and "766" in page
    AuditRecord.objects.filter(action="points.statement_claim", target_id=str(october.pk)).get()
