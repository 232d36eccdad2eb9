"""Writes of the subsidies app, one step of 補助金適正化法 each: keyword-only, one transaction, audited.

交付申請 `application_submit` (eligibility checked automatically) → `application_review` / `application_return`
→ 交付決定 `application_decide` (or `application_refuse`; 修正交付決定 = deciding less than applied for) →
変更承認 `application_change` → 実績報告 `report_submit` → 額の確定 `amount_confirm` → 精算払 `disburse` →
取消 `application_cancel` and 返還 `return_record` with 加算金/延滞金 from `calc`; 明許繰越 `carry_over_record`;
withdrawal (Art. 9) `application_withdraw`. `alerts_scan` raises alerts for late steps; `base_amounts_compute`
fills a programme's per-body ceilings.
"""

from __future__ import annotations

import secrets
from datetime import date

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.core import audit
from madoguchi.core.calendar import add_business_days
from madoguchi.core.models import Municipality, Prefecture
from madoguchi.grants import calc
from madoguchi.grants.models import (
    Alert,
    Application,
    BaseAmount,
    BusinessProfile,
    Call,
    CallNotice,
    CarryOver,
    Disbursement,
    ExpenseLine,
    GrantEvent,
    Programme,
)

S = Application.Status
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
GBIZ_LEVELS = {"prime": 2, "member": 3, "entry": 1}


class GrantError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _stream_municipality(application: Application) -> Municipality | None:
    """Audit records go to the issuing municipality's chain, or the platform's for a ministry programme."""
    return application.call.programme.municipality


def _event(
    application: Application, kind: str, *, actor=None, amount: int | None = None, note: str = ""
) -> None:
    GrantEvent.objects.create(
        application=application, kind=kind, amount=amount, note=note[:5000],
        actor=actor if getattr(actor, "pk", None) else None,
    )  # fmt: skip
    audit.record(
        actor=actor, action=f"grants.{kind}", target=application, municipality=_stream_municipality(application),
        details={"reference": application.reference, "amount": amount, "status": application.status},
    )  # fmt: skip


def _locked(application: Application) -> Application:
    return Application.objects.select_for_update().select_related("call__programme").get(pk=application.pk)


def may_act_for(application: Application, user) -> bool:
    """The applicant side: the person who applied, another GビズID プライム/メンバー account of the same business,
    or an administrator of the applying municipality (the application is the body's, not one person's)."""
    from madoguchi.identity.models import BusinessAccount, StaffRole
    from madoguchi.identity.selectors import staff_access

    if user is None or not getattr(user, "pk", None):
        return False
    if application.applicant_user_id == user.pk:
        return True
    if application.business_id:
        return BusinessAccount.objects.filter(
            user=user, business_id=application.business_id,
            account_type__in=[BusinessAccount.AccountType.PRIME, BusinessAccount.AccountType.MEMBER],
        ).exists()  # fmt: skip
    if application.applicant_municipality_id:
        return staff_access(user, application.applicant_municipality, {StaffRole.Role.MUNICIPAL_ADMIN})
    return False


def _require(application: Application, *statuses: str) -> None:
    if application.status not in statuses:
        raise GrantError(
            "transition",
            _("This step is not possible while the application is %(status)s.")
            % {"status": S(application.status).label},
        )


# --- Eligibility --------------------------------------------------------------------------------------------
def eligibility_problems(*, call: Call, account=None, municipality=None, prefecture=None) -> list[str]:
    """Why this applicant may not apply (empty: eligible). Checked automatically before an application."""
    programme = call.programme
    rules = programme.eligibility or {}
    problems: list[str] = []
    if programme.applicant_type == Programme.ApplicantType.BUSINESS:
        if account is None:
            return [_("Sign in with GビズID to apply.")]
        allowed = rules.get("gbiz", ["prime", "member"])
        if not any(account.account_type == GBIZ_LEVELS[level] for level in allowed):
            names = "・".join(
                {"prime": "プライム", "member": "メンバー", "entry": "エントリー"}[x] for x in allowed
            )
            problems.append(_("This call needs a GビズID %(levels)s account.") % {"levels": names})
        business = account.business
        if rules.get("corporate_number") and not business.corporate_number:
            problems.append(_("Only corporations with a corporate number (法人番号) may apply."))
        profile = BusinessProfile.objects.filter(business=business).first()
        if rules.get("max_employees") is not None:
            if profile is None or profile.employees is None:
                problems.append(_("Enter your number of employees in your business profile first."))
            elif profile.employees > rules["max_employees"]:
                problems.append(
                    _("Only businesses with at most %(n)s employees may apply.")
                    % {"n": rules["max_employees"]}
                )
        if rules.get("industries") and (profile is None or profile.industry not in rules["industries"]):
            problems.append(_("Your industry is not one this call is for."))
        if (
            rules.get("prefectures")
            and (business.prefecture or (profile.prefecture if profile else "")) not in rules["prefectures"]
        ):
            problems.append(_("Your business is not in the area this call is for."))
    else:
        body = municipality or prefecture
        if body is None:
            return [_("Only local governments may apply.")]
        members = rules.get("council_members")
        if members not in (None, "all") and body.code not in members:
            problems.append(_("Only members of the council named in the guidelines may apply."))
    return problems


# --- Application --------------------------------------------------------------------------------------------
def _new_reference() -> str:
    body = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(10))
    return f"G-{body[:5]}-{body[5:]}"


def ceiling(call: Call, *, municipality=None, prefecture=None) -> int | None:
    """The most this applicant can get: the call's upper limit and, for per-body formulas, its base amount."""
    limits = [call.subsidy_max_limit] if call.subsidy_max_limit else []
    body = municipality or prefecture
    if body is not None:
        base = BaseAmount.objects.filter(programme=call.programme, body_code=body.code).first()
        if base is not None:
            limits.append(base.amount)
    return min(limits) if limits else None


def application_submit(
    *, call: Call, user, answers: dict, project_title: str, planned_cost: int, project_end: date | None = None,
    account=None, municipality: Municipality | None = None, prefecture: Prefecture | None = None,
) -> Application:  # fmt: skip
    """交付申請 (Art. 5). Answers must already be cleaned with the call's form (procedures' form engine)."""
    now = timezone.now()
    if not (call.published and call.acceptance_start_datetime <= now <= call.acceptance_end_datetime):
        raise GrantError("closed", _("This call is not accepting applications now."))
    problems = eligibility_problems(
        call=call, account=account, municipality=municipality, prefecture=prefecture
    )
    if problems:
        raise GrantError("not_eligible", " ".join(problems))
    if planned_cost <= 0:
        raise GrantError("cost", _("Enter the planned eligible cost in yen."))
    programme = call.programme
    amount = calc.subsidy_amount(
        eligible=planned_cost, rate_num=programme.rate_num, rate_den=programme.rate_den,
        cap=ceiling(call, municipality=municipality, prefecture=prefecture),
    )  # fmt: skip
    with transaction.atomic():
        if not call.is_enable_multiple_request:
            same = Application.objects.filter(call=call).exclude(status__in=[S.WITHDRAWN, S.REFUSED])
            if account is not None:
                same = same.filter(business=account.business)
            elif municipality is not None:
                same = same.filter(applicant_municipality=municipality)
            else:
                same = same.filter(applicant_prefecture=prefecture)
            if same.exists():
                raise GrantError("duplicate", _("You have already applied to this call."))
        application = Application(
            call=call, business=account.business if account else None, applicant_municipality=municipality,
            applicant_prefecture=prefecture, applicant_user=user, answers=answers, project_title=project_title[:200],
            planned_cost=planned_cost, requested_amount=amount, project_end=project_end or call.project_end_deadline,
            decision_due_on=add_business_days(timezone.localdate(), programme.decision_business_days),
        )  # fmt: skip
        for _attempt in range(5):
            application.reference = _new_reference()
            try:
                with transaction.atomic():
                    application.save()
                break
            except IntegrityError:
                continue
        _event(application, "applied", actor=user, amount=amount)
    return application


def application_review(*, application: Application, actor) -> Application:
    with transaction.atomic():
        application = _locked(application)
        _require(application, S.SUBMITTED)
        application.status = S.IN_REVIEW
        application.save(update_fields=["status"])
        _event(application, "review_started", actor=actor)
    return application


def application_return(*, application: Application, actor, note: str) -> Application:
    """Back to the applicant for a correction (the review continues when it is resubmitted)."""
    if not note.strip():
        raise GrantError("note", _("Tell the applicant what to correct."))
    with transaction.atomic():
        application = _locked(application)
        _require(application, S.SUBMITTED, S.IN_REVIEW)
        application.status = S.RETURNED
        application.save(update_fields=["status"])
        _event(application, "returned", actor=actor, note=note)
    return application


def application_resubmit(*, application: Application, user, answers: dict, planned_cost: int) -> Application:
    with transaction.atomic():
        application = _locked(application)
        if not may_act_for(application, user):
            raise PermissionDenied
        _require(application, S.RETURNED)
        programme = application.call.programme
        application.answers = answers
        application.planned_cost = planned_cost
        application.requested_amount = calc.subsidy_amount(
            eligible=planned_cost, rate_num=programme.rate_num, rate_den=programme.rate_den,
            cap=ceiling(application.call, municipality=application.applicant_municipality,
                        prefecture=application.applicant_prefecture),
        )  # fmt: skip
        application.status = S.SUBMITTED
        application.save(update_fields=["answers", "planned_cost", "requested_amount", "status"])
        _event(application, "resubmitted", actor=user, amount=application.requested_amount)
    return application


def application_decide(*, application: Application, actor, amount: int, note: str = "") -> Application:
    """交付決定 (Art. 6). Deciding less than applied for is a 修正交付決定 and needs the reason in `note`."""
    with transaction.atomic():
        application = _locked(application)
        _require(application, S.SUBMITTED, S.IN_REVIEW)
        if amount <= 0 or amount > application.requested_amount:
            raise GrantError(
                "amount", _("The decided amount must be between 1 yen and the amount applied for.")
            )
        if amount < application.requested_amount and not note.strip():
            raise GrantError("note", _("A reduced decision (修正交付決定) needs its reason."))
        programme = application.call.programme
        application.status = S.DECIDED
        application.decided_amount = amount
        application.decided_at = timezone.now()
        end = application.project_end or application.call.project_end_deadline or timezone.localdate()
        application.report_due_on = add_business_days(end, programme.report_business_days)
        application.save(update_fields=["status", "decided_amount", "decided_at", "report_due_on"])
        kind = "decided" if amount == application.requested_amount else "decided_reduced"
        _event(application, kind, actor=actor, amount=amount, note=note)
    return application


def application_refuse(*, application: Application, actor, note: str) -> Application:
    if not note.strip():
        raise GrantError("note", _("A refusal needs its reason."))
    with transaction.atomic():
        application = _locked(application)
        _require(application, S.SUBMITTED, S.IN_REVIEW)
        application.status = S.REFUSED
        application.save(update_fields=["status"])
        _event(application, "refused", actor=actor, note=note)
    return application


def application_change(*, application: Application, actor, amount: int, note: str) -> Application:
    """変更承認 (Art. 7): the decided amount goes up (within the ceiling) or down; the reason is required."""
    if not note.strip():
        raise GrantError("note", _("A change needs its reason."))
    with transaction.atomic():
        application = _locked(application)
        _require(application, S.DECIDED)
        limit = ceiling(application.call, municipality=application.applicant_municipality,
                        prefecture=application.applicant_prefecture)  # fmt: skip
        if amount <= 0 or (limit is not None and amount > limit):
            raise GrantError("amount", _("The new amount must be positive and within the upper limit."))
        old = application.decided_amount
        application.decided_amount = amount
        application.save(update_fields=["decided_amount"])
        _event(application, "change_increase" if amount > old else "change_decrease", actor=actor, amount=amount,
               note=f"{old} → {amount}: {note}")  # fmt: skip
    return application


def application_withdraw(*, application: Application, user) -> Application:
    """Art. 9: the applicant withdraws (before the amount is confirmed)."""
    with transaction.atomic():
        application = _locked(application)
        if not may_act_for(application, user):
            raise PermissionDenied
        _require(application, S.SUBMITTED, S.IN_REVIEW, S.RETURNED, S.DECIDED)
        if application.paid_amount:
            raise GrantError("paid", _("Money has been paid: ask the office to cancel the decision instead."))
        application.status = S.WITHDRAWN
        application.save(update_fields=["status"])
        _event(application, "withdrawn", actor=user)
    return application


def report_submit(
    *, application: Application, user, lines: list[tuple[str, str, int]], completed_on: date | None = None
) -> Application:
    """実績報告 (Art. 14): expense lines by category; ineligible categories are kept but excluded."""
    ineligible = application.call.programme.ineligible_categories()
    known = {c["code"] for c in application.call.programme.expense_categories or []}
    if not lines:
        raise GrantError("lines", _("Add at least one expense."))
    for category, _description, amount in lines:
        if category not in known:
            raise GrantError("category", _("Unknown expense category: %(c)s") % {"c": category})
        if not isinstance(amount, int) or amount <= 0:
            raise GrantError("amount", _("Expense amounts are whole yen above zero."))
    with transaction.atomic():
        application = _locked(application)
        if not may_act_for(application, user):
            raise PermissionDenied
        _require(application, S.DECIDED)
        ExpenseLine.objects.filter(application=application).delete()
        ExpenseLine.objects.bulk_create(
            [ExpenseLine(application=application, category=c, description=d[:200], amount=a, eligible=c not in ineligible)
             for c, d, a in lines]
        )  # fmt: skip
        eligible, excluded = calc.eligible_total(((c, a) for c, _d, a in lines), ineligible)
        application.status = S.REPORTED
        application.reported_at = timezone.now()
        application.save(update_fields=["status", "reported_at"])
        Alert.objects.filter(application=application, kind="report_late", resolved_at__isnull=True).update(
            resolved_at=timezone.now()
        )
        late = application.report_due_on and timezone.localdate() > application.report_due_on
        _event(application, "reported", actor=user, amount=eligible,
               note=f"excluded {excluded}" + (" (late)" if late else ""))  # fmt: skip
    return application


def eligible_spent(application: Application) -> int:
    return sum(line.amount for line in application.expenses.all() if line.eligible)


def amount_confirm(*, application: Application, actor) -> Application:
    """額の確定 (Art. 15) = min(eligible actual × rate, decided)."""
    with transaction.atomic():
        application = _locked(application)
        _require(application, S.REPORTED)
        programme = application.call.programme
        application.confirmed_amount = calc.confirmed_amount(
            eligible_actual=eligible_spent(application), rate_num=programme.rate_num, rate_den=programme.rate_den,
            decided=application.decided_amount,
        )  # fmt: skip
        application.status = S.CONFIRMED
        application.confirmed_at = timezone.now()
        application.save(update_fields=["confirmed_amount", "status", "confirmed_at"])
        _event(application, "confirmed", actor=actor, amount=application.confirmed_amount)
    return application


def disburse(
    *, application: Application, actor, amount: int, on: date, advance: bool = False
) -> Disbursement:
    """概算払 (advance, after the decision) or 精算払 (after 額の確定, up to the confirmed amount)."""
    with transaction.atomic():
        application = _locked(application)
        if advance:
            _require(application, S.DECIDED, S.REPORTED)
            limit = application.decided_amount
        else:
            _require(application, S.CONFIRMED)
            limit = application.confirmed_amount
        if amount <= 0 or application.paid_amount + amount > limit:
            raise GrantError(
                "amount", _("Payments cannot exceed %(limit)s yen in total.") % {"limit": f"{limit:,}"}
            )
        payment = Disbursement.objects.create(
            application=application, kind=Disbursement.Kind.ADVANCE if advance else Disbursement.Kind.FINAL,
            amount=amount, on=on,
        )  # fmt: skip
        application.paid_amount += amount
        fields = ["paid_amount"]
        if not advance and application.paid_amount == application.confirmed_amount:
            application.status = S.PAID
            fields.append("status")
        application.save(update_fields=fields)
        _event(application, "advance_paid" if advance else "paid", actor=actor, amount=amount)
    return payment


def overpayment(application: Application) -> int:
    """What the applicant must give back after 額の確定 (0 when nothing was overpaid)."""
    if application.confirmed_amount is None:
        return 0
    return max(0, -calc.settlement(confirmed=application.confirmed_amount, paid=application.paid_amount))


RETURN_BUSINESS_DAYS = 20


def application_cancel(*, application: Application, actor, note: str) -> Application:
    """取消 (Art. 10 / 17): the decision is cancelled; everything paid must be returned (Art. 18) with 加算金,
    by a due date (納期日, 20 business days here) after which 延滞金 runs too."""
    if not note.strip():
        raise GrantError("note", _("A cancellation needs its reason."))
    with transaction.atomic():
        application = _locked(application)
        _require(application, S.DECIDED, S.REPORTED, S.CONFIRMED, S.PAID)
        application.status = S.CANCELLED
        fields = ["status"]
        if application.paid_amount:
            application.return_due_on = add_business_days(timezone.localdate(), RETURN_BUSINESS_DAYS)
            fields.append("return_due_on")
        application.save(update_fields=fields)
        _event(application, "cancelled", actor=actor, amount=application.paid_amount, note=note)
    return application


def return_record(*, application: Application, actor, amount: int, on: date) -> Disbursement:
    with transaction.atomic():
        application = _locked(application)
        due = application.paid_amount if application.status == S.CANCELLED else overpayment(application)
        owed = due - application.returned_amount
        if amount <= 0 or amount > owed:
            raise GrantError(
                "amount", _("At most %(owed)s yen is still to be returned.") % {"owed": f"{owed:,}"}
            )
        repayment = Disbursement.objects.create(
            application=application, kind=Disbursement.Kind.RETURN, amount=amount, on=on
        )
        application.returned_amount += amount
        application.save(update_fields=["returned_amount"])
        _event(application, "returned_money", actor=actor, amount=amount)
    return repayment


def return_charges(application: Application, *, until: date | None = None, due: date | None = None):
    """What is owed on top of a return, to `until` (default today): (加算金, 延滞金) as `calc.ChargeResult`s.

    加算金 (Art. 19(1)) only after a cancellation: on each amount received, from its day of receipt to its
    repayment, principal first. 延滞金 (Art. 19(2)) only when a due date for the return was set and passed: on
    the amount still to be returned. A refund of an overpayment after 額の確定 carries no 加算金. Either is None
    when it does not apply.
    """
    application = Application.objects.get(pk=application.pk)  # the amounts as they are now
    until = until or timezone.localdate()
    due = due or application.return_due_on
    repaid = [(d.on, d.amount) for d in application.disbursements.filter(kind=Disbursement.Kind.RETURN)]
    additional = late = None
    if application.status == S.CANCELLED:
        received = [
            (d.on, d.amount) for d in application.disbursements.exclude(kind=Disbursement.Kind.RETURN)
        ]
        additional = calc.additional_charge(returns=received, repayments=repaid, until=until)
        to_return = application.paid_amount
    else:
        to_return = overpayment(application)
    if due is not None and to_return:
        late = calc.late_charge(amount_due=to_return, due=due, repayments=repaid, until=until)
    return additional, late


def carry_over_record(
    *, application: Application, actor, from_fiscal_year: int, amount: int, reason: str
) -> CarryOver:
    """明許繰越: the unfinished part of the work moves into the next fiscal year with its money."""
    with transaction.atomic():
        application = _locked(application)
        _require(application, S.DECIDED)
        if amount <= 0 or amount > (application.decided_amount or 0):
            raise GrantError("amount", _("The carried amount must be within the decided amount."))
        record = CarryOver.objects.create(
            application=application, from_fiscal_year=from_fiscal_year, amount=amount, reason=reason[:300]
        )
        _event(
            application, "carried_over", actor=actor, amount=amount, note=f"FY{from_fiscal_year}: {reason}"
        )
    return record


def status_report(*, application: Application, user, text: str) -> GrantEvent:
    """状況報告: how the project is going, while it runs (after the decision)."""
    if not text.strip():
        raise GrantError("text", _("Write the report."))
    with transaction.atomic():
        application = _locked(application)
        if not may_act_for(application, user):
            raise PermissionDenied
        _require(application, S.DECIDED)
        _event(application, "status_report", actor=user, note=text)
    return application.events.last()


# --- Deadlines and alerts -----------------------------------------------------------------------------------
def alerts_scan(*, today: date | None = None) -> int:
    """Raise an alert (once) for each decided application whose performance report is past due, and each
    application whose decision is past the standard processing time. Returns the number of new alerts."""
    today = today or timezone.localdate()
    created = 0
    late_reports = Application.objects.filter(status=S.DECIDED, report_due_on__lt=today).select_related(
        "call__programme"
    )
    for application in late_reports:
        created += _alert(application, "report_late", application.report_due_on,
               _("The performance report was due on %(d)s.") % {"d": application.report_due_on.isoformat()})  # fmt: skip
    late_decisions = Application.objects.filter(
        status__in=[S.SUBMITTED, S.IN_REVIEW], decision_due_on__lt=today
    )
    for application in late_decisions.select_related("call__programme"):
        created += _alert(application, "decision_late", application.decision_due_on,
               _("The decision was due on %(d)s.") % {"d": application.decision_due_on.isoformat()})  # fmt: skip
    return created


def _alert(application: Application, kind: str, due: date, message: str) -> bool:
    """Create the alert unless it exists; True when it is new (then audited and mailed)."""
    with transaction.atomic():
        alert, created = Alert.objects.get_or_create(
            application=application, kind=kind, due_on=due, defaults={"message": message}
        )
        if created:
            audit.record(
                actor=None, action="grants.alert", target=application, municipality=_stream_municipality(application),
                details={"reference": application.reference, "kind": kind, "due": due.isoformat()},
            )  # fmt: skip
            from django.core.mail import send_mail

            email = getattr(getattr(application.applicant_user, "business_account", None), "email", "")
            if email:
                send_mail(f"[Madoguchi] {application.reference}", message, None, [email], fail_silently=True)
    return created


# --- Base amounts -------------------------------------------------------------------------------------------
def base_amounts_compute(*, programme: Programme, actor=None) -> int:
    """Every body's base amount under the programme's formula (all 1,741 municipalities and 47 prefectures,
    2020 census populations; a prefecture's population is its municipalities' sum). Replaces earlier figures."""
    formula = programme.base_formula or {}
    if not formula:
        raise GrantError("formula", _("This programme has no base-amount formula."))
    bodies = []
    for prefecture in Prefecture.objects.order_by("code"):
        bodies.append((prefecture.code, prefecture.name, 0))
    populations: dict[str, int] = {}
    for municipality in Municipality.objects.select_related("prefecture").order_by("code"):
        bodies.append((municipality.code, municipality.full_name, municipality.population))
        populations[municipality.prefecture.code] = (
            populations.get(municipality.prefecture.code, 0) + municipality.population
        )
    bodies = [(code, name, populations.get(code, pop) if pop == 0 else pop) for code, name, pop in bodies]
    amounts = calc.base_amounts(
        [pop for _c, _n, pop in bodies],
        equal_total=formula["equal_total"],
        population_total=formula["population_total"],
    )
    equal_each = calc.base_amounts([1] * len(bodies), equal_total=0, population_total=formula["equal_total"])
    with transaction.atomic():
        BaseAmount.objects.filter(programme=programme).delete()
        BaseAmount.objects.bulk_create(
            [BaseAmount(programme=programme, body_code=code, body_name=name, population=pop,
                        equal_part=min(eq, amount), population_part=amount - min(eq, amount), amount=amount)
             for (code, name, pop), amount, eq in zip(bodies, amounts, equal_each, strict=True)]
        )  # fmt: skip
        audit.record(
            actor=actor, action="grants.base_amounts_computed", target=programme,
            details={"bodies": len(bodies), "total": sum(amounts), **formula},
        )  # fmt: skip
    return len(bodies)


# --- Calls ------------------------------------------------------------------------------------------------
def call_create(*, programme: Programme, actor, form_definition: dict, publish: bool, **fields) -> Call:
    """A call (公募) of a programme. Its application form is a form-engine definition, checked here; publishing
    it tells the businesses whose profile matches (push)."""
    from madoguchi.procedures.formengine import parse_definition

    definition = parse_definition(form_definition)  # raises DefinitionError listing every problem
    if fields["acceptance_end_datetime"] <= fields["acceptance_start_datetime"]:
        raise GrantError("window", _("The reception must close after it opens."))
    with transaction.atomic():
        call = Call(programme=programme, form_definition=definition.to_json(), published=publish, **fields)
        for _attempt in range(5):
            call.public_id = "a0W" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(12))
            try:
                with transaction.atomic():
                    call.save()
                break
            except IntegrityError:
                continue
        audit.record(
            actor=actor, action="grants.call_created", target=call, municipality=programme.municipality,
            details={"programme": programme.code, "public_id": call.public_id, "published": publish},
        )  # fmt: skip
    if publish:
        notify_matching(call=call)
    return call


# --- Push ---------------------------------------------------------------------------------------------------
def notify_matching(*, call: Call) -> int:
    """Tell each business whose saved profile matches a newly published call (once per call)."""
    from django.core.mail import send_mail

    from madoguchi.procedures.formengine import normalize_search_text

    if not call.published:
        return 0
    text = normalize_search_text(" ".join([call.name, call.title, call.catch_phrase, call.industry,
                                           call.target_area_search, call.use_purpose]))  # fmt: skip
    sent = 0
    for profile in BusinessProfile.objects.filter(notify=True).select_related("business"):
        words = normalize_search_text(" ".join([profile.keywords, profile.industry])).split()
        area_ok = (
            not call.target_area_search
            or "全国" in call.target_area_search
            or (profile.prefecture and profile.prefecture in call.target_area_search)
        )
        if not area_ok or (words and not any(w in text for w in words)):
            continue
        _notice, created = CallNotice.objects.get_or_create(profile=profile, call=call)
        if created:
            sent += 1
            for account in profile.business.accounts.exclude(email=""):
                send_mail(
                    _("New call for subsidies: %(title)s") % {"title": call.title},
                    _("A new call matches your business profile: %(title)s (%(institution)s). Reception: %(start)s – %(end)s.")
                    % {"title": call.title, "institution": call.programme.institution_name,
                       "start": timezone.localtime(call.acceptance_start_datetime).date(),
                       "end": timezone.localtime(call.acceptance_end_datetime).date()},
                    None, [account.email], fail_silently=True,
                )  # fmt: skip
    return sent
