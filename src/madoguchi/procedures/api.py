"""Public API of the online procedures: the catalogue (ぴったりサービス) and the postcode → address lookup."""

from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Body, Router, Schema
from ninja.pagination import PageNumberPagination, paginate

from madoguchi.core.selectors import municipality_by_code
from madoguchi.procedures import postcodes, selectors, services
from madoguchi.procedures.answers import MyNumberUnavailable, clean, problem_message

router = Router(tags=["online procedures"])


class AddressOut(Schema):
    postcode: str
    prefecture: str
    city: str
    town: str
    kana: str
    municipality_code: str
    text: str


class ProcedureOut(Schema):
    municipality_code: str
    code: str
    name: str
    name_en: str
    summary: str
    category: str
    life_events: list[str]
    online: bool
    signature_required: bool
    fee_yen: int
    reception_starts_on: str | None
    reception_ends_on: str | None

    @staticmethod
    def resolve_municipality_code(obj) -> str:
        return obj.municipality.code

    @staticmethod
    def resolve_reception_starts_on(obj) -> str | None:
        return obj.reception_starts_on.isoformat() if obj.reception_starts_on else None

    @staticmethod
    def resolve_reception_ends_on(obj) -> str | None:
        return obj.reception_ends_on.isoformat() if obj.reception_ends_on else None


@router.get("/postcodes/{code}", response=AddressOut, summary="Address for a postcode (郵便番号)")
def postcode(request, code: str):
    """7 digits, with or without the hyphen; full-width digits accepted. 404 when Japan Post has no such code."""
    found = postcodes.lookup(code)
    if found is None:
        raise Http404(_("No address is known for this postcode."))
    return {**found.__dict__, "text": found.text}


@router.get(
    "/procedures", response=list[ProcedureOut], summary="Search the procedures that can be applied for"
)
@paginate(PageNumberPagination, page_size=50)
def procedures(request, municipality: str = "", q: str = "", life_event: str = "", category: str = ""):
    """Published procedures; `municipality` is a 6-digit 地方公共団体コード; keyword in kanji, kana or English."""
    found_municipality = None
    if municipality:
        found_municipality = municipality_by_code(municipality)
        if found_municipality is None:
            raise Http404(_("No such municipality."))
    return selectors.procedures_search(
        municipality=found_municipality, keyword=q, life_event=life_event, category=category
    )


class ProblemOut(Schema):
    field: str
    code: str
    message: str


class SubmissionErrorOut(Schema):
    code: str
    message: str
    problems: list[ProblemOut] = []


class SubmissionOut(Schema):
    reference: str
    status_code: str
    status: str
    fee_yen: int
    due_on: str | None


@router.post(
    "/municipalities/{municipality}/procedures/{code}/submissions",
    response={201: SubmissionOut, 404: SubmissionErrorOut, 409: SubmissionErrorOut, 422: SubmissionErrorOut},
    summary="File an application (procedures without a signature)",
)
def submission_create(request, municipality: str, code: str, answers: dict = Body(...)):  # noqa: B008
    """The answers as the form definition names them (`{"field_key": value, …}`; groups as lists of objects).

    The same validation as the web form; every problem is listed with its field. Procedures that need an
    electronic signature are filed through the web form or a card-reader client, not here. With a fee the
    application waits for its payment (`status` = `awaiting_payment`). `status_code` is shown once: with the
    reference it gives the status without an account.
    """
    procedure = selectors.procedure_for_filing(municipality, code)
    if procedure is None or procedure.current_version is None:
        return 404, {"code": "not_found", "message": _("There is no such procedure in this municipality.")}
    if procedure.signature_required:
        return 409, {
            "code": "signature_required",
            "message": _("This procedure needs your electronic signature."),
        }
    definition = selectors.definition_of(procedure.current_version)
    try:
        cleaned, problems = clean(definition, answers, actor=None, municipality=procedure.municipality)
    except MyNumberUnavailable as exc:
        return 409, {"code": "mynumber_unavailable", "message": str(exc)}
    if any(f.type == "file" for f in definition.fields_in_order if f.key in cleaned):
        return 422, {"code": "files", "message": _("Files are attached through the web form.")}
    if problems:
        return 422, {
            "code": "invalid",
            "message": _("Some answers cannot be accepted."),
            "problems": [{"field": p.path, "code": p.code, "message": problem_message(p)} for p in problems],
        }
    try:
        filed = services.submission_file(
            procedure=procedure, version=procedure.current_version, answers=cleaned
        )
    except services.ProcedureError as exc:
        return 409, {"code": exc.code, "message": exc.message}
    submission = filed.submission
    return 201, {
        "reference": submission.reference,
        "status_code": filed.secret,
        "status": submission.status,
        "fee_yen": submission.fee_yen,
        "due_on": submission.due_on.isoformat() if submission.due_on else None,
    }
