"""Subsidies (補助金): programmes, calls, applications through their whole lifecycle under 補助金適正化法.

Money is integer yen. The database keeps what matters: one reference per application, amounts never negative,
a decided amount never above the call's upper limit where there is one (checked in services), and an
application's events append-only in practice (no service updates them).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from madoguchi.core.models import Municipality, Prefecture
from madoguchi.identity.models import Business


class Programme(models.Model):
    """A subsidy programme (補助金制度) of an issuing body, with its rules."""

    class ApplicantType(models.TextChoices):
        LOCAL_GOVERNMENT = "local_government", _("local governments")
        BUSINESS = "business", _("businesses (GビズID)")

    class Issuer(models.TextChoices):
        MINISTRY = "ministry", _("ministry")
        PREFECTURE = "prefecture", _("prefecture")
        MUNICIPALITY = "municipality", _("municipality")

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    issuer = models.CharField(_("issuing body type"), max_length=16, choices=Issuer.choices)
    institution_name = models.CharField(_("issuing body"), max_length=200)
    # The issuing municipality (or None for a ministry): its staff run the programme; no one else sees drafts.
    municipality = models.ForeignKey(
        Municipality, on_delete=models.PROTECT, null=True, blank=True, related_name="grant_programmes"
    )
    legal_basis = models.CharField(_("legal basis (交付要綱)"), max_length=300, blank=True)
    applicant_type = models.CharField(_("who may apply"), max_length=20, choices=ApplicantType.choices)
    # Eligibility checked automatically, e.g. {"gbiz": ["prime"], "max_employees": 300, "industries": [...],
    # "prefectures": ["東京都"], "corporate_number": true, "council_member": true}
    eligibility = models.JSONField(_("eligibility rules"), default=dict, blank=True)
    # Expense categories: [{"code": "wages", "name": "賃金", "eligible": true}, {"code": "equipment", …false}]
    expense_categories = models.JSONField(_("expense categories"), default=list, blank=True)
    rate_num = models.PositiveIntegerField(_("subsidy rate numerator"), default=1)
    rate_den = models.PositiveIntegerField(_("subsidy rate denominator"), default=1)
    # Base-amount formula for per-body ceilings: {"equal_total": …, "population_total": …} (yen)
    base_formula = models.JSONField(_("base amount formula"), default=dict, blank=True)
    report_business_days = models.PositiveSmallIntegerField(
        _("performance report due (business days after completion)"), default=20
    )
    decision_business_days = models.PositiveSmallIntegerField(
        _("standard processing time (business days)"), default=30
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(rate_den__gt=0) & Q(rate_num__lte=models.F("rate_den")),
                                   name="programme_rate_at_most_one"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return self.name

    @property
    def rate_label(self) -> str:
        return f"{self.rate_num}/{self.rate_den}"

    def ineligible_categories(self) -> set[str]:
        return {c["code"] for c in self.expense_categories or [] if not c.get("eligible", True)}


class Call(models.Model):
    """A call for applications (公募), one round of a programme. The fields named as in Jグランツ's API."""

    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="calls")
    public_id = models.CharField(max_length=20, unique=True)  # the id Jグランツ clients see, e.g. a0W…
    round = models.PositiveSmallIntegerField(_("round"), default=1)
    name = models.CharField(_("short name"), max_length=100)
    title = models.CharField(_("title"), max_length=300)
    catch_phrase = models.CharField(_("catch phrase"), max_length=300, blank=True)
    detail = models.TextField(_("details (HTML)"), blank=True)
    use_purpose = models.CharField(_("purposes"), max_length=500, blank=True)  # " / "-joined
    industry = models.CharField(_("industries"), max_length=500, blank=True)  # " / "-joined
    target_area_search = models.CharField(_("target area"), max_length=500, blank=True)  # " / "-joined
    target_area_detail = models.CharField(_("target area (detail)"), max_length=500, blank=True)
    target_number_of_employees = models.CharField(_("target employees"), max_length=100, blank=True)
    subsidy_max_limit = models.PositiveBigIntegerField(_("upper limit (yen)"), null=True, blank=True)
    acceptance_start_datetime = models.DateTimeField(_("reception opens"))
    acceptance_end_datetime = models.DateTimeField(_("reception closes"))
    project_end_deadline = models.DateField(_("project must end by"), null=True, blank=True)
    is_enable_multiple_request = models.BooleanField(_("several applications allowed"), default=False)
    form_definition = models.JSONField(_("application form"))  # a procedures form-engine definition
    published = models.BooleanField(_("published"), default=False)
    created_date = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-acceptance_start_datetime"]
        constraints = [
            models.CheckConstraint(condition=Q(acceptance_end_datetime__gt=models.F("acceptance_start_datetime")),
                                   name="call_window_ordered"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return self.title


class Application(models.Model):
    """One 交付申請 and everything after it."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("applied (交付申請)")
        IN_REVIEW = "in_review", _("in review")
        RETURNED = "returned", _("returned for correction")
        DECIDED = "decided", _("grant decided (交付決定)")
        REFUSED = "refused", _("not granted")
        REPORTED = "reported", _("performance reported (実績報告)")
        CONFIRMED = "confirmed", _("amount confirmed (額の確定)")
        PAID = "paid", _("paid (精算払)")
        WITHDRAWN = "withdrawn", _("withdrawn (Art. 9)")
        CANCELLED = "cancelled", _("cancelled (取消)")

    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="applications")
    reference = models.CharField(max_length=24, unique=True)
    business = models.ForeignKey(Business, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    applicant_municipality = models.ForeignKey(
        Municipality, on_delete=models.PROTECT, null=True, blank=True, related_name="grant_applications"
    )
    applicant_prefecture = models.ForeignKey(
        Prefecture, on_delete=models.PROTECT, null=True, blank=True, related_name="grant_applications"
    )
    applicant_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SUBMITTED)
    answers = models.JSONField(default=dict)
    project_title = models.CharField(_("project"), max_length=200)
    planned_cost = models.PositiveBigIntegerField(_("planned eligible cost (yen)"))
    requested_amount = models.PositiveBigIntegerField(_("amount applied for (yen)"))
    decided_amount = models.PositiveBigIntegerField(_("amount decided (yen)"), null=True, blank=True)
    confirmed_amount = models.PositiveBigIntegerField(_("amount confirmed (yen)"), null=True, blank=True)
    paid_amount = models.PositiveBigIntegerField(_("paid (yen)"), default=0)
    returned_amount = models.PositiveBigIntegerField(_("returned (yen)"), default=0)
    project_end = models.DateField(_("project ends"), null=True, blank=True)
    report_due_on = models.DateField(_("performance report due"), null=True, blank=True)
    return_due_on = models.DateField(_("return due (納期日)"), null=True, blank=True)
    decision_due_on = models.DateField(_("decision due"), null=True, blank=True)
    submitted_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    reported_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [models.Index(fields=["call", "status"], name="grant_app_call_status")]

    def __str__(self) -> str:
        return self.reference


class ExpenseLine(models.Model):
    """A line of the performance report (実績報告): what was spent, in which category."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="expenses")
    category = models.CharField(_("category"), max_length=32)
    description = models.CharField(_("description"), max_length=200)
    amount = models.PositiveBigIntegerField(_("amount (yen)"))
    eligible = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.category} {self.amount}"


class GrantEvent(models.Model):
    """The application's history: every step, with who, when and a note."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32)
    amount = models.BigIntegerField(null=True, blank=True)
    note = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["application", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.application_id} {self.kind}"


class Disbursement(models.Model):
    """Money paid (概算払 / 精算払) or returned (返還), with the dates 加算金 and 延滞金 are counted from."""

    class Kind(models.TextChoices):
        ADVANCE = "advance", _("advance payment (概算払)")
        FINAL = "final", _("final payment (精算払)")
        RETURN = "return", _("return (返還)")

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="disbursements")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    amount = models.PositiveBigIntegerField()
    on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["application", "on", "pk"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="disbursement_positive")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


class Alert(models.Model):
    """A missed or late step (e.g. a performance report past its due date), shown to staff and applicant."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=32)
    due_on = models.DateField()
    message = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "kind", "due_on"], name="grant_alert_once")
        ]

    def __str__(self) -> str:
        return f"{self.application_id} {self.kind}"


class BusinessProfile(models.Model):
    """What a business tells about itself for automatic eligibility checks and for "push" of new calls."""

    business = models.OneToOneField(Business, on_delete=models.CASCADE, related_name="grant_profile")
    employees = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    prefecture = models.CharField(_("prefecture"), max_length=10, blank=True)
    keywords = models.CharField(_("keywords to watch"), max_length=200, blank=True)
    notify = models.BooleanField(_("tell me about new matching calls"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return str(self.business)


class CallNotice(models.Model):
    """A "push": a new call matched a business profile; sent once."""

    profile = models.ForeignKey(BusinessProfile, on_delete=models.CASCADE, related_name="notices")
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["profile", "call"], name="call_notice_once")]

    def __str__(self) -> str:
        return f"{self.profile_id} {self.call_id}"


class BaseAmount(models.Model):
    """A body's ceiling under a programme's base-amount formula (均等配分 + 人口按分), computed for every body."""

    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="base_amounts")
    body_code = models.CharField(max_length=6)
    body_name = models.CharField(max_length=100)
    population = models.PositiveBigIntegerField()
    equal_part = models.PositiveBigIntegerField()
    population_part = models.PositiveBigIntegerField()
    amount = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["programme", "body_code"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "body_code"], name="base_amount_once"),
            models.CheckConstraint(condition=Q(amount=models.F("equal_part") + models.F("population_part")),
                                   name="base_amount_parts_add_up"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.body_code} {self.amount}"


class CarryOver(models.Model):
    """明許繰越: unfinished work of one fiscal year carried into the next; carried money is spent first."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="carry_overs")
    from_fiscal_year = models.PositiveSmallIntegerField()
    amount = models.PositiveBigIntegerField()
    reason = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "from_fiscal_year"], name="carry_over_once")
        ]

    def __str__(self) -> str:
        return f"{self.application_id} FY{self.from_fiscal_year} {self.amount}"
