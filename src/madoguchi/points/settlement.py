"""Settlement (精算) of マイナポイント with the payment providers: statements, their states, their exports.

The State reimburses each provider for the points it granted: monthly on estimate (概算払い), then finally
(精算払い) after the campaign; a refund after settlement is repaid by the provider (返還). DOMAIN.md §2.

How a ledger row is counted exactly once
-----------------------------------------
A statement settles ledger rows (`ProviderTransaction` rows that moved points) by writing one
`StatementEntry` per row, keyed by the row itself: a row can be settled once, ever (primary key). Claiming a
statement links every row of its provider and campaign that no statement has settled yet, recorded up to its
month (an estimate) or at any time (final, repayment), and stores the figures summed from exactly those
entries. So a row that commits after its month's statement was claimed (a late batch, a refund) is not lost:
it is linked by the provider's next statement. And a refund whose original grant was settled by an earlier
statement is put on a separate repayment line: that grant has been claimed already and the money goes back.

States: draft → claimed (the provider or an operator) → approved (a platform operator: the ministry) → paid.
Draft figures are a preview recomputed on every generation; they are frozen, with the entries, at claim.
Every change locks the provider's row first (one settlement change per provider at a time) and writes an
audit record in the same transaction.

Amounts are integer yen (1 point = 1 yen). `amount_due` > 0: the State pays; < 0: the provider repays.
"""

import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection, transaction
from django.db.models import Count, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from madoguchi.core import audit
from madoguchi.core.documents import (
    GOTHIC,
    MINCHO,
    csv_bytes,
    register_japanese_fonts,
    spreadsheet_text,
    xlsx_bytes,
)
from madoguchi.core.wareki import format_wareki, to_wareki
from madoguchi.identity.models import User
from madoguchi.identity.selectors import is_platform_operator
from madoguchi.points.models import (
    Campaign,
    PaymentProvider,
    PointAccount,
    ProviderTransaction,
    Statement,
    StatementEntry,
)
from madoguchi.points.services import PointsError

Kind = Statement.Kind
Status = Statement.Status
Line = StatementEntry.Line
FROZEN = (Status.CLAIMED, Status.APPROVED, Status.PAID)
_ANY_MONTH = 999912  # an upper bound on YYYYMM: final and repayment statements take every month


class SettlementError(PointsError):
    """A refused settlement step, with a stable code and a message for the page."""


# --- Months --------------------------------------------------------------------------------------------------
# [0-9], not \d: \d also matches other scripts' digits.
_MONTH_RE = re.compile(r"(?P<year>[0-9]{4})(?:[-/](?P<month>[0-9]{1,2})|(?P<month2>[0-9]{2}))")


def month_of(at: datetime) -> int:
    """YYYYMM of an aware time in Asia/Tokyo (the same reading as the ledger's `month`)."""
    local = timezone.localtime(at)
    return local.year * 100 + local.month


def current_month() -> int:
    return month_of(timezone.now())


def parse_month(text: str) -> int:
    """Read "2020-09", "2020/9" or "202009" (full-width digits too, as a Japanese IME types them) as 202009.
    ValueError with a message otherwise."""
    match = _MONTH_RE.fullmatch(unicodedata.normalize("NFKC", text or "").strip())
    year = int(match["year"]) if match else 0
    month = int(match["month"] or match["month2"]) if match else 0
    if not (2000 <= year and 1 <= month <= 12):
        raise ValueError(_("Enter a month as YYYY-MM, e.g. 2020-09."))
    return year * 100 + month


def month_label(month: int) -> str:
    """202009 → "2020-09"."""
    return f"{month // 100:04d}-{month % 100:02d}"


def month_wareki(month: int) -> str:
    """202009 → "令和2年9月" (the era in force on the month's first day)."""
    w = to_wareki(date(month // 100, month % 100, 1))
    return f"{w.era.name}{w.year_label}年{w.month}月"


def previous_month(month: int) -> int:
    """The month before YYYYMM (the month an operator usually settles)."""
    year, m = divmod(month, 100)
    return (year - 1) * 100 + 12 if m == 1 else month - 1


# --- Who may act -----------------------------------------------------------------------------------------------
def _require_operator(actor, *, system_allowed: bool = False) -> None:
    if isinstance(actor, User) and is_platform_operator(actor):
        return
    if system_allowed and (actor is None or actor == audit.SYSTEM):
        return
    raise SettlementError("not_operator", _("Only a platform operator (the ministry) may do this."))


def _is_provider_actor(actor, provider_id: int) -> bool:
    return isinstance(actor, audit.Actor) and actor.type == "provider" and actor.id == str(provider_id)


def _lock_provider(provider_id: int) -> PaymentProvider:
    # One settlement change per provider at a time: generating, claiming and approving its statements all
    # take this row lock first, so two claims can never link the same ledger rows or compute figures from
    # each other's half-written entries. FOR NO KEY UPDATE, not FOR UPDATE: every ledger row and every
    # statement references the provider, and PostgreSQL's foreign-key check takes FOR KEY SHARE on it (at
    # commit: the keys are deferred). FOR UPDATE conflicts with that, so a claim held up every grant and refund
    # of the provider and deadlocked with a refund batch that had taken the audit head before committing.
    # FOR NO KEY UPDATE still excludes every other settlement change of the provider.
    return PaymentProvider.objects.select_for_update(no_key=True).get(pk=provider_id)


def _locked(statement: Statement) -> Statement:
    # FOR UPDATE OF the statement only: joined without `of`, the campaign and provider rows were locked FOR
    # UPDATE too, which held up every ledger row of the provider and every application of the campaign (their
    # foreign-key checks) until the settlement step committed, and deadlocked with a refund batch.
    return (
        Statement.objects.select_for_update(of=("self",))
        .select_related("campaign", "provider")
        .get(pk=statement.pk)
    )


def _audit(*, actor, action: str, statement: Statement, **details) -> None:
    audit.record(
        actor=actor,
        action=action,
        target=statement,
        details={
            "provider": statement.provider.code,
            "campaign": statement.campaign.code,
            "kind": statement.kind,
            "month": statement.month,
            "status": statement.status,
            "net": statement.net_points,
            "amount_due": statement.amount_due,
            **details,
        },
    )


# --- The ledger rows a statement settles -----------------------------------------------------------------------
def _unsettled_sql(statement: Statement) -> tuple[str, list]:
    """SELECT (ledger_id, points, line) of the rows this statement would settle now.

    A refund is a `repayment` when its original grant is already settled by another statement (drafts settle
    nothing, so that statement was claimed: the grant has been claimed), a `clawback` otherwise.
    """
    q = connection.ops.quote_name
    tx, account, entry = (
        q(ProviderTransaction._meta.db_table),
        q(PointAccount._meta.db_table),
        q(StatementEntry._meta.db_table),
    )
    through = statement.month if statement.kind == Kind.ESTIMATE else _ANY_MONTH
    # Table names come from the models' metadata and the line codes are constants; values are parameters.
    sql = (
        f"SELECT t.id AS ledger_id, t.points AS points, "  # noqa: S608
        f"CASE WHEN t.points > 0 THEN '{Line.GRANT.value}' "
        f"WHEN EXISTS (SELECT 1 FROM {entry} o WHERE o.ledger_id = t.original_id) THEN '{Line.REPAYMENT.value}' "
        f"ELSE '{Line.CLAWBACK.value}' END AS line "
        f"FROM {tx} t INNER JOIN {account} a ON a.id = t.account_id "
        f"WHERE t.provider_id = %s AND a.campaign_id = %s AND t.points <> 0 AND t.month <= %s "
        f"AND NOT EXISTS (SELECT 1 FROM {entry} e WHERE e.ledger_id = t.id)"
    )
    return sql, [statement.provider_id, statement.campaign_id, through]


def _apply_lines(statement: Statement, sums: dict[str, tuple[int, int]]) -> None:
    """Set the line figures from {line: (points, rows)}; clawbacks and repayments are stored positive."""
    granted, granted_rows = sums.get(Line.GRANT, (0, 0))
    clawed, clawed_rows = sums.get(Line.CLAWBACK, (0, 0))
    repaid, repaid_rows = sums.get(Line.REPAYMENT, (0, 0))
    statement.granted_points, statement.granted_rows = int(granted), int(granted_rows)
    statement.clawed_back_points, statement.clawed_back_rows = -int(clawed), int(clawed_rows)
    statement.repayment_points, statement.repayment_rows = -int(repaid), int(repaid_rows)
    statement.net_points = (
        statement.granted_points - statement.clawed_back_points - statement.repayment_points
    )


def _preview_lines(statement: Statement) -> dict[str, tuple[int, int]]:
    sql, params = _unsettled_sql(statement)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT u.line, COALESCE(SUM(u.points), 0), COUNT(*) FROM ({sql}) u GROUP BY u.line",  # noqa: S608
            params,
        )
        return {line: (points, rows) for line, points, rows in cursor.fetchall()}


def _link_entries(statement: Statement) -> None:
    """Settle every row the statement covers now: one INSERT … SELECT, whatever the number of rows."""
    sql, params = _unsettled_sql(statement)
    table = connection.ops.quote_name(StatementEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (ledger_id, statement_id, line) "  # noqa: S608
            f"SELECT u.ledger_id, %s, u.line FROM ({sql}) u",
            [statement.pk, *params],
        )


def _entry_lines(statement: Statement) -> dict[str, tuple[int, int]]:
    return {
        row["line"]: (row["points"] or 0, row["rows"])
        for row in StatementEntry.objects.filter(statement_id=statement.pk)
        .values("line")
        .annotate(points=Sum("ledger__points"), rows=Count("pk"))
        .order_by()
    }


def _settled_points(statement: Statement) -> int:
    """Σ points of every row settled so far for the statement's provider and campaign (claimed statements)."""
    total = StatementEntry.objects.filter(
        statement__campaign_id=statement.campaign_id, statement__provider_id=statement.provider_id
    ).aggregate(points=Sum("ledger__points"))["points"]
    return int(total or 0)


def _estimates_paid(statement: Statement) -> int:
    total = Statement.objects.filter(
        campaign_id=statement.campaign_id,
        provider_id=statement.provider_id,
        kind=Kind.ESTIMATE,
        status=Status.PAID,
    ).aggregate(paid=Sum("amount_due"))["paid"]
    return int(total or 0)


def _set_amount_due(statement: Statement, *, settled_before: int) -> None:
    """Estimate and repayment: what this statement moves is its net. Final: the whole campaign's net
    (Σ of every month's net, this statement's lines included) against the estimates already paid."""
    if statement.kind == Kind.FINAL:
        statement.total_net_points = settled_before + statement.net_points
        statement.estimates_paid_points = _estimates_paid(statement)
        statement.amount_due = statement.total_net_points - statement.estimates_paid_points
    else:
        statement.total_net_points = statement.estimates_paid_points = 0
        statement.amount_due = statement.net_points


# --- Rules per kind --------------------------------------------------------------------------------------------
def _siblings(statement: Statement) -> QuerySet[Statement]:
    return Statement.objects.filter(campaign_id=statement.campaign_id, provider_id=statement.provider_id)


def _check_estimate(statement: Statement) -> None:
    if statement.month >= current_month():
        raise SettlementError(
            "month_not_over",
            _("%(month)s is not over yet: a month is settled after it ends.")
            % {"month": month_label(statement.month)},
        )
    if _siblings(statement).filter(kind=Kind.FINAL).exists():
        raise SettlementError(
            "final_exists",
            _(
                "The final settlement of this campaign has been drawn up; late rows go on a repayment statement."
            ),
        )


def _check_final(statement: Statement) -> None:
    if timezone.now() <= statement.campaign.earning_ends_at:
        raise SettlementError(
            "campaign_not_over",
            _("The final settlement is drawn up after the campaign's earning period ends."),
        )
    unpaid = _siblings(statement).filter(kind=Kind.ESTIMATE, status__in=[Status.CLAIMED, Status.APPROVED])
    if unpaid.exists():
        raise SettlementError(
            "estimates_unpaid",
            _("Estimate statements of this campaign are claimed but not yet paid: pay them first."),
        )


def _check_repayment(statement: Statement) -> None:
    if not _siblings(statement).filter(kind=Kind.FINAL, status__in=FROZEN).exists():
        raise SettlementError(
            "no_final",
            _("A repayment statement follows the final settlement; claim the final settlement first."),
        )


_CHECKS = {Kind.ESTIMATE: _check_estimate, Kind.FINAL: _check_final, Kind.REPAYMENT: _check_repayment}


# --- Services --------------------------------------------------------------------------------------------------
@transaction.atomic
def statement_generate(
    *,
    campaign: Campaign,
    provider: PaymentProvider,
    kind: str = Kind.ESTIMATE,
    month: int | None = None,
    actor,
) -> Statement:
    """Draw up (or refresh) the draft statement of one provider: an estimate for `month`, or the final or a
    repayment statement for the current month. Its figures are a preview until it is claimed.

    Generating again changes nothing once the statement is claimed, and never makes a second statement (the
    UNIQUE constraints say so too). Generating a final settlement discards the provider's draft estimates of
    the campaign: their rows are settled by the final one. Raises SettlementError on a refusal.
    """
    _require_operator(actor, system_allowed=True)
    _lock_provider(provider.pk)
    if kind == Kind.ESTIMATE:
        if month is None:
            raise SettlementError("month_required", _("Choose the month to settle."))
        lookup = {"kind": kind, "month": month}
    elif kind in (Kind.FINAL, Kind.REPAYMENT):
        month = current_month()
        lookup = {"kind": kind} if kind == Kind.FINAL else {"kind": kind, "month": month}
    else:
        raise SettlementError("unknown_kind", _("Unknown kind of statement."))

    statement = (
        Statement.objects.select_for_update(of=("self",))  # not the campaign and provider rows: see _locked
        .select_related("campaign", "provider")
        .filter(campaign=campaign, provider=provider, **lookup)
        .first()
    )
    if statement is not None and statement.frozen:
        return statement
    if statement is None:
        statement = Statement(campaign=campaign, provider=provider, kind=kind, month=month)
    statement.month = month
    _CHECKS[kind](statement)
    if kind == Kind.ESTIMATE:
        later = _siblings(statement).filter(kind=Kind.ESTIMATE, month__gt=month, status__in=FROZEN)
        if later.exists():
            raise SettlementError(
                "later_month_claimed",
                _(
                    "A later month has been claimed already; rows of %(month)s not yet settled go on the next statement."
                )
                % {"month": month_label(month)},
            )
    if kind == Kind.FINAL:
        for draft in _siblings(statement).filter(kind=Kind.ESTIMATE, status=Status.DRAFT).order_by("pk"):
            _audit(actor=actor, action="points.statement_discard", statement=draft, reason="final settlement")
            draft.delete()

    _apply_lines(statement, _preview_lines(statement))
    _set_amount_due(statement, settled_before=_settled_points(statement))
    statement.computed_at = timezone.now()
    created = statement.pk is None
    statement.save()
    _audit(actor=actor, action="points.statement_generate", statement=statement, created=created)
    return statement


@dataclass(frozen=True)
class Refusal:
    provider: PaymentProvider
    code: str
    message: str


def statements_generate(
    *, campaign: Campaign, kind: str = Kind.ESTIMATE, month: int | None = None, actor
) -> tuple[list[Statement], list[Refusal]]:
    """Draw up the statements of every provider concerned: those with unsettled rows in the period or a
    draft already (and, for the final settlement, every provider with a statement or a grant in the
    campaign). One provider's refusal does not stop the others; each is returned with its reason."""
    _require_operator(actor, system_allowed=True)
    rows = ProviderTransaction.objects.filter(account__campaign=campaign).exclude(points=0)
    existing = Statement.objects.filter(campaign=campaign, kind=kind)
    if kind == Kind.ESTIMATE:
        if month is None:
            raise SettlementError("month_required", _("Choose the month to settle."))
        rows = rows.filter(month__lte=month, settlement__isnull=True)
        existing = existing.filter(month=month, status=Status.DRAFT)
    elif kind == Kind.REPAYMENT:
        # Only providers whose final settlement is claimed: the others have no repayment statement yet.
        finals = Statement.objects.filter(campaign=campaign, kind=Kind.FINAL, status__in=FROZEN)
        rows = rows.filter(settlement__isnull=True, provider__in=finals.values("provider"))
        existing = existing.filter(month=current_month(), status=Status.DRAFT)
    else:
        existing = Statement.objects.filter(campaign=campaign)
    provider_ids = set(rows.values_list("provider_id", flat=True).distinct()) | set(
        existing.values_list("provider_id", flat=True)
    )
    statements: list[Statement] = []
    refusals: list[Refusal] = []
    # Providers in primary-key order: two operators generating at once take the row locks in one order.
    for provider in PaymentProvider.objects.filter(pk__in=provider_ids).order_by("pk"):
        try:
            statements.append(
                statement_generate(campaign=campaign, provider=provider, kind=kind, month=month, actor=actor)
            )
        except SettlementError as exc:
            refusals.append(Refusal(provider, exc.code, exc.message))
    return statements, refusals


@transaction.atomic
def statement_claim(*, statement: Statement, actor) -> Statement:
    """Claim a draft (請求): the provider itself (an audit Actor of type "provider" with its id) or a platform
    operator on its behalf. Links the rows the statement settles and freezes the figures summed from them.

    An estimate is claimed in month order: an earlier month still in draft is claimed (or discarded) first,
    so that it is not emptied by a later one. Raises SettlementError on a refusal.
    """
    if not _is_provider_actor(actor, statement.provider_id):
        _require_operator(actor)
    _lock_provider(statement.provider_id)
    statement = _locked(statement)
    if statement.status != Status.DRAFT:
        raise SettlementError("not_draft", _("Only a draft statement can be claimed."))
    _CHECKS[statement.kind](statement)
    if (
        statement.kind == Kind.ESTIMATE
        and _siblings(statement)
        .filter(kind=Kind.ESTIMATE, status=Status.DRAFT, month__lt=statement.month)
        .exists()
    ):
        raise SettlementError(
            "earlier_month_draft", _("An earlier month of this provider is still a draft: claim it first.")
        )
    settled_before = _settled_points(statement)
    _link_entries(statement)
    _apply_lines(statement, _entry_lines(statement))
    _set_amount_due(statement, settled_before=settled_before)
    now = timezone.now()
    statement.status = Status.CLAIMED
    statement.computed_at = statement.claimed_at = now
    statement.claimed_by = actor if isinstance(actor, User) else None
    statement.claimed_by_label = audit.actor_of(actor).label[:150]
    statement.save()
    _audit(actor=actor, action="points.statement_claim", statement=statement,
           rows=statement.granted_rows + statement.clawed_back_rows + statement.repayment_rows)  # fmt: skip
    return statement


@transaction.atomic
def statement_approve(*, statement: Statement, actor: User) -> Statement:
    """The ministry's approval (承認) of a claimed statement, by a platform operator who did not claim it."""
    _require_operator(actor)
    _lock_provider(statement.provider_id)
    statement = _locked(statement)
    if statement.status != Status.CLAIMED:
        raise SettlementError("not_claimed", _("Only a claimed statement can be approved."))
    if statement.claimed_by_id is not None and statement.claimed_by_id == actor.pk:
        raise SettlementError(
            "same_person",
            _("The statement must be approved by someone other than the person who claimed it."),
        )
    statement.status, statement.approved_at, statement.approved_by = Status.APPROVED, timezone.now(), actor
    statement.save(update_fields=["status", "approved_at", "approved_by"])
    _audit(actor=actor, action="points.statement_approve", statement=statement)
    return statement


@transaction.atomic
def statement_mark_paid(*, statement: Statement, actor: User) -> Statement:
    """Record the payment (or, for a negative amount, the provider's repayment) of an approved statement."""
    _require_operator(actor)
    _lock_provider(statement.provider_id)
    statement = _locked(statement)
    if statement.status != Status.APPROVED:
        raise SettlementError("not_approved", _("Only an approved statement can be marked as paid."))
    statement.status, statement.paid_at, statement.paid_by = Status.PAID, timezone.now(), actor
    statement.save(update_fields=["status", "paid_at", "paid_by"])
    _audit(actor=actor, action="points.statement_mark_paid", statement=statement)
    return statement


@transaction.atomic
def statement_discard(*, statement: Statement, actor) -> None:
    """Delete a draft (it settles nothing, so nothing else changes)."""
    _require_operator(actor, system_allowed=True)
    _lock_provider(statement.provider_id)
    statement = _locked(statement)
    if statement.status != Status.DRAFT:
        raise SettlementError("not_draft", _("Only a draft statement can be discarded."))
    _audit(actor=actor, action="points.statement_discard", statement=statement)
    statement.delete()


# --- Reads -----------------------------------------------------------------------------------------------------
def statements_list(
    *, campaign: Campaign | None = None, provider: PaymentProvider | None = None, kind: str = "",
    status: str = "", month: int | None = None,
) -> QuerySet[Statement]:  # fmt: skip
    qs = Statement.objects.select_related("campaign", "provider")
    if campaign is not None:
        qs = qs.filter(campaign=campaign)
    if provider is not None:
        qs = qs.filter(provider=provider)
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    if month is not None:
        qs = qs.filter(month=month)
    return qs.order_by("-month", "provider__name", "kind", "pk")


def statement_by_id(pk: int) -> Statement | None:
    return (
        Statement.objects.select_related("campaign", "provider", "claimed_by", "approved_by", "paid_by")
        .filter(pk=pk)
        .first()
    )


def unsettled_summary(*, campaign: Campaign) -> list[dict]:
    """Per provider: points of the campaign's ledger rows that no statement has settled yet (one query)."""
    return list(
        ProviderTransaction.objects.filter(account__campaign=campaign, settlement__isnull=True)
        .exclude(points=0)
        .values("provider__code", "provider__name")
        .annotate(points=Sum("points"), rows=Count("pk"))
        .order_by("provider__name")
    )


@dataclass(frozen=True)
class StatementLine:
    code: str
    rows: int | None
    points: int

    @property
    def label(self) -> str:
        return str(LINE_LABELS[self.code])

    @property
    def label_ja(self) -> str:
        return LINE_LABELS_JA[self.code]


LINE_LABELS = {
    "grant": gettext_lazy("Points granted (付与)"),
    "clawback": gettext_lazy("Clawed back, not yet settled (取消)"),
    "repayment": gettext_lazy("Clawed back after settlement: repayment (返還)"),
    "net": gettext_lazy("Net (差引)"),
    "total_net": gettext_lazy("Net of the whole campaign (全期間の差引)"),
    "estimates_paid": gettext_lazy("Estimates paid (概算払い済額)"),
    "amount_due": gettext_lazy("Amount due (支払額 / 返還額)"),
}
# Statements are documents addressed to the ministry and the provider: written in Japanese whatever the
# language of the page that downloads them.
LINE_LABELS_JA = {
    "grant": "付与ポイント",
    "clawback": "取消ポイント（未精算分）",
    "repayment": "返還（精算済み分の取消）",
    "net": "差引",
    "total_net": "全期間の差引合計",
    "estimates_paid": "概算払い済額",
    "amount_due": "支払額",
}
KIND_JA = {Kind.ESTIMATE: "概算払い", Kind.FINAL: "精算払い", Kind.REPAYMENT: "返還"}
STATUS_JA = {
    Status.DRAFT: "下書き（暫定）",
    Status.CLAIMED: "請求済み",
    Status.APPROVED: "承認済み",
    Status.PAID: "支払済み",
}


def statement_lines(statement: Statement) -> list[StatementLine]:
    """The statement's lines in document order; clawbacks, repayments and paid estimates are negative, so
    that each total is the sum of the lines above it."""
    lines = [
        StatementLine("grant", statement.granted_rows, statement.granted_points),
        StatementLine("clawback", statement.clawed_back_rows, -statement.clawed_back_points),
        StatementLine("repayment", statement.repayment_rows, -statement.repayment_points),
        StatementLine("net", None, statement.net_points),
    ]
    if statement.kind == Kind.FINAL:
        lines += [
            StatementLine("total_net", None, statement.total_net_points),
            StatementLine("estimates_paid", None, -statement.estimates_paid_points),
        ]
    lines.append(StatementLine("amount_due", None, statement.amount_due))
    return lines


def amount_due_label_ja(statement: Statement) -> str:
    return "返還額（事業者から国へ）" if statement.amount_due < 0 else "支払額（国から事業者へ）"


# --- Exports ---------------------------------------------------------------------------------------------------
def _local(at: datetime | None) -> str:
    return timezone.localtime(at).isoformat(timespec="seconds") if at else ""


LIST_HEADER = [
    "明細番号", "事業者コード", "事業者名", "事業", "種別", "対象月", "状態", "付与ポイント", "付与件数",
    "取消ポイント", "取消件数", "返還ポイント", "返還件数", "差引", "全期間の差引合計", "概算払い済額",
    "支払額（負は返還）", "請求日時", "承認日時", "支払日時",
]  # fmt: skip


def _list_row(s: Statement) -> list:
    return [
        s.pk, spreadsheet_text(s.provider.code), spreadsheet_text(s.provider.name), spreadsheet_text(s.campaign.name),
        KIND_JA[s.kind], month_label(s.month), STATUS_JA[s.status], s.granted_points, s.granted_rows,
        s.clawed_back_points, s.clawed_back_rows, s.repayment_points, s.repayment_rows, s.net_points,
        s.total_net_points, s.estimates_paid_points, s.amount_due, _local(s.claimed_at), _local(s.approved_at),
        _local(s.paid_at),
    ]  # fmt: skip


STATEMENT_HEADER = [
    "明細番号",
    "事業者コード",
    "事業者名",
    "事業",
    "種別",
    "対象月",
    "状態",
    "区分",
    "件数",
    "ポイント（円）",
]


def _statement_rows(statement: Statement) -> list[list]:
    head = [
        statement.pk, spreadsheet_text(statement.provider.code), spreadsheet_text(statement.provider.name),
        spreadsheet_text(statement.campaign.name), KIND_JA[statement.kind], month_label(statement.month),
        STATUS_JA[statement.status],
    ]  # fmt: skip
    return [
        [*head, line.label_ja, "" if line.rows is None else line.rows, line.points]
        for line in statement_lines(statement)
    ]


def statement_csv(statement: Statement) -> bytes:
    """One line per statement line (区分), the statement's identity repeated on each: easy to load and sum."""
    return csv_bytes(STATEMENT_HEADER, _statement_rows(statement))


def statements_csv(statements) -> bytes:
    return csv_bytes(LIST_HEADER, [_list_row(s) for s in statements])


def statement_xlsx(statement: Statement) -> bytes:
    preface = [
        ("マイナポイント事業 " + KIND_JA[statement.kind] + " 明細", ""),
        ("事業者", f"{statement.provider.name}（{statement.provider.code}）"),
        ("事業", statement.campaign.name),
        ("対象月" if statement.kind == Kind.ESTIMATE else "作成月",
         f"{month_wareki(statement.month)}（{month_label(statement.month)}）"),
        ("状態", STATUS_JA[statement.status]),
        ("発行日", format_wareki(timezone.localdate())),
    ]  # fmt: skip
    rows = [
        [line.label_ja, "" if line.rows is None else line.rows, line.points]
        for line in statement_lines(statement)
    ]
    return xlsx_bytes("明細", ["区分", "件数", "ポイント（円）"], rows, preface=preface)


def statements_xlsx(statements) -> bytes:
    return xlsx_bytes("明細一覧", LIST_HEADER, [_list_row(s) for s in statements])


def _user_label(user: User | None, fallback: str = "") -> str:
    return str(user) if user is not None else fallback


def statement_pdf(statement: Statement, *, issued_on: date | None = None) -> bytes:
    """The statement as a one-page A4 PDF in Japanese: provider, period, lines, totals, status and the issue
    date in 和暦. A draft is marked as provisional on the page."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    register_japanese_fonts()
    issued_on = issued_on or timezone.localdate()
    out = io.BytesIO()
    # Uncompressed: a one-page statement stays small, and its figures can be checked with a text search.
    pdf = canvas.Canvas(out, pagesize=A4, pageCompression=0)
    width, height = A4
    left, right = 20 * mm, width - 20 * mm
    kind = KIND_JA[statement.kind]
    period = month_label(statement.month)
    pdf.setTitle(f"マイナポイント事業 {kind}明細書 {statement.provider.name} {period}")
    pdf.setSubject(
        f"Madoguchi settlement statement {statement.pk} {statement.kind} {statement.provider.code} {period}"
    )
    pdf.setAuthor("Madoguchi")
    pdf.setCreator("Madoguchi")

    y = height - 25 * mm
    pdf.setFont(MINCHO, 10)
    pdf.drawRightString(right, y, f"発行日　{format_wareki(issued_on)}")
    pdf.drawRightString(right, y - 5 * mm, f"明細番号　{statement.pk}")
    y -= 18 * mm
    pdf.setFont(GOTHIC, 18)
    pdf.drawCentredString(width / 2, y, f"マイナポイント事業　{kind}明細書")
    y -= 14 * mm

    pdf.setFont(MINCHO, 11)
    rows = [
        ("決済事業者", f"{statement.provider.name}（{statement.provider.code}）"),
        ("事業", statement.campaign.name),
        ("対象月" if statement.kind == Kind.ESTIMATE else "作成月", month_wareki(statement.month)),
        ("状態", STATUS_JA[statement.status]),
    ]
    for label, value in rows:
        pdf.setFont(GOTHIC, 11)
        pdf.drawString(left, y, label)
        pdf.setFont(MINCHO, 11)
        pdf.drawString(left + 30 * mm, y, value)
        if label in ("対象月", "作成月"):
            # The month in ISO form as well, in a Latin font: unambiguous for machines and for readers abroad.
            pdf.setFont("Helvetica", 11)
            pdf.drawString(left + 30 * mm + pdf.stringWidth(value, MINCHO, 11) + 4 * mm, y, f"({period})")
        y -= 7 * mm

    y -= 6 * mm
    columns = (left, left + 100 * mm, right)
    pdf.setLineWidth(0.8)
    pdf.line(left, y + 5 * mm, right, y + 5 * mm)
    pdf.setFont(GOTHIC, 10.5)
    pdf.drawString(columns[0] + 2 * mm, y, "区分")
    pdf.drawRightString(columns[1] + 25 * mm, y, "件数")
    pdf.drawRightString(columns[2] - 2 * mm, y, "ポイント（円）")
    y -= 3 * mm
    pdf.line(left, y, right, y)
    for line in statement_lines(statement):
        y -= 7 * mm
        total = line.code in ("net", "amount_due", "total_net")
        label = amount_due_label_ja(statement) if line.code == "amount_due" else line.label_ja
        points = abs(line.points) if line.code == "amount_due" else line.points
        pdf.setFont(GOTHIC if total else MINCHO, 11)
        pdf.drawString(columns[0] + 2 * mm, y, label)
        if line.rows is not None:
            pdf.drawRightString(columns[1] + 25 * mm, y, f"{line.rows:,}")
        pdf.drawRightString(columns[2] - 2 * mm, y, f"{points:,}")
        pdf.setLineWidth(0.8 if total else 0.3)
        pdf.line(left, y - 3 * mm, right, y - 3 * mm)

    y -= 14 * mm
    pdf.setFont(MINCHO, 9.5)
    notes = [
        "1ポイント＝1円として計算しています。取消・返還・概算払い済額は負の数で示します。",
        "返還は、精算済みの月に付与したポイントがその後の返金等で取り消されたものです（事業者が返還します）。",
    ]
    if statement.status == Status.DRAFT:
        notes.append("この明細は下書きです。数値は請求の時点で確定します。")
    for note in notes:
        pdf.drawString(left, y, note)
        y -= 5.5 * mm

    y -= 6 * mm
    pdf.setFont(GOTHIC, 10.5)
    pdf.drawString(left, y, "経過")
    pdf.setFont(MINCHO, 10)
    history = [
        ("請求", statement.claimed_at, statement.claimed_by_label),
        ("承認", statement.approved_at, _user_label(statement.approved_by)),
        ("支払", statement.paid_at, _user_label(statement.paid_by)),
    ]
    for label, at, who in history:
        y -= 6 * mm
        when = format_wareki(timezone.localdate(at)) if at else "—"
        pdf.drawString(left + 4 * mm, y, f"{label}　{when}　{who}" if at else f"{label}　{when}")

    if statement.status == Status.DRAFT:
        pdf.saveState()
        pdf.setFont(GOTHIC, 60)
        pdf.setFillGray(0.85)
        pdf.translate(width / 2, height / 2)
        pdf.rotate(30)
        pdf.drawCentredString(0, 0, "下書き")
        pdf.restoreState()

    pdf.setFont(MINCHO, 8.5)
    pdf.drawString(left, 15 * mm, "窓口（Madoguchi）マイナポイント精算")
    pdf.drawRightString(right, 15 * mm, f"明細番号 {statement.pk}　1 / 1")
    pdf.showPage()
    pdf.save()
    return out.getvalue()
