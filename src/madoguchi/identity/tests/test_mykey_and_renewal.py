"""MyKey ID issuance, certificate renewal linkage and the duplicate-holder report (the 506 duplicates)."""

import base64
import re

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from django.urls import reverse

from madoguchi.core.models import AuditRecord
from madoguchi.identity import resident_services as rs
from madoguchi.identity.demo import DEMO_CARD_PASSWORD, DEMO_CARD_PIN, DEMO_CARDS
from madoguchi.identity.jpki import VirtualCard
from madoguchi.identity.models import DuplicateHolderReport, IssuedMyKeyId, Resident
from madoguchi.identity.models import StaffRole as SR
from madoguchi.identity.tests.factories import StaffRoleFactory, sign_in_staff

pytestmark = pytest.mark.django_db


def sign_in(card: VirtualCard) -> rs.SignInResult:
    challenge = rs.challenge_issue()
    return rs.resident_sign_in(
        challenge_id=challenge.pk,
        certificate=card.auth_certificate.public_bytes(Encoding.DER),
        signature=card.sign_challenge(DEMO_CARD_PIN, bytes.fromhex(challenge.nonce)),
    )


def set_up_mykey(card: VirtualCard, resident: Resident) -> str:
    signature = card.sign_document(DEMO_CARD_PASSWORD, rs.mykey_statement(resident))
    return rs.mykey_id_issue(resident=resident, signature=signature)


def test_mykey_id_is_eight_characters_unique_and_issued_once(jpki):
    card = jpki.card("yamada")
    resident = sign_in(card).resident
    mykey = set_up_mykey(card, resident)
    assert re.fullmatch(r"[0-9A-Z]{8}", mykey)
    assert set_up_mykey(card, resident) == mykey  # one per person
    assert IssuedMyKeyId.objects.filter(mykey_id=mykey).exists()
    other = jpki.card("sato")
    assert set_up_mykey(other, sign_in(other).resident) != mykey


def test_mykey_statement_must_be_signed_by_a_signing_certificate_of_our_ca(jpki):
    card = jpki.card("yamada")
    resident = sign_in(card).resident
    wrong_content = card.sign_document(DEMO_CARD_PASSWORD, b"something else")
    with pytest.raises(rs.SignInRefused) as excinfo:
        rs.mykey_id_issue(resident=resident, signature=wrong_content)
    assert excinfo.value.code == "digest_mismatch"
    assert Resident.objects.get(pk=resident.pk).mykey_id is None


def test_mykey_setup_page_with_the_simulator(client, jpki):
    client.post(reverse("web:resident_sign_in"), {"card": "suzuki", "pin": DEMO_CARD_PIN})
    client.post(reverse("web:resident_mykey_setup"), {"card": "suzuki", "password": DEMO_CARD_PASSWORD})
    resident = Resident.objects.get()
    assert (
        resident.mykey_id and resident.mykey_id in client.get(reverse("web:resident_home")).content.decode()
    )


def _renew(jpki, key: str, tmp_path) -> tuple[VirtualCard, str]:
    info = dict(DEMO_CARDS)[key]
    issue = jpki.ca.issue_card(basic_info=info, pin=DEMO_CARD_PIN, password=DEMO_CARD_PASSWORD,
                               out_path=tmp_path / f"{key}-new.json", renew_of=jpki.card(key).path)  # fmt: skip
    jpki.ca.crl()
    return VirtualCard(issue.path), jpki.ca.linkage_csv(issue.linkage)


def test_linked_renewal_maps_to_the_same_resident_and_mykey_id(jpki, tmp_path):
    old_card = jpki.card("yamada")
    resident = sign_in(old_card).resident
    mykey = set_up_mykey(old_card, resident)
    new_card, csv_text = _renew(jpki, "yamada", tmp_path)
    result = rs.renewal_links_import(rows=rs.renewal_links_from_csv(csv_text), source="J-LIS test")
    assert result.rows == 2 and result.new_links == 2
    signed_in = sign_in(new_card)
    assert signed_in.renewed and signed_in.resident.pk == resident.pk and signed_in.resident.mykey_id == mykey
    assert Resident.objects.count() == 1


def test_unlinked_renewal_is_reported_not_given_a_second_mykey_id(jpki, tmp_path):
    old_card = jpki.card("sato")
    old = sign_in(old_card).resident
    mykey = set_up_mykey(old_card, old)
    new_card, csv_text = _renew(jpki, "sato", tmp_path)

    newcomer = sign_in(new_card).resident  # the linkage has not arrived: a separate record for now ...
    assert newcomer.pk != old.pk
    with pytest.raises(rs.MyKeyIdPending) as excinfo:  # ... but never a second eligible person
        set_up_mykey(new_card, newcomer)
    report = excinfo.value.report
    assert (report.new_resident_id, report.existing_resident_id, report.status) == (
        newcomer.pk,
        old.pk,
        "open",
    )
    assert Resident.objects.get(pk=newcomer.pk).status == Resident.Status.PENDING_LINK
    assert Resident.objects.filter(mykey_id__isnull=False).count() == 1
    assert AuditRecord.objects.filter(action="identity.duplicate_holder_reported").count() == 1

    # The linkage arrives: the two records become one, the report closes, the old MyKey ID serves the new card.
    result = rs.renewal_links_import(rows=rs.renewal_links_from_csv(csv_text), source="J-LIS test")
    assert result.residents_merged == 1
    assert DuplicateHolderReport.objects.get(pk=report.pk).status == DuplicateHolderReport.Status.LINKED
    again = sign_in(new_card)
    assert again.resident.pk == old.pk and again.resident.mykey_id == mykey
    assert Resident.objects.get(pk=newcomer.pk).status == Resident.Status.MERGED


def test_linkage_import_validates_every_row_and_writes_nothing_on_error(jpki):
    rows = [
        {"kind": "auth", "issuer": "CN=x", "old_serial": "zz", "new_serial": "1"},
        {"kind": "card", "issuer": "CN=x", "old_serial": "1", "new_serial": "2"},
        {"kind": "sign", "issuer": "", "old_serial": "1", "new_serial": "2"},
        {"kind": "sign", "issuer": "CN=x", "old_serial": "3", "new_serial": "4"},
    ]
    with pytest.raises(rs.LinkageImportError) as excinfo:
        rs.renewal_links_import(rows=rows, source="bad file")
    assert len(excinfo.value.errors) == 3
    assert all(
        e.startswith(("row 1", "row 2", "row 3", "1行目", "2行目", "3行目")) for e in excinfo.value.errors
    )
    from madoguchi.identity.models import CertificateRenewal

    assert CertificateRenewal.objects.count() == 0


def test_linkage_api_is_for_platform_operators(client, jpki, two_municipalities, tmp_path):
    _new, csv_text = _renew(jpki, "suzuki", tmp_path)
    clerk = StaffRoleFactory(municipality=two_municipalities[0], role=SR.Role.MUNICIPAL_ADMIN).user
    sign_in_staff(client, clerk)
    url = "/api/v1/staff/jpki/renewals"
    assert client.post(url, {"csv": csv_text}, content_type="application/json").status_code == 403
    operator = StaffRoleFactory(operator=True).user
    sign_in_staff(client, operator)
    ok = client.post(url, {"csv": csv_text, "source": "J-LIS 2026-11"}, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["new_links"] == 2
    bad = client.post(url, {"csv": "a,b\n1,2\n"}, content_type="application/json")
    assert bad.status_code == 422 and bad.json()["errors"]


def test_signature_verification_api_returns_the_signers_basic_information(client, jpki):
    card = jpki.card("yamada")
    challenge = client.post("/api/v1/auth/jpki/challenge", content_type="application/json").json()
    token = client.post("/api/v1/auth/jpki/login", {
        "challenge_id": challenge["challenge_id"],
        "certificate": base64.b64encode(card.auth_certificate.public_bytes(Encoding.DER)).decode(),
        "signature": base64.b64encode(card.sign_challenge(DEMO_CARD_PIN, bytes.fromhex(challenge["nonce"]))).decode(),
    }, content_type="application/json").json()["access_token"]  # fmt: skip
    document = "児童手当 認定請求書".encode()
    signature = card.sign_document(DEMO_CARD_PASSWORD, document)
    headers = {"Authorization": f"Bearer {token}"}
    payload = {
        "content": base64.b64encode(document).decode(),
        "signature": base64.b64encode(signature).decode(),
    }
    response = client.post("/api/v1/resident/me/signatures/verify", payload, content_type="application/json",
                           headers=headers)  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.json()["signer"]["name"] == "山田 太郎"
    assert response.json()["signer"]["date_of_birth"] == "1985-04-01"
    payload["content"] = base64.b64encode(b"tampered").decode()
    refused = client.post("/api/v1/resident/me/signatures/verify", payload, content_type="application/json",
                          headers=headers)  # fmt: skip
    assert refused.status_code == 422 and refused.json()["code"] == "digest_mismatch"


def test_import_renewals_command(jpki, tmp_path, capsys):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    _new, csv_text = _renew(jpki, "suzuki", tmp_path)
    path = tmp_path / "linkage.csv"
    path.write_text(csv_text, encoding="utf-8")
    call_command("import_renewals", str(path), "--source", "J-LIS 2026-11")
    assert "2 rows: 2 new links" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("kind,issuer,old_serial,new_serial\ncard,CN=x,1,2\n", encoding="utf-8")
    with pytest.raises(CommandError):
        call_command("import_renewals", str(bad))
