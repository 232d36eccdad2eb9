"""Attachments go through 無害化 before they are kept: metadata stripped, bombs and mismatches refused with a
clear message on the field, and only clean bytes reach staff."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from madoguchi.procedures.models import Attachment, Submission
from madoguchi.procedures.tests.helpers import urls, walk
from madoguchi.security.models import QuarantinedFile
from madoguchi.security.tests import malicious

pytestmark = pytest.mark.django_db(databases=["default", "vault"])

GENERIC = {
    "applicant_name": "窓口 花子", "applicant_kana": "マドグチ ハナコ", "applicant_postcode": "100-0001",
    "applicant_address": "東京都千代田区千代田1-1", "applicant_phone": "0312345678", "declaration": "on",
}  # fmt: skip


def _details_step(client, procedure) -> str:
    walk(client, procedure, GENERIC)
    from django.urls import reverse

    return reverse("procedures:step", kwargs={"municipality_code": procedure.municipality.code,
                                              "code": procedure.code, "step": "details"})  # fmt: skip


def test_a_photo_is_kept_without_its_gps_and_reaches_the_staff(client, adopt, admin):
    procedure = adopt("shisetsu-riyo-yoyaku")
    step = _details_step(client, procedure)
    photo = SimpleUploadedFile("house.jpg", malicious.jpeg_with_gps(), content_type="image/jpeg")
    response = client.post(step, {"details": "写真を添付します", "attachments": photo, "action": "next"})
    assert response.status_code == 302, response.context["form"].errors
    attachment = Attachment.objects.get()
    clean = Image.open(io.BytesIO(bytes(attachment.data)))
    assert not clean.getexif().get_ifd(0x8825)  # no GPS block left
    assert attachment.content_type == "image/jpeg"
    client.post(urls(procedure)["send"], {})
    submission = Submission.objects.get()
    attachment.refresh_from_db()
    assert attachment.submission == submission
    assert submission.revisions.get().answers["attachments"][0]["id"] == attachment.pk


@pytest.mark.parametrize(
    "name, data",
    [
        ("bomb.zip", malicious.zip_bomb_ratio(size=2 * 1024 * 1024)),
        ("flood.png", malicious.png_pixel_flood()),
        ("invoice.pdf", b"MZ\x90\x00 not a pdf at all, an executable"),
    ],
)
def test_dangerous_files_are_refused_on_the_field_and_quarantined(client, adopt, name, data):
    procedure = adopt("shisetsu-riyo-yoyaku")
    step = _details_step(client, procedure)
    response = client.post(step, {"attachments": SimpleUploadedFile(name, data), "action": "next"})
    assert response.status_code == 200
    errors = response.context["form"].errors["attachments"]
    assert name in errors[0]
    assert 'id="id_attachments_error"' in response.content.decode()
    assert Attachment.objects.count() == 0
    assert QuarantinedFile.objects.count() == 1
