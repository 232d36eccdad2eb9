"""The subsidy lifecycle through the services, with the worked examples the issue names."""

from datetime import date, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from madoguchi.core.models import AuditRecord, Municipality
from madoguchi.grants import calc, services
from madoguchi.grants.demo import ADMIN_COST_CATEGORIES, BUSINESS_CATEGORIES, _form
from madoguchi.grants.models import Alert, Application, BaseAmount, Call, Programme
from madoguchi.identity.models import Business, BusinessAccount
from madoguchi.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db
ANSWERS = {"contact_name": "担当", "contact_email": "a@example.jp", "contact_phone": "0300000000", "plan": "計画",
           "declaration": True}  # fmt: skip


@pytest.fixture
def admin_cost(public_bodies):
    programme = Programme.objects.create(
        code="mnp", name="マイナポイント事業費補助金", issuer="ministry", institution_name="総務省",
        applicant_type="local_government", eligibility={"council_members": "all"},
        expense_categories=ADMIN_COST_CATEGORIES, rate_num=1, rate_den=1,
        base_formula={"equal_total": 3_000_000_000, "population_total": 9_500_000_000},
    )  # fmt: skip
    services.base_amounts_compute(programme=programme)
    now = timezone.now()
    call = Call.objects.create(
        programme=programme, public_id="MNP1", name="mnp", title="マイナポイント事業費補助金",
        acceptance_start_datetime=now - timedelta(days=1), acceptance_end_datetime=now + timedelta(days=30),
        form_definition=_form("t", []), published=True, project_end_deadline=timezone.localdate() + timedelta(days=30),
    )  # fmt: skip
    return call


@pytest.fixture
def business_call(db):
    programme = Programme.objects.create(
        code="dx", name="デジタル化支援", issuer="ministry", institution_name="経済産業省", applicant_type="business",
        eligibility={"gbiz": ["prime"], "max_employees": 300, "corporate_number": True},
        expense_categories=BUSINESS_CATEGORIES, rate_num=2, rate_den=3,
    )  # fmt: skip
    now = timezone.now()
    return Call.objects.create(
        programme=programme, public_id="DX1", name="dx", title="デジタル化支援 第1次", subsidy_max_limit=4_500_000,
        acceptance_start_datetime=now - timedelta(days=1), acceptance_end_datetime=now + timedelta(days=30),
        form_definition=_form("t", []), published=True,
    )  # fmt: skip


def _account(kind: int) -> BusinessAccount:
    business = Business.objects.create(corporate_number="7000012050002", corp_type=1, name="株式会社窓口テック",
                                       prefecture="東京都")  # fmt: skip
    from madoguchi.grants.models import BusinessProfile

    BusinessProfile.objects.create(business=business, employees=40, industry="情報通信業")
    return BusinessAccount.objects.create(user=UserFactory(), business=business, issuer="x", subject=str(kind),
                                          account_type=kind)  # fmt: skip


def test_base_amounts_for_every_body_add_up_and_cap_the_application(admin_cost):
    assert BaseAmount.objects.count() == 1_788  # 1,741 municipalities + 47 prefectures
    assert (
        sum(BaseAmount.objects.values_list("amount", flat=True)) == 12_500_000_000
    )  # about 125億円 (the deck)
    sapporo = Municipality.objects.get(code="011002")
    base = BaseAmount.objects.get(body_code="011002").amount
    # Equal share 30億 / 1,788 bodies + 95億 × population / 126,146,099 (2020 census; prefectures counted too).
    user = UserFactory()
    huge = services.application_submit(call=admin_cost, user=user, answers=ANSWERS, project_title="支援",
                                       planned_cost=base * 2, municipality=sapporo)  # fmt: skip
    assert huge.requested_amount == base  # min(actual, base)
    small_town = Municipality.objects.get(code="013030")  # 当別町
    small = services.application_submit(call=admin_cost, user=user, answers=ANSWERS, project_title="支援",
                                        planned_cost=1_000_000, municipality=small_town)  # fmt: skip
    assert small.requested_amount == 1_000_000 < BaseAmount.objects.get(body_code="013030").amount


def test_decrease_change_caps_the_confirmed_amount_and_equipment_is_excluded(admin_cost):
    town = Municipality.objects.get(code="013030")
    user = UserFactory()
    application = services.application_submit(call=admin_cost, user=user, answers=ANSWERS, project_title="支援",
                                              planned_cost=2_000_000, municipality=town)  # fmt: skip
    services.application_decide(application=application, actor=None, amount=2_000_000)
    with pytest.raises(services.GrantError):
        services.application_change(application=application, actor=None, amount=1_500_000, note="")
    services.application_change(application=application, actor=None, amount=1_500_000, note="事業の縮小")
    services.report_submit(application=application, user=user, lines=[
        ("wages", "会計年度任用職員", 1_200_000), ("equipment", "タブレット", 700_000), ("outsourcing", "コールセンター", 500_000),
    ])  # fmt: skip
    application.refresh_from_db()
    assert [e.eligible for e in application.expenses.order_by("pk")] == [True, False, True]
    assert services.eligible_spent(application) == 1_700_000  # 備品購入費 700,000 excluded
    services.amount_confirm(application=application, actor=None)
    application.refresh_from_db()
    assert application.confirmed_amount == 1_500_000  # min(1,700,000 × 10/10, decided 1,500,000)
    services.disburse(application=application, actor=None, amount=1_500_000, on=timezone.localdate())
    application.refresh_from_db()
    assert application.status == Application.Status.PAID


def test_additional_and_late_charges_on_a_partly_repaid_return(business_call):
    account = _account(BusinessAccount.AccountType.PRIME)
    user = account.user
    application = services.application_submit(call=business_call, user=user, answers=ANSWERS, project_title="DX",
                                              planned_cost=3_000_000, account=account)  # fmt: skip
    assert application.requested_amount == 2_000_000  # 3,000,000 × 2/3
    services.application_decide(application=application, actor=None, amount=2_000_000)
    services.disburse(
        application=application, actor=None, amount=1_000_000, on=date(2024, 6, 1), advance=True
    )
    services.disburse(application=application, actor=None, amount=500_000, on=date(2024, 9, 1), advance=True)
    services.application_cancel(application=application, actor=None, note="目的外使用")
    services.return_record(application=application, actor=None, amount=600_000, on=date(2025, 3, 31))
    services.return_record(application=application, actor=None, amount=900_000, on=date(2025, 6, 30))
    with pytest.raises(services.GrantError):
        services.return_record(application=application, actor=None, amount=1, on=date(2025, 7, 1))
    additional, late = services.return_charges(application, until=date(2025, 6, 30), due=date(2025, 4, 30))
    # 加算金, principal first, oldest portion first, 10.95 % a year on 365 days, both the day of receipt and the
    # day of repayment counted (受領の日から納付の日まで):
    #   1,000,000 received 2024-06-01: 600,000 repaid 2025-03-31 (304 days), 400,000 repaid 2025-06-30 (395 days)
    #   500,000 received 2024-09-01: repaid 2025-06-30 (303 days)
    #   600,000 × 0.1095 × 304/365 = 54,720;  400,000 × 0.1095 × 395/365 = 47,400;  500,000 × 0.1095 × 303/365 = 45,450
    assert additional.total == 54_720 + 47_400 + 45_450 == 147_570
    assert additional.outstanding == 0 and additional.portion_totals == (102_120, 45_450)
    assert late.total > 0  # 900,000 was still unpaid after the due date
    assert application.events.filter(kind="cancelled").exists()


def test_entry_account_is_refused_where_prime_is_required(business_call):
    entry = _account(BusinessAccount.AccountType.ENTRY)
    problems = services.eligibility_problems(call=business_call, account=entry)
    assert problems and "プライム" in problems[0]
    with pytest.raises(services.GrantError) as refused:
        services.application_submit(call=business_call, user=entry.user, answers=ANSWERS, project_title="x",
                                    planned_cost=1_000, account=entry)  # fmt: skip
    assert refused.value.code == "not_eligible" and Application.objects.count() == 0


def test_a_late_report_raises_an_alert_once(business_call):
    account = _account(BusinessAccount.AccountType.PRIME)
    account.email = "dx@example.jp"
    account.save()
    application = services.application_submit(call=business_call, user=account.user, answers=ANSWERS,
                                              project_title="DX", planned_cost=900_000, account=account,
                                              project_end=timezone.localdate())  # fmt: skip
    services.application_decide(application=application, actor=None, amount=600_000)
    application.refresh_from_db()
    mail.outbox.clear()
    assert services.alerts_scan(today=application.report_due_on) == 0
    assert services.alerts_scan(today=application.report_due_on + timedelta(days=1)) == 1
    assert services.alerts_scan(today=application.report_due_on + timedelta(days=2)) == 0  # raised once
    assert Alert.objects.filter(application=application, kind="report_late").count() == 1
    assert len(mail.outbox) == 1 and AuditRecord.objects.filter(action="grants.alert").count() == 1
    services.report_submit(
        application=application, user=account.user, lines=[("software", "会計ソフト", 900_000)]
    )
    assert Alert.objects.get(application=application).resolved_at is not None


def test_carry_over_is_recorded_within_the_decided_amount(admin_cost):
    town = Municipality.objects.get(code="013030")
    application = services.application_submit(call=admin_cost, user=UserFactory(), answers=ANSWERS,
                                              project_title="支援", planned_cost=1_000_000, municipality=town)  # fmt: skip
    services.application_decide(application=application, actor=None, amount=1_000_000)
    services.carry_over_record(application=application, actor=None, from_fiscal_year=2019, amount=300_000,
                               reason="年度内に完了しなかった周知事業")  # fmt: skip
    with pytest.raises(services.GrantError):
        services.carry_over_record(application=application, actor=None, from_fiscal_year=2020, amount=2_000_000,
                                   reason="x")  # fmt: skip
    # Carried money is spent first (calc.carry_over).
    assert calc.carry_over(carried=300_000, current=700_000, spending=[200_000, 400_000]) == [
        (200_000, 0),
        (100_000, 300_000),
    ]
