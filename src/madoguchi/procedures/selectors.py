"""Reads of the procedures app: the catalogue search, the staff inbox and the online-usage statistics."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from madoguchi.core.codes import is_valid_local_government_code
from madoguchi.core.models import Municipality
from madoguchi.procedures.formengine import FormDefinition, normalize_search_text, parse_definition
from madoguchi.procedures.models import (
    FormVersion,
    Procedure,
    ProcedureTemplate,
    Submission,
    UsageTally,
)

PAGE_SIZE = 30


# --- Catalogue (ぴったりサービス) ------------------------------------------------------------------------------
def procedures_search(
    *,
    municipality: Municipality | None = None,
    keyword: str = "",
    life_event: str = "",
    category: str = "",
    published_only: bool = True,
) -> QuerySet[Procedure]:
    """Procedures by municipality, keyword (kanji, kana, full/half width alike), life event and category."""
    found = Procedure.objects.select_related("municipality", "municipality__prefecture")
    if published_only:
        found = found.filter(status=Procedure.Status.PUBLISHED)
    if municipality is not None:
        found = found.filter(municipality=municipality)
    for word in normalize_search_text(keyword).split():
        found = found.filter(search_text__contains=word)
    if category:
        found = found.filter(category=category)
    if life_event:
        # JSON list membership, portable across SQLite and PostgreSQL: the stored list is short and normalised.
        found = found.filter(life_events__icontains=f'"{life_event}"')
    return found.order_by("municipality__code", "category", "name")


def templates_search(
    *, keyword: str = "", group: str = "", category: str = ""
) -> QuerySet[ProcedureTemplate]:
    found = ProcedureTemplate.objects.all()
    for word in normalize_search_text(keyword).split():
        found = found.filter(search_text__contains=word)
    if group:
        found = found.filter(group=group)
    if category:
        found = found.filter(category=category)
    return found


def procedure_for_applicant(municipality: Municipality, code: str) -> Procedure | None:
    return (
        Procedure.objects.select_related("current_version", "municipality")
        .filter(municipality=municipality, code=code)
        .exclude(status=Procedure.Status.DRAFT)
        .first()
    )


def procedure_for_filing(municipality_code: str, code: str) -> Procedure | None:
    """`procedure_for_applicant` by the municipality's code, for the submissions API (its hot path): one raw
    query that also brings the municipality and the current version's number and hash — what filing needs —
    and not the version's definition (`definition_of` keeps it parsed). The ORM would spend longer compiling
    the equivalent `select_related` query than the database spends answering it."""
    if not is_valid_local_government_code(municipality_code):
        return None
    found = list(Procedure.objects.raw(_FILING_SQL, [municipality_code, code, Procedure.Status.DRAFT]))
    if not found:
        return None
    procedure = found[0]
    values = [getattr(procedure, f"m_{name}") for name in _MUNICIPALITY_FIELDS]
    procedure.municipality = Municipality.from_db("default", _MUNICIPALITY_FIELDS, values)
    if procedure.current_version_id is not None:
        values = [getattr(procedure, f"v_{name}") for name in _VERSION_FIELDS]
        procedure.current_version = FormVersion.from_db("default", _VERSION_FIELDS, values)
    return procedure


_MUNICIPALITY_FIELDS = ["id", "code", "prefecture_id", "name", "kana", "kind", "population"]
_VERSION_FIELDS = ["id", "procedure_id", "number", "status", "sha256"]
# The procedure's columns are named, not `p.*`: the statement is prepared on PostgreSQL (settings), and a
# prepared statement whose result columns change under it (a migration adding a column while the old code still
# runs) fails with "cached plan must not change result type".
_FILING_SQL = (
    "SELECT "  # noqa: S608 (table and column names from the models)
    + ", ".join(f'p."{f.column}"' for f in Procedure._meta.concrete_fields)
    + ", "
    + ", ".join(f"m.{n} AS m_{n}" for n in _MUNICIPALITY_FIELDS)
    + ", "
    + ", ".join(f"v.{n} AS v_{n}" for n in _VERSION_FIELDS)
    + f" FROM {Procedure._meta.db_table} p"
    + f" JOIN {Municipality._meta.db_table} m ON m.id = p.municipality_id"
    + f" LEFT JOIN {FormVersion._meta.db_table} v ON v.id = p.current_version_id"
    + " WHERE m.code = %s AND p.code = %s AND p.status <> %s"
)


def definition_of(version: FormVersion) -> FormDefinition:
    """The parsed form of a version, parsed once per process for its content: the key is the version and the
    SHA-256 of its definition, which every save recomputes (and published versions are frozen by triggers),
    so an edited draft is parsed anew. The result is immutable."""
    return _parsed_definition(version.pk, version.sha256)


@functools.lru_cache(maxsize=512)
def _parsed_definition(pk: int, sha256: str) -> FormDefinition:
    definition = FormVersion.objects.filter(pk=pk).values_list("definition", flat=True).get()
    return parse_definition(definition)


# --- Staff inbox --------------------------------------------------------------------------------------------
OPEN_STATUSES = (
    Submission.Status.SUBMITTED,
    Submission.Status.IN_REVIEW,
    Submission.Status.CORRECTION_REQUESTED,
    Submission.Status.RESUBMITTED,
    Submission.Status.ACCEPTED,
)


def inbox(
    *,
    municipality: Municipality,
    procedure: str = "",
    status: str = "",
    assigned: str = "",
    user=None,
    overdue: bool = False,
    keyword: str = "",
    today: date | None = None,
) -> QuerySet[Submission]:
    """A municipality's cases (never another's): filters by procedure code, status, assignment and deadline."""
    today = today or timezone.localdate()
    found = (
        Submission.objects.filter(municipality=municipality)
        .exclude(status=Submission.Status.AWAITING_PAYMENT)
        .select_related("procedure", "assigned_to")
    )
    if procedure:
        found = found.filter(procedure__code=procedure)
    if status == "open" or not status:
        found = found.filter(status__in=OPEN_STATUSES)
    elif status != "all":
        found = found.filter(status=status)
    if assigned == "me" and user is not None:
        found = found.filter(assigned_to=user)
    elif assigned == "none":
        found = found.filter(assigned_to__isnull=True)
    if overdue:
        found = found.filter(due_on__lt=today, status__in=OPEN_STATUSES)
    if keyword.strip():
        word = keyword.strip()
        found = found.filter(Q(reference__icontains=word) | Q(applicant_name__icontains=word))
    return found.order_by("due_on", "submitted_at", "pk")


def inbox_counts(municipality: Municipality, today: date | None = None) -> dict[str, int]:
    today = today or timezone.localdate()
    base = Submission.objects.filter(municipality=municipality)
    return base.aggregate(
        open=Count("pk", filter=Q(status__in=OPEN_STATUSES)),
        new=Count("pk", filter=Q(status=Submission.Status.SUBMITTED)),
        resubmitted=Count("pk", filter=Q(status=Submission.Status.RESUBMITTED)),
        overdue=Count("pk", filter=Q(status__in=OPEN_STATUSES, due_on__lt=today)),
        unassigned=Count("pk", filter=Q(status__in=OPEN_STATUSES, assigned_to__isnull=True)),
    )


# --- Online-usage statistics --------------------------------------------------------------------------------
@dataclass
class UsageRow:
    key: str
    label: str
    online: int = 0
    counter: int = 0
    paper: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.online + self.counter + self.paper

    @property
    def rate(self) -> float | None:
        """Online share in percent, one decimal; None when there were no cases."""
        return round(self.online * 100 / self.total, 1) if self.total else None


def _add(rows: dict[str, UsageRow], key: str, label: str, channel: str, count: int) -> None:
    row = rows.setdefault(key, UsageRow(key=key, label=label))
    setattr(row, channel, getattr(row, channel) + int(count or 0))


def usage_by_procedure(*, municipality: Municipality, fiscal_year: int) -> list[UsageRow]:
    """Per procedure of one municipality and fiscal year: all cases, online cases, online rate.

    Counts submissions (withdrawn ones included: they were cases) filed online or recorded by staff, plus the
    bulk tallies staff entered for cases not keyed in one by one.
    """
    rows: dict[str, UsageRow] = {}
    submissions = (
        Submission.objects.filter(municipality=municipality, fiscal_year=fiscal_year)
        .exclude(status=Submission.Status.AWAITING_PAYMENT)
        .values("procedure__code", "procedure__name", "channel")
        .annotate(n=Count("pk"))
    )
    for item in submissions:
        _add(rows, item["procedure__code"], item["procedure__name"], item["channel"], item["n"])
    tallies = (
        UsageTally.objects.filter(municipality=municipality, fiscal_year=fiscal_year)
        .values("procedure__code", "procedure__name", "channel")
        .annotate(n=Sum("count"))
    )
    for item in tallies:
        _add(rows, item["procedure__code"], item["procedure__name"], item["channel"], item["n"])
    return sorted(rows.values(), key=lambda r: (-r.total, r.key))


def usage_national(*, fiscal_year: int, prefecture=None) -> list[UsageRow]:
    """The deck's national table: per procedure type (national template; own procedures as one line by
    category), all municipalities: total, online, rate. Optionally one prefecture's municipalities."""
    rows: dict[str, UsageRow] = {}
    submissions = Submission.objects.filter(fiscal_year=fiscal_year).exclude(
        status=Submission.Status.AWAITING_PAYMENT
    )
    tallies = UsageTally.objects.filter(fiscal_year=fiscal_year)
    if prefecture is not None:
        submissions = submissions.filter(municipality__prefecture=prefecture)
        tallies = tallies.filter(municipality__prefecture=prefecture)
    keys = ("procedure__template__code", "procedure__template__name", "procedure__category", "channel")
    for source, agg in ((submissions, Count("pk")), (tallies, Sum("count"))):
        for item in source.values(*keys).annotate(n=agg):
            code = item["procedure__template__code"]
            if code:
                _add(rows, code, item["procedure__template__name"], item["channel"], item["n"])
            else:
                category = item["procedure__category"]
                _add(rows, f"own:{category}", category, item["channel"], item["n"])
    return sorted(rows.values(), key=lambda r: (-r.total, r.key))


def usage_totals(rows: list[UsageRow]) -> UsageRow:
    total = UsageRow(key="total", label="total")
    for row in rows:
        total.online += row.online
        total.counter += row.counter
        total.paper += row.paper
    return total


def fiscal_years_with_data(municipality: Municipality | None = None) -> list[int]:
    found = Submission.objects.exclude(fiscal_year__isnull=True)
    tallies = UsageTally.objects.all()
    if municipality is not None:
        found = found.filter(municipality=municipality)
        tallies = tallies.filter(municipality=municipality)
    years = set(found.values_list("fiscal_year", flat=True).distinct())
    years |= set(tallies.values_list("fiscal_year", flat=True).distinct())
    return sorted(years, reverse=True)


# --- Usage metering for the shared cloud (自治体クラウド) -----------------------------------------------------
def usage_figures(*, municipality: Municipality, start, end) -> dict[str, int]:
    """What a municipality used of the platform between two aware datetimes: submissions filed (any channel)
    and the bytes it keeps (answers as filed and attachments), measured now."""
    from django.db.models.functions import Length

    from madoguchi.procedures.models import Attachment, SubmissionRevision

    submissions = Submission.objects.filter(
        municipality=municipality, submitted_at__gte=start, submitted_at__lt=end
    ).count()
    answers = (
        SubmissionRevision.objects.filter(submission__municipality=municipality).aggregate(
            n=Sum(Length("canonical"))
        )["n"]
        or 0
    )
    files = Attachment.objects.filter(municipality=municipality).aggregate(n=Sum("size"))["n"] or 0
    return {"submissions": submissions, "storage_bytes": int(answers) + int(files)}
