"""Settlement with the payment providers: monthly estimates (概算払い), the final settlement (精算払い),
repayments of late refunds (返還), the states of a statement, its exports and its pages.

The ledger's `month` is the month a row is recorded in (Asia/Tokyo), so these tests move the clock with
time-machine through a 2020 campaign: record in September, settle in October, and so on.
"""

import csv
import io

import openpyxl
import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from madoguchi.core.models import AuditRecord
from madoguchi.core.tests.concurrency import run_concurrently
from madoguchi.identity.tests.factories import StaffRoleFactory, sign_in_staff
from madoguchi.points import services, settlement
from madoguchi.points.models import (
    PaymentProvider,
    ProviderTransaction,
    Statement,
    StatementEntry,
)
from madoguchi.points.services import ApplicationRequest
from madoguchi.points.settlement import SettlementError
from madoguchi.points.tests.conftest import at, make_resident, sandbox_account

pytestmark = pytest.mark.django_db
Kind, Status = Statement.Kind, Statement.Status


def enrol(campaign, provider, account: str):
    sandbox_account(provider, account)
    resident = make_resident()
    services.reservation_create(resident=resident, campaign=campaign, actor=None)
    return services.application_submit(
        resident=resident, campaign=campaign, actor=None,
        request=ApplicationRequest(provider, "charge", account, account, "123"),
    )  # fmt: skip


def charge(provider, account: str, amount: int, tx_id: str) -> int:
    item = {"id": tx_id, "account": account, "kind": "charge", "amount": amount,
            "occurred_at": timezone.now().isoformat()}  # fmt: skip
    return services.transactions_record(provider=provider, items=[item])[0].granted


def refund(provider, refund_id: str, original_id: str, amount: int) -> int:
    item = {"id": refund_id, "original_id": original_id, "amount": amount}
    return services.refunds_record(provider=provider, items=[item])[0].granted


@pytest.fixture
def operators():
    """Two ministry officials: one claims on a provider's behalf, the other approves (four eyes)."""
    return StaffRoleFactory(operator=True).user, StaffRoleFactory(operator=True).user


def as_provider(provider) -> settlement.audit.Actor:
    return settlement.audit.Actor("provider", str(provider.pk), provider.code)


def estimate(campaign, provider, month, actor):
    return settlement.statement_generate(campaign=campaign, provider=provider, month=month, actor=actor)


def settle(statement, claimer, approver, *, pay=True) -> Statement:
    statement = settlement.statement_claim(statement=statement, actor=claimer)
    statement = settlement.statement_approve(statement=statement, actor=approver)
    return settlement.statement_mark_paid(statement=statement, actor=approver) if pay else statement


def figures(s: Statement) -> tuple[int, int, int, int, int]:
    s.refresh_from_db()
    return s.granted_points, s.clawed_back_points, s.repayment_points, s.net_points, s.amount_due


# --- Arithmetic ------------------------------------------------------------------------------------------------
def test_a_month_by_hand(clock, campaign2020, provider, operators):
    enrol(campaign2020, provider, "acct-a")
    enrol(campaign2020, provider, "acct-b")
    clock.move_to(at(2020, 9, 10))
    assert charge(provider, "acct-a", 10_000, "s1") == 2_500
    assert charge(provider, "acct-a", 4_000, "s2") == 1_000
    assert charge(provider, "acct-b", 30_000, "s3") == 5_000  # floor(7,500) capped at 5,000
    assert charge(provider, "acct-b", 1_000, "s4") == 0  # no headroom left: a row, but no points
    assert refund(provider, "r1", "s2", 2_000) == -500  # floor(2,000 × 25%) of the 1,000 granted on s2

    clock.move_to(at(2020, 10, 5))
    draft = estimate(campaign2020, provider, 202009, operators[0])
    # Grants 2,500 + 1,000 + 5,000 = 8,500; clawbacks 500 (of a grant in the same, unsettled month).
    assert figures(draft) == (8_500, 500, 0, 8_000, 8_000)
    assert (draft.granted_rows, draft.clawed_back_rows, draft.repayment_rows) == (3, 1, 0)
    assert draft.status == Status.DRAFT and StatementEntry.objects.count() == 0  # a draft settles nothing

    claimed = settlement.statement_claim(statement=draft, actor=as_provider(provider))
    assert claimed.status == Status.CLAIMED and claimed.claimed_by is None
    assert claimed.claimed_by_label == provider.code
    assert figures(claimed) == (8_500, 500, 0, 8_000, 8_000)
    lines = dict(StatementEntry.objects.filter(statement=claimed).values_list("ledger__external_id", "line"))
    assert lines == {"s1": "grant", "s2": "grant", "s3": "grant", "r1": "clawback"}  # s4 moved no points
    assert [(line.code, line.points) for line in settlement.statement_lines(claimed)] == [
        ("grant", 8_500), ("clawback", -500), ("repayment", 0), ("net", 8_000), ("amount_due", 8_000),
    ]  # fmt: skip
    assert (
        AuditRecord.objects.filter(action="points.statement_generate", target_id=str(claimed.pk)).count() == 1
    )
    assert AuditRecord.objects.filter(action="points.statement_claim", target_id=str(claimed.pk)).count() == 1


def test_generating_a_month_twice_makes_one_statement(clock, campaign2020, provider, operators):
    enrol(campaign2020, provider, "acct-a")
    clock.move_to(at(2020, 9, 10))
    charge(provider, "acct-a", 4_000, "s1")
    clock.move_to(at(2020, 10, 2))
    first = estimate(campaign2020, provider, 202009, operators[0])
    # A September row that commits late (a batch still running at midnight) refreshes the draft …
    late = ProviderTransaction.objects.get(external_id="s1")
    ProviderTransaction.objects.create(
        provider=provider, kind="tx", external_id="s-late", fingerprint="x", account_id=late.account_id,
        amount=400, occurred_at=late.occurred_at, status="granted", points=100, remaining=0, month=202009,
    )  # fmt: skip
    again = estimate(campaign2020, provider, 202009, operators[0])
    assert again.pk == first.pk and Statement.objects.count() == 1
    assert figures(again)[0] == 1_100

    claimed = settlement.statement_claim(statement=again, actor=operators[0])
    # … and once claimed, generating again changes nothing.
    assert estimate(campaign2020, provider, 202009, operators[0]).pk == claimed.pk
    assert Statement.objects.count() == 1 and figures(claimed)[0] == 1_100
    made, refusals = settlement.statements_generate(campaign=campaign2020, month=202009, actor=operators[0])
    assert made == [] and refusals == [] and Statement.objects.count() == 1


def test_no_row_counted_twice_or_missed_across_months(clock, campaign2020, provider, operators):
    claimer, approver = operators
    enrol(campaign2020, provider, "acct-a")
    enrol(campaign2020, provider, "acct-b")
    clock.move_to(at(2020, 9, 20))
    charge(provider, "acct-a", 2_000, "s1")  # 500
    charge(provider, "acct-b", 6_000, "s2")  # 1,500
    clock.move_to(at(2020, 10, 1, 9))
    september = settle(estimate(campaign2020, provider, 202009, claimer), claimer, approver)
    assert figures(september)[3] == 2_000

    # A September row that commits after September was claimed is not lost: it goes on October's statement.
    original = ProviderTransaction.objects.get(external_id="s1")
    ProviderTransaction.objects.create(
        provider=provider, kind="tx", external_id="s-late", fingerprint="x", account_id=original.account_id,
        amount=1_200, occurred_at=original.occurred_at, status="granted", points=300, remaining=0, month=202009,
    )  # fmt: skip
    clock.move_to(at(2020, 10, 15))
    charge(provider, "acct-a", 8_000, "o1")  # 2,000
    clock.move_to(at(2020, 11, 2))
    october = settle(estimate(campaign2020, provider, 202010, claimer), claimer, approver)
    assert figures(october) == (2_300, 0, 0, 2_300, 2_300)
    assert figures(september)[3] == 2_000  # frozen

    # Every row that moved points is on exactly one statement, and the statements add up to the ledger.
    moved = ProviderTransaction.objects.exclude(points=0)
    assert StatementEntry.objects.count() == moved.count() == 4
    ledger_total = sum(moved.values_list("points", flat=True))
    assert sum(s.net_points for s in Statement.objects.all()) == ledger_total == 4_300

    # November with nothing new: an empty statement, not a second count of October's rows.
    clock.move_to(at(2020, 12, 1))
    november = settlement.statement_claim(
        statement=estimate(campaign2020, provider, 202011, claimer), actor=claimer
    )
    assert figures(november) == (0, 0, 0, 0, 0)


def test_a_refund_after_approval_is_a_repayment_on_the_next_statement(
    clock, campaign2020, provider, operators
):
    claimer, approver = operators
    enrol(campaign2020, provider, "acct-a")
    clock.move_to(at(2020, 9, 20))
    charge(provider, "acct-a", 8_000, "s1")  # 2,000
    charge(provider, "acct-a", 2_000, "s2")  # 500
    clock.move_to(at(2020, 10, 2))
    september = estimate(campaign2020, provider, 202009, claimer)
    september = settlement.statement_claim(statement=september, actor=as_provider(provider))
    september = settlement.statement_approve(statement=september, actor=approver)
    assert figures(september) == (2_500, 0, 0, 2_500, 2_500)

    clock.move_to(at(2020, 10, 10))
    assert refund(provider, "r1", "s1", 8_000) == -2_000  # September's grant, already approved: repaid
    assert charge(provider, "acct-a", 4_000, "o1") == 1_000
    assert refund(provider, "r2", "o1", 4_000) == -1_000  # October's own grant: an ordinary clawback
    settlement.statement_mark_paid(statement=september, actor=approver)
    assert figures(september) == (2_500, 0, 0, 2_500, 2_500)  # approved and paid figures never move

    clock.move_to(at(2020, 11, 2))
    october = settlement.statement_claim(
        statement=estimate(campaign2020, provider, 202010, claimer), actor=claimer
    )
    # Grants 1,000; clawback 1,000 (o1); repayment 2,000 (s1, settled in September): net −2,000, repaid.
    assert figures(october) == (1_000, 1_000, 2_000, -2_000, -2_000)
    assert october.repayment_rows == 1
    lines = dict(StatementEntry.objects.filter(statement=october).values_list("ledger__external_id", "line"))
    assert lines == {"o1": "grant", "r2": "clawback", "r1": "repayment"}
    assert settlement.amount_due_label_ja(october).startswith("返還額")


# --- States ----------------------------------------------------------------------------------------------------
@pytest.fixture
def september_draft(clock, campaign2020, provider, operators):
    enrol(campaign2020, provider, "acct-a")
    clock.move_to(at(2020, 9, 20))
    charge(provider, "acct-a", 4_000, "s1")
    clock.move_to(at(2020, 10, 2))
    return estimate(campaign2020, provider, 202009, operators[0])


def refused(code: str, call, **kwargs) -> None:
    with pytest.raises(SettlementError) as excinfo:
        call(**kwargs)
    assert excinfo.value.code == code, excinfo.value.message


def test_transitions_in_order_and_refusals(september_draft, provider, operators):
    claimer, approver = operators
    s = september_draft
    refused("not_claimed", settlement.statement_approve, statement=s, actor=approver)
    refused("not_approved", settlement.statement_mark_paid, statement=s, actor=approver)
    municipal_admin = StaffRoleFactory().user
    refused("not_operator", settlement.statement_claim, statement=s, actor=municipal_admin)
    other = PaymentProvider.objects.create(code="other", name="他社", type="qr", modes=["charge"],
                                           callback_url="http://testserver/x")  # fmt: skip
    refused("not_operator", settlement.statement_claim, statement=s, actor=as_provider(other))

    s = settlement.statement_claim(statement=s, actor=claimer)
    refused("not_draft", settlement.statement_claim, statement=s, actor=claimer)
    refused("not_draft", settlement.statement_discard, statement=s, actor=claimer)
    refused("not_approved", settlement.statement_mark_paid, statement=s, actor=approver)
    refused("same_person", settlement.statement_approve, statement=s, actor=claimer)
    refused("not_operator", settlement.statement_approve, statement=s, actor=municipal_admin)
    refused("not_operator", settlement.statement_approve, statement=s, actor=as_provider(provider))

    s = settlement.statement_approve(statement=s, actor=approver)
    refused("not_claimed", settlement.statement_approve, statement=s, actor=approver)
    refused("not_operator", settlement.statement_mark_paid, statement=s, actor=municipal_admin)
    s = settlement.statement_mark_paid(statement=s, actor=approver)
    assert (s.status, s.approved_by, s.paid_by) == (Status.PAID, approver, approver)
    refused("not_approved", settlement.statement_mark_paid, statement=s, actor=approver)

    actions = list(AuditRecord.objects.filter(target_type="points.statement", target_id=str(s.pk))
                   .order_by("pk").values_list("action", "details__status"))  # fmt: skip
    assert actions == [
        ("points.statement_generate", "draft"), ("points.statement_claim", "claimed"),
        ("points.statement_approve", "approved"), ("points.statement_mark_paid", "paid"),
    ]  # fmt: skip


def test_month_rules(clock, september_draft, campaign2020, provider, operators):
    claimer = operators[0]
    refused("month_not_over", estimate, campaign=campaign2020, provider=provider, month=202010, actor=claimer)
    clock.move_to(at(2020, 11, 2))
    october = estimate(campaign2020, provider, 202010, claimer)
    # September is still a draft: claiming October first would empty it.
    refused("earlier_month_draft", settlement.statement_claim, statement=october, actor=claimer)
    settlement.statement_claim(statement=september_draft, actor=claimer)
    settlement.statement_claim(statement=october, actor=claimer)
    refused(
        "later_month_claimed", estimate, campaign=campaign2020, provider=provider, month=202008, actor=claimer
    )
    # A draft can be discarded; it settled nothing.
    clock.move_to(at(2020, 12, 2))
    november = estimate(campaign2020, provider, 202011, claimer)
    settlement.statement_discard(statement=november, actor=claimer)
    assert not Statement.objects.filter(month=202011).exists()


# --- Final settlement and repayment ------------------------------------------------------------------------------
def test_final_settlement_against_the_estimates_paid(clock, campaign2020, provider, operators):
    claimer, approver = operators
    enrol(campaign2020, provider, "acct-a")
    enrol(campaign2020, provider, "acct-b")
    clock.move_to(at(2020, 9, 20))
    charge(provider, "acct-a", 4_000, "s1")  # 1,000
    clock.move_to(at(2020, 10, 20))
    charge(provider, "acct-b", 12_000, "o1")  # 3,000
    clock.move_to(at(2020, 11, 2))
    settle(estimate(campaign2020, provider, 202009, claimer), claimer, approver)
    october = settle(estimate(campaign2020, provider, 202010, claimer), claimer, approver, pay=False)

    refused("campaign_not_over", settlement.statement_generate, campaign=campaign2020, provider=provider,
            kind=Kind.FINAL, actor=claimer)  # fmt: skip
    clock.move_to(at(2021, 3, 20))
    charge(provider, "acct-a", 2_000, "m1")  # 500, never on an estimate
    clock.move_to(at(2021, 4, 5))
    refund(provider, "r1", "o1", 4_000)  # −1,000 of October's grant, after October was approved
    refused("estimates_unpaid", settlement.statement_generate, campaign=campaign2020, provider=provider,
            kind=Kind.FINAL, actor=claimer)  # fmt: skip
    settlement.statement_mark_paid(statement=october, actor=approver)
    draft_december = None
    with time_machine.travel(at(2021, 1, 5), tick=False):
        draft_december = estimate(campaign2020, provider, 202012, claimer)

    final = settlement.statement_generate(
        campaign=campaign2020, provider=provider, kind=Kind.FINAL, actor=claimer
    )
    assert not Statement.objects.filter(pk=draft_december.pk).exists()  # its rows belong to the final now
    final = settlement.statement_claim(statement=final, actor=claimer)
    # Its own lines: grant 500 (m1), repayment 1,000 (r1): net −500.
    assert figures(final) == (500, 0, 1_000, -500, -500)
    # The whole campaign: 1,000 + 3,000 + 500 − 1,000 = 3,500 against 4,000 paid on estimate: repay 500.
    assert (final.total_net_points, final.estimates_paid_points, final.amount_due) == (3_500, 4_000, -500)
    assert final.month == 202104
    assert [line.code for line in settlement.statement_lines(final)][-3:] == [
        "total_net",
        "estimates_paid",
        "amount_due",
    ]

    # After the final settlement: no more estimates; a late refund goes on a repayment statement.
    refused("final_exists", estimate, campaign=campaign2020, provider=provider, month=202103, actor=claimer)
    clock.move_to(at(2021, 5, 10))
    refund(provider, "r2", "s1", 4_000)  # −1,000 of September's grant
    made, refusals = settlement.statements_generate(campaign=campaign2020, kind=Kind.REPAYMENT, actor=claimer)
    assert refusals == [] and len(made) == 1
    repayment = settlement.statement_claim(statement=made[0], actor=claimer)
    assert (repayment.kind, repayment.month) == (Kind.REPAYMENT, 202105)
    assert figures(repayment) == (0, 0, 1_000, -1_000, -1_000)
    assert StatementEntry.objects.count() == ProviderTransaction.objects.exclude(points=0).count()


def test_repayment_needs_a_claimed_final(september_draft, campaign2020, provider, operators):
    refused("no_final", settlement.statement_generate, campaign=campaign2020, provider=provider,
            kind=Kind.REPAYMENT, actor=operators[0])  # fmt: skip


# --- Exports ---------------------------------------------------------------------------------------------------
@pytest.fixture
def claimed_september(september_draft, operators):
    return settlement.statement_claim(statement=september_draft, actor=operators[0])


def test_csv_export(claimed_september, provider):
    data = settlement.statement_csv(claimed_september)
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["明細番号", "事業者コード", "事業者名"]
    by_line = {row[7]: row for row in rows[1:]}
    assert by_line["付与ポイント"][9] == "1000" and by_line["付与ポイント"][8] == "1"
    assert by_line["差引"][9] == "1000" and by_line["支払額"][9] == "1000"
    assert {row[5] for row in rows[1:]} == {"2020-09"} and {row[1] for row in rows[1:]} == {provider.code}

    listing = list(
        csv.reader(io.StringIO(settlement.statements_csv([claimed_september]).decode("utf-8-sig")))
    )
    assert (
        listing[1][0] == str(claimed_september.pk)
        and listing[1][6] == "請求済み"
        and listing[1][16] == "1000"
    )


def test_csv_export_writes_formula_like_names_as_text(claimed_september, provider):
    PaymentProvider.objects.filter(pk=provider.pk).update(name="=HYPERLINK(1)")
    claimed_september.refresh_from_db()
    claimed_september.provider.refresh_from_db()
    rows = list(csv.reader(io.StringIO(settlement.statement_csv(claimed_september).decode("utf-8-sig"))))
    assert rows[1][2] == "'=HYPERLINK(1)"
    book = openpyxl.load_workbook(io.BytesIO(settlement.statements_xlsx([claimed_september])))
    assert book.active.cell(row=2, column=3).value == "'=HYPERLINK(1)"


def test_excel_export(claimed_september):
    book = openpyxl.load_workbook(io.BytesIO(settlement.statement_xlsx(claimed_september)))
    sheet = book.active
    values = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    lines = {row[0]: row[2] for row in values if row and row[0] in settlement.LINE_LABELS_JA.values()}
    assert lines["付与ポイント"] == 1000 and lines["差引"] == 1000
    assert any(row[0] == "対象月" and "令和2年9月" in row[1] for row in values)
    listing = openpyxl.load_workbook(io.BytesIO(settlement.statements_xlsx([claimed_september]))).active
    assert listing.cell(row=1, column=1).value == "明細番号"
    assert listing.cell(row=2, column=17).value == 1000


def test_pdf_statement(claimed_september):
    pdf = settlement.statement_pdf(claimed_september)
    assert pdf.startswith(b"%PDF")
    assert b"(\\(2020-09\\)) Tj" in pdf  # the month in the page's text (a Latin font, so searchable) …
    assert (
        b"/Subject (Madoguchi settlement statement" in pdf and b"sandbox-qr 2020-09)" in pdf
    )  # … and metadata
    assert b"HeiseiKakuGo-W5" in pdf and b"HeiseiMin-W3" in pdf  # the Japanese CID fonts, named not embedded
    assert b"/MediaBox [ 0 0 595.2756 841.8898 ]" in pdf  # A4


def test_month_helpers():
    assert settlement.parse_month("2020-09") == settlement.parse_month("202009") == 202009
    assert settlement.parse_month("2020/9") == settlement.parse_month("２０２０－０９") == 202009
    for bad in ("2020-13", "2020-00", "20-09", "1999-12", "abc", "", "2020-9-1", "٢٠٢٠-٠٩"):
        with pytest.raises(ValueError):
            settlement.parse_month(bad)
    assert settlement.month_wareki(202009) == "令和2年9月"
    assert settlement.month_wareki(201905) == "令和元年5月"
    assert settlement.month_wareki(201904) == "平成31年4月"
    assert settlement.previous_month(202101) == 202012


# --- Pages -----------------------------------------------------------------------------------------------------


def test_operator_pages_and_downloads(client, clock, claimed_september, operators):
    claimer, approver = operators
    sign_in_staff(client, approver)
    s = claimed_september
    listing = client.get(reverse("points_ops:statements"))
    assert (
        listing.status_code == 200
        and f'href="{reverse("points_ops:statement", args=[s.pk])}"' in listing.text
    )
    page = client.get(reverse("points_ops:statement", args=[s.pk]))
    assert page.status_code == 200 and "令和2年9月" in page.text

    # Pay before approval is refused with a message; then approve and pay.
    client.post(reverse("points_ops:statement_action", args=[s.pk, "pay"]))
    s.refresh_from_db()
    assert s.status == Status.CLAIMED
    assert client.post(reverse("points_ops:statement_action", args=[s.pk, "approve"])).status_code == 302
    client.post(reverse("points_ops:statement_action", args=[s.pk, "pay"]))
    s.refresh_from_db()
    assert s.status == Status.PAID
    assert client.post(reverse("points_ops:statement_action", args=[s.pk, "explode"])).status_code == 404
    assert client.get(reverse("points_ops:statement_action", args=[s.pk, "approve"])).status_code == 405

    for fmt, kind in [("csv", "text/csv"), ("xlsx", "spreadsheetml"), ("pdf", "application/pdf")]:
        response = client.get(reverse("points_ops:statement_export", args=[s.pk, fmt]))
        assert response.status_code == 200 and kind in response["Content-Type"]
        assert "attachment" in response["Content-Disposition"]
    assert client.get(reverse("points_ops:statement_export", args=[s.pk, "doc"])).status_code == 404
    exported = client.get(reverse("points_ops:statements_export", args=["csv"]) + "?status=paid")
    assert exported.content.decode("utf-8-sig").count("\r\n") == 2


def test_generate_a_month_from_the_page(client, clock, campaign2020, provider, operators):
    enrol(campaign2020, provider, "acct-a")
    clock.move_to(at(2020, 9, 20))
    charge(provider, "acct-a", 4_000, "s1")
    clock.move_to(at(2020, 10, 2))
    sign_in_staff(client, operators[0])
    data = {"campaign": campaign2020.code, "kind": "estimate", "month": "2020-09"}
    for _ in range(2):
        assert client.post(reverse("points_ops:statement_generate"), data).status_code == 302
    statement = Statement.objects.get()
    assert (statement.month, statement.status, statement.granted_points) == (202009, Status.DRAFT, 1000)
    client.post(reverse("points_ops:statement_generate"), data | {"month": "2020-10"})  # not over: refused
    assert Statement.objects.count() == 1
    client.post(reverse("points_ops:statement_action", args=[statement.pk, "claim"]))
    statement.refresh_from_db()
    assert statement.status == Status.CLAIMED and statement.claimed_by == operators[0]


def test_settlement_pages_are_for_operators_only(client, claimed_september):
    s = claimed_september
    urls = [
        reverse("points_ops:statements"),
        reverse("points_ops:statement", args=[s.pk]),
        reverse("points_ops:statement_export", args=[s.pk, "pdf"]),
        reverse("points_ops:statements_export", args=["csv"]),
    ]
    for url in urls:
        assert client.get(url).status_code == 302  # anonymous: to the staff sign-in
    sign_in_staff(client, StaffRoleFactory().user)  # a municipal administrator
    for url in urls:
        assert client.get(url).status_code == 403
    assert client.post(reverse("points_ops:statement_action", args=[s.pk, "approve"])).status_code == 403
    assert client.post(reverse("points_ops:statement_generate"), {}).status_code == 403
    s.refresh_from_db()
    assert s.status == Status.CLAIMED


def test_statement_list_queries_do_not_grow_with_statements(client, clock, campaign2020, provider, operators):
    sign_in_staff(client, operators[0])
    url = reverse("points_ops:statements") + f"?campaign={campaign2020.code}"

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    others = [PaymentProvider.objects.create(code=f"p{k}", name=f"事業者{k}", type="qr", modes=["charge"],
                                             callback_url="http://testserver/x") for k in range(6)]  # fmt: skip
    Statement.objects.create(campaign=campaign2020, provider=provider, kind="estimate", month=202009,
                             computed_at=timezone.now())  # fmt: skip
    few = queries()
    Statement.objects.bulk_create([
        Statement(campaign=campaign2020, provider=p, kind="estimate", month=month, computed_at=timezone.now())
        for p in others for month in (202009, 202010, 202011)
    ])  # fmt: skip
    assert queries() == few <= 16


# --- Concurrency (PostgreSQL: real row locks between real connections) ----------------------------------------
_run = run_concurrently


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_generation_and_claims_settle_each_row_once(clock, campaign2020, provider, operators):
    if connection.vendor != "postgresql":
        pytest.skip("row-lock concurrency is tested on PostgreSQL")
    enrol(campaign2020, provider, "acct-a")
    clock.move_to(at(2020, 9, 20))
    for k in range(5):
        charge(provider, "acct-a", 1_000 + k, f"s{k}")
    clock.move_to(at(2020, 10, 2))
    claimer = operators[0]

    generated, errors = _run(8, lambda k: estimate(campaign2020, provider, 202009, claimer).pk)
    assert errors == [] and len(set(generated)) == 1 and Statement.objects.count() == 1
    statement = Statement.objects.get()

    def claim(k):
        try:
            return settlement.statement_claim(statement=statement, actor=claimer).status
        except SettlementError as exc:
            return exc.code

    outcomes, errors = _run(6, claim)
    assert errors == [] and sorted(outcomes) == ["claimed"] + ["not_draft"] * 5
    assert StatementEntry.objects.count() == 5
    assert figures(statement)[0] == sum((1_000 + k) // 4 for k in range(5))


def test_a_provider_claims_its_own_statement_through_the_api(
    client, clock, campaign2020, provider, operators
):
    enrol(campaign2020, provider, "acct-a")
    clock.move_to(at(2020, 9, 10))
    charge(provider, "acct-a", 10_000, "s1")
    clock.move_to(at(2020, 10, 5))
    draft = estimate(campaign2020, provider, 202009, operators[0])
    other = PaymentProvider.objects.create(code="other-pay", name="他社", type="qr", modes=["charge"],
                                           callback_url="http://127.0.0.1/")  # fmt: skip
    headers = {"Authorization": f"Bearer {services.api_key_issue(provider=provider, actor=None)}"}
    other_headers = {"Authorization": f"Bearer {services.api_key_issue(provider=other, actor=None)}"}

    listed = client.get("/api/v1/points/statements", headers=headers).json()
    assert [(s["id"], s["status"], s["net_points"]) for s in listed] == [(draft.pk, "draft", 2_500)]
    assert client.get("/api/v1/points/statements", headers=other_headers).json() == []
    url = f"/api/v1/points/statements/{draft.pk}/claim"
    assert client.post(url, headers=other_headers).status_code == 404  # another provider's does not exist
    claimed = client.post(url, headers=headers)
    assert claimed.status_code == 200 and claimed.json()["status"] == "claimed"
    again = client.post(url, headers=headers)
    assert again.status_code == 422 and again.json()["code"] == "not_draft"
    assert AuditRecord.objects.filter(action="points.statement_claim", actor_type="provider").count() == 1
