"""Issue #5: a My Number typed in the Internet zone is sealed to the My Number zone and handed over there."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import translation

from madoguchi.core.models import AuditRecord
from madoguchi.core.zones import Zone
from madoguchi.procedures import answers
from madoguchi.procedures.formengine import parse_definition
from madoguchi.procedures.models import Draft, Submission, SubmissionRevision
from madoguchi.procedures.tests.helpers import JIDO_ANSWERS, MY_NUMBER, urls, walk
from madoguchi.vault import services as vault
from madoguchi.vault.models import MyNumberEntry, SealedMyNumber
from madoguchi.vault.sealing import generate_keypair, is_sealed, seal, unseal
from madoguchi.vault.selectors import MASK
from madoguchi.vault.tests.test_vault import _all_text_in

pytestmark = pytest.mark.django_db(databases=["default", "vault"])

JIDO = "kosodate-jido-teate-nintei"


@pytest.fixture
def keys(settings):
    private, public = generate_keypair()
    settings.MYNUMBER_SEALING_PRIVATE_KEY = private
    settings.MYNUMBER_SEALING_PUBLIC_KEY = public
    return private, public


@pytest.fixture
def internet(settings, keys):
    settings.MADOGUCHI_ZONE = Zone.INTERNET
    return settings


def _apply_in_the_internet_zone(resident_client, procedure):
    walk(resident_client, procedure, JIDO_ANSWERS)
    draft = Draft.objects.get()
    sealed = draft.answers["applicant_mynumber"]
    check = resident_client.get(urls(procedure)["check"]).content.decode()
    response = resident_client.post(urls(procedure)["send"], {"card": "yamada", "password": "abc123"})
    assert response.status_code == 302, response.content
    return sealed, check, Submission.objects.get()


def _page_answers(definition, **overrides):
    """The answers of the page with the My Number (the flat ones of JIDO_ANSWERS) and that page's key."""
    page = next(p for p in definition.pages if any(f.key == "applicant_mynumber" for f in p.fields))
    keys = {f.key for f in page.fields}
    raw = {k: v for k, v in JIDO_ANSWERS.items() if k in keys}
    return {**raw, **overrides}, page.key


def _unseal(*args) -> str:
    out = io.StringIO()
    call_command("procedures", "unseal", *args, stdout=out)
    return out.getvalue()


def test_internet_zone_takes_a_sealed_my_number_and_the_my_number_zone_hands_it_over(
    resident_client, adopt, internet, keys
):
    procedure = adopt(JIDO)
    sealed, check, submission = _apply_in_the_internet_zone(resident_client, procedure)
    # The answer is a sealed token for the My Number zone: no number, no vault token, nothing in the vault.
    assert is_sealed(sealed) and MY_NUMBER not in sealed
    assert unseal(sealed, keys[0], answers.sealing_context(procedure.municipality)) == MY_NUMBER
    assert MASK in check and sealed not in check and MY_NUMBER not in check
    revision = submission.revisions.get()
    assert revision.signed and revision.answers["applicant_mynumber"] == sealed
    assert sealed.encode() in bytes(revision.canonical)  # the applicant signed the sealed token
    assert MY_NUMBER.encode() not in bytes(revision.canonical)
    assert MyNumberEntry.objects.count() == 0 and SealedMyNumber.objects.count() == 0
    for alias in ("default", "vault"):
        text = _all_text_in(alias)
        assert MY_NUMBER not in text and MY_NUMBER.encode().hex() not in text
    assert "mn_" not in json.dumps(revision.answers)

    # The Internet zone cannot hand it over: the vault is not its to use.
    with pytest.raises(CommandError):
        _unseal()
    assert MyNumberEntry.objects.count() == 0

    internet.MADOGUCHI_ZONE = Zone.MYNUMBER
    assert _unseal("--municipality", procedure.municipality.code).startswith(
        "1 sealed My Numbers found: 1 stored in the vault, 0 handed over before."
    )
    token = vault.my_number_sealed_token(sealed=sealed)
    assert token is not None and MyNumberEntry.objects.get().token == token
    unsealed = AuditRecord.objects.get(action="vault.my_number_unseal")
    assert unsealed.target_id == token and unsealed.municipality_id == procedure.municipality_id
    assert AuditRecord.objects.filter(action="vault.my_number_store").count() == 1
    # Idempotent: a second run stores nothing and audits nothing new.
    records = AuditRecord.objects.count()
    assert _unseal().startswith("1 sealed My Numbers found: 0 stored in the vault, 1 handed over before.")
    assert MyNumberEntry.objects.count() == 1 and SealedMyNumber.objects.count() == 1
    assert AuditRecord.objects.count() == records
    # The frozen revision still holds the sealed token; staff reveal it through the resolution.
    assert SubmissionRevision.objects.get().answers["applicant_mynumber"] == sealed
    revealed = vault.my_number_reveal_answer(
        value=sealed, actor=None, purpose=vault.Purpose.SOCIAL_SECURITY, reason="児童手当 認定審査"
    )
    assert revealed == MY_NUMBER
    for alias in ("default", "vault"):
        text = _all_text_in(alias)
        assert MY_NUMBER not in text and MY_NUMBER.encode().hex() not in text


def test_other_municipalities_are_left_alone_and_a_bad_token_is_reported(
    resident_client, adopt, internet, keys, settings
):
    procedure = adopt(JIDO)
    sealed, _check, submission = _apply_in_the_internet_zone(resident_client, procedure)
    settings.MADOGUCHI_ZONE = Zone.MYNUMBER
    assert _unseal("--municipality", "011002").startswith("0 sealed My Numbers found")
    assert MyNumberEntry.objects.count() == 0
    # Another private key (e.g. a zone set up with the wrong pair): reported by reference, nothing stored.
    settings.MYNUMBER_SEALING_PRIVATE_KEY = generate_keypair()[0]
    with pytest.raises(CommandError) as excinfo:
        _unseal()
    assert submission.reference in str(excinfo.value) and MY_NUMBER not in str(excinfo.value)
    assert sealed not in str(excinfo.value)
    assert MyNumberEntry.objects.count() == 0 and SealedMyNumber.objects.count() == 0


def test_without_a_public_key_the_internet_zone_still_refuses(resident_client, adopt, internet):
    internet.MYNUMBER_SEALING_PUBLIC_KEY = ""
    procedure = adopt(JIDO)
    definition = parse_definition(procedure.current_version.definition)
    raw, page = _page_answers(definition)
    with translation.override("en"), pytest.raises(answers.MyNumberUnavailable) as excinfo:
        answers.clean(definition, raw, page=page, municipality=procedure.municipality)
    assert str(excinfo.value) == (
        "This service cannot take a My Number here. Please apply at the counter of your municipality."
    )
    # Through the pages: the step with the My Number sends the applicant back to the procedure's page.
    u = urls(procedure)
    url = resident_client.get(u["start"]).url
    for _ in range(10):  # the steps before the My Number go on; the My Number's step goes back to the page
        response = resident_client.post(url, {**JIDO_ANSWERS, "action": "next"})
        assert response.status_code == 302 and response.url != u["check"]
        url = response.url
        if url == u["detail"]:
            break
    assert url == u["detail"]
    assert Draft.objects.filter(answers__has_key="applicant_mynumber").count() == 0
    assert MyNumberEntry.objects.count() == 0


def test_the_vault_zones_still_store_directly_even_with_a_public_key(resident_client, adopt, keys):
    procedure = adopt(JIDO)
    walk(resident_client, procedure, JIDO_ANSWERS)
    token = Draft.objects.get().answers["applicant_mynumber"]
    assert token.startswith("mn_") and not is_sealed(token)
    assert MyNumberEntry.objects.filter(token=token).exists()


def test_a_sealed_answer_is_kept_across_pages_and_shown_masked(internet, keys, adopt):
    procedure = adopt(JIDO)
    definition = parse_definition(procedure.current_version.definition)
    field = definition.field("applicant_mynumber")
    raw, page = _page_answers(definition, applicant_mynumber="1234 5678 9018")
    cleaned, problems = answers.clean(definition, raw, page=page, municipality=procedure.municipality)
    assert problems == []
    sealed = cleaned.get("applicant_mynumber")
    assert is_sealed(sealed)
    # An earlier page's sealed token comes back unchanged (not sealed again, not refused).
    raw, page = _page_answers(definition, applicant_mynumber=sealed)
    again, problems = answers.clean(definition, raw, page=page, municipality=procedure.municipality)
    assert problems == [] and again["applicant_mynumber"] == sealed
    assert answers.is_my_number_token(sealed) and not answers.is_my_number_token(MY_NUMBER)
    with translation.override("en"):
        shown = answers.display_value(field, sealed)
    assert shown == f"{MASK}（sealed）" and sealed not in shown
    assert answers.display_value(field, "mn_" + "x" * 32) == MASK
    # A malformed "sealed" value is not a token: the engine refuses it like any other wrong answer.
    raw, page = _page_answers(definition, applicant_mynumber="mns1_" + "A" * 10)
    cleaned, problems = answers.clean(definition, raw, page=page, municipality=procedure.municipality)
    assert [p.path for p in problems] == ["applicant_mynumber"] and "applicant_mynumber" not in cleaned
    # A sealed token made for another municipality does not open for this one.
    foreign = seal(MY_NUMBER, keys[1], "madoguchi/mynumber/011002")
    with pytest.raises(ValueError):
        unseal(foreign, keys[0], answers.sealing_context(procedure.municipality))


def test_the_receipt_and_the_staff_rows_never_show_the_sealed_token(resident_client, adopt, internet):
    procedure = adopt(JIDO)
    sealed, _check, submission = _apply_in_the_internet_zone(resident_client, procedure)
    definition = parse_definition(submission.form_version.definition)
    rows = answers.display_rows(definition, submission.revisions.get().answers)
    row = next(r for r in rows if r.key == "applicant_mynumber")
    assert row.value.startswith(MASK) and sealed not in " ".join(r.value for r in rows)
    receipt = resident_client.get(reverse("procedures:receipt", args=[submission.reference]))
    assert receipt.status_code == 200 and sealed.encode() not in receipt.content
