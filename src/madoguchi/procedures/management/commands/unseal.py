"""`madoguchi procedures unseal [--municipality CODE]` (also `madoguchi unseal`): hand sealed My Numbers over.

Applications made in the Internet zone keep a My Number as a sealed token (`mns1_…`, vault/sealing.py). Run in
the My Number zone (or `all`), this opens each sealed answer of the filed applications with the zone's private
key and stores the number in the vault (`vault.services.my_number_unseal`, audited). The answers themselves are
not rewritten (signed revisions are frozen): the vault remembers which vault token each sealed token became.
A second run finds everything handed over and stores nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import TextField
from django.db.models.functions import Cast

from madoguchi.core import audit
from madoguchi.core.models import Municipality
from madoguchi.procedures.answers import sealing_context
from madoguchi.procedures.models import SubmissionRevision
from madoguchi.vault import services as vault
from madoguchi.vault.sealing import SEALED_PREFIX, is_sealed

ACTOR = audit.Actor("system", "", "madoguchi procedures unseal")


@dataclass
class UnsealResult:
    found: int = 0
    stored: int = 0
    already: int = 0
    failed: list[str] = field(default_factory=list)  # references of applications whose answer did not open


def _sealed_values(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if is_sealed(value):
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _sealed_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _sealed_values(item)


def unseal_submissions(*, municipality_code: str | None = None, actor=ACTOR) -> UnsealResult:
    """Hand over every sealed My Number answer of filed applications (of one municipality, if given)."""
    revisions = SubmissionRevision.objects.annotate(answers_text=Cast("answers", TextField())).filter(
        answers_text__contains=SEALED_PREFIX
    )
    if municipality_code:
        revisions = revisions.filter(submission__municipality__code=municipality_code)
    municipalities: dict[int, Municipality] = {}
    seen: set[str] = set()
    result = UnsealResult()
    rows = revisions.order_by("pk").values_list(
        "answers", "submission__reference", "submission__municipality_id"
    )
    for answers, reference, municipality_id in rows.iterator():
        if municipality_id not in municipalities:
            municipalities[municipality_id] = Municipality.objects.get(pk=municipality_id)
        municipality = municipalities[municipality_id]
        for sealed in _sealed_values(answers):
            if sealed in seen:
                continue
            seen.add(sealed)
            result.found += 1
            if vault.my_number_sealed_token(sealed=sealed) is not None:
                result.already += 1
                continue
            try:
                vault.my_number_unseal(
                    sealed=sealed,
                    context=sealing_context(municipality),
                    actor=actor,
                    purpose=vault.Purpose.SOCIAL_SECURITY,
                    municipality=municipality,
                )
            except ValidationError:
                result.failed.append(reference)
                continue
            result.stored += 1
    return result


class Command(BaseCommand):
    help = "Hand sealed My Numbers of Internet-zone applications over to the vault (My Number zone only)."

    def add_arguments(self, parser):
        parser.add_argument("--municipality", metavar="CODE", help="only this municipality's applications")

    def handle(self, *args, **options):
        try:
            result = unseal_submissions(municipality_code=options.get("municipality") or None)
        except (vault.VaultZoneError, ImproperlyConfigured) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{result.found} sealed My Numbers found: {result.stored} stored in the vault, "
            f"{result.already} handed over before."
        )
        if result.failed:
            raise CommandError(
                f"{len(result.failed)} sealed My Numbers did not open (wrong key or damaged); applications: "
                + ", ".join(sorted(set(result.failed)))
            )
