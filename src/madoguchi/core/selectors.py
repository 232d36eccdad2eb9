"""Reads of public bodies. Public bodies are public data: no tenant check is needed to read them."""

from django.db.models import QuerySet

from madoguchi.core.codes import is_valid_local_government_code
from madoguchi.core.models import AuditRecord, Municipality, Prefecture
from madoguchi.core.public_bodies import normalize_for_search


def prefecture_list() -> QuerySet[Prefecture]:
    return Prefecture.objects.order_by("number")


def prefecture_by_number(number: int) -> Prefecture | None:
    return Prefecture.objects.filter(number=number).first()


def municipality_by_code(code: str) -> Municipality | None:
    """The municipality with this 6-digit code, or None (also for a malformed code or a wrong check digit)."""
    if not is_valid_local_government_code(code):
        return None
    return Municipality.objects.select_related("prefecture").filter(code=code).first()


def municipality_search(query: str, *, prefecture: Prefecture | None = None) -> QuerySet[Municipality]:
    """Municipalities whose name, prefecture + name, kana (katakana or hiragana, full or half width) or code
    contain every word of `query`. An empty query matches all (filtered by prefecture when given)."""
    qs = Municipality.objects.select_related("prefecture").order_by("code")
    if prefecture is not None:
        qs = qs.filter(prefecture=prefecture)
    for word in query.split():
        needle = normalize_for_search(word)
        if needle:
            qs = qs.filter(search_text__contains=needle)
    return qs


def municipalities_of_prefecture(prefecture: Prefecture) -> QuerySet[Municipality]:
    return Municipality.objects.filter(prefecture=prefecture).order_by("code")


def audit_records_of(municipality: Municipality) -> QuerySet[AuditRecord]:
    """Audit records of one municipality's stream, newest first. Callers check the staff role first."""
    return AuditRecord.objects.filter(stream=municipality.code).order_by("-seq")


def audit_records_by_actor(user) -> QuerySet[AuditRecord]:
    """What this user did, newest first (e.g. a resident's own sign-in history)."""
    return AuditRecord.objects.filter(actor_type="user", actor_id=str(user.pk)).order_by("-created_at")
