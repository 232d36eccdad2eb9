"""Reads of the privacy workflow: calls, proposals, the public registers, and deadline views."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet
from django.utils import timezone

from madoguchi.core.calendar import business_days_between
from madoguchi.privacy import deadlines
from madoguchi.privacy.models import (
    DataSubjectRequest,
    LeakReport,
    PersonalInfoFile,
    Proposal,
    ProposalCall,
    RegisterEntry,
)


def calls_of(municipality, *, open_only: bool = False) -> QuerySet[ProposalCall]:
    found = ProposalCall.objects.filter(municipality=municipality).prefetch_related("files")
    if open_only:
        today = timezone.localdate()
        found = found.filter(starts_on__lte=today, ends_on__gte=today)
    return found


def files_of(municipality) -> QuerySet[PersonalInfoFile]:
    return PersonalInfoFile.objects.filter(municipality=municipality)


def proposals_of(municipality, *, status: str = "") -> QuerySet[Proposal]:
    found = Proposal.objects.filter(call__municipality=municipality).select_related(
        "business", "file", "call"
    )
    return found.filter(status=status) if status else found


def proposal_of(municipality, reference: str) -> Proposal | None:
    return proposals_of(municipality).filter(reference=reference).first()


def register_of(municipality) -> QuerySet[RegisterEntry]:
    return RegisterEntry.objects.filter(municipality=municipality)


@dataclass(frozen=True)
class LeakRow:
    report: LeakReport
    deadlines: deadlines.LeakDeadlines
    preliminary_overdue: bool
    final_overdue: bool


def leak_row(report: LeakReport, today: date | None = None) -> LeakRow:
    today = today or timezone.localdate()
    d = deadlines.leak_deadlines(discovered_on=report.discovered_on, kinds=report.kinds,
                                 affected_count=report.affected_count)  # fmt: skip
    return LeakRow(
        report=report, deadlines=d,
        preliminary_overdue=d.reportable and report.preliminary_reported_on is None and today > d.preliminary_due,
        final_overdue=d.reportable and report.final_reported_on is None and today > d.final_due,
    )  # fmt: skip


def leak_rows(municipality, today: date | None = None) -> list[LeakRow]:
    return [leak_row(r, today) for r in LeakReport.objects.filter(municipality=municipality)]


@dataclass(frozen=True)
class RequestRow:
    request: DataSubjectRequest
    due_on: date
    basis: str
    business_days_left: int
    overdue: bool


def request_row(request: DataSubjectRequest, today: date | None = None) -> RequestRow:
    today = today or timezone.localdate()
    due = deadlines.request_due(kind=request.kind, received_on=request.received_on,
                                correction_days=request.correction_days,
                                extended=request.status == DataSubjectRequest.Status.EXTENDED
                                or bool(request.extension_reason))  # fmt: skip
    open_ = request.status in (DataSubjectRequest.Status.RECEIVED, DataSubjectRequest.Status.EXTENDED)
    return RequestRow(request=request, due_on=due, basis=deadlines.REQUEST_BASIS[request.kind],
                      business_days_left=business_days_between(today, due),
                      overdue=open_ and today > due)  # fmt: skip


def request_rows(municipality, today: date | None = None) -> list[RequestRow]:
    return [request_row(r, today) for r in DataSubjectRequest.objects.filter(municipality=municipality)]
