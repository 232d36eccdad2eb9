"""The staff decision on a quarantined file: request → four-eyes release → audited download, or delete."""

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from madoguchi.core.audit import verify
from madoguchi.core.models import AuditRecord
from madoguchi.core.tests.factories import MunicipalityFactory
from madoguchi.identity.tests.factories import StaffRoleFactory, sign_in_staff
from madoguchi.security.models import QuarantinedFile
from madoguchi.security.sanitize import Tools
from madoguchi.security.services import (
    QuarantineError,
    quarantine_delete,
    quarantine_dir,
    quarantine_download,
    quarantine_release,
    quarantine_release_request,
    sanitize_upload,
)

pytestmark = pytest.mark.django_db
Status = QuarantinedFile.Status
EXE = b"MZ" + b"\x00" * 100


@pytest.fixture(autouse=True)
def var_dir(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.fixture
def city():
    return MunicipalityFactory()


@pytest.fixture
def admins(city):
    return [StaffRoleFactory(municipality=city).user for _ in range(2)]


def quarantine(city, data=EXE, name="見積書.exe"):
    return sanitize_upload(data=data, filename=name, municipality=city, tools=Tools.none()).quarantined


def murl(name, city, *args):
    return reverse(f"security_municipal:{name}", args=[city.code, *args])


# --- Services ----------------------------------------------------------------------------------------------
def test_release_needs_a_second_person_and_the_download_is_audited(city, admins):
    first, second = admins
    item = quarantine(city)
    assert item.status == Status.QUARANTINED
    item = quarantine_release_request(item=item, actor=first, reason="送信者に電話で確認した")
    assert item.status == Status.RELEASE_REQUESTED and item.release_requested_by == first
    with pytest.raises(QuarantineError) as caught:
        quarantine_release(item=item, actor=first, reason="自分で承認")
    assert caught.value.code == "four_eyes"
    assert QuarantinedFile.objects.get(pk=item.pk).status == Status.RELEASE_REQUESTED
    with pytest.raises(QuarantineError, match="only a released file"):
        quarantine_download(item=item, actor=second)

    item = quarantine_release(item=item, actor=second, reason="申請内容を確認した")
    assert item.status == Status.RELEASED and item.decided_by == second
    assert quarantine_download(item=item, actor=second) == EXE
    actions = list(AuditRecord.objects.filter(stream=city.code).values_list("action", flat=True))
    assert actions[-3:] == [
        "security.quarantine_release_requested",
        "security.quarantine_released",
        "security.quarantine_downloaded",
    ]
    released = AuditRecord.objects.get(action="security.quarantine_released")
    assert released.details["reason"] == "申請内容を確認した"
    assert released.details["requested_by"] == first.pk
    assert verify()[1] == []


def test_the_database_refuses_a_release_by_the_requester(city, admins):
    item = quarantine(city)
    with pytest.raises(IntegrityError), transaction.atomic():
        QuarantinedFile.objects.filter(pk=item.pk).update(
            status=Status.RELEASED, release_requested_by=admins[0], decided_by=admins[0]
        )


@pytest.mark.parametrize("reason", ["", "   "])
def test_every_decision_needs_a_reason(city, admins, reason):
    item = quarantine(city)
    for service in (quarantine_release_request, quarantine_delete):
        with pytest.raises(QuarantineError) as caught:
            service(item=item, actor=admins[0], reason=reason)
        assert caught.value.code == "reason_required"
    assert QuarantinedFile.objects.get(pk=item.pk).status == Status.QUARANTINED
    assert not AuditRecord.objects.filter(action__startswith="security.quarantine_").exists()


def test_status_moves_only_forward(city, admins):
    first, second = admins
    item = quarantine(city)
    with pytest.raises(QuarantineError, match="cannot be released"):
        quarantine_release(item=item, actor=second, reason="x")
    quarantine_release_request(item=item, actor=first, reason="x")
    with pytest.raises(QuarantineError, match="cannot be requested"):
        quarantine_release_request(item=item, actor=second, reason="x")
    quarantine_release(item=item, actor=second, reason="x")
    with pytest.raises(QuarantineError, match="cannot be deleted"):
        quarantine_delete(item=item, actor=first, reason="x")


def test_delete_removes_the_bytes_and_keeps_the_row(city, admins, django_capture_on_commit_callbacks):
    item = quarantine(city)
    path = quarantine_dir() / item.sha256
    assert path.exists()
    with django_capture_on_commit_callbacks(execute=True):
        item = quarantine_delete(item=item, actor=admins[0], reason="明らかなマルウェア")
    assert not path.exists()
    row = QuarantinedFile.objects.get(pk=item.pk)
    assert row.status == Status.DELETED and row.deleted_at is not None and row.decided_by == admins[0]
    entry = AuditRecord.objects.get(action="security.quarantine_deleted")
    assert entry.details["bytes_removed"] is True and entry.details["reason"] == "明らかなマルウェア"


def test_delete_keeps_bytes_that_another_quarantined_row_still_holds(
    city, admins, django_capture_on_commit_callbacks
):
    other_city = MunicipalityFactory()
    item = quarantine(city)
    kept = quarantine(other_city)
    assert kept.sha256 == item.sha256
    with django_capture_on_commit_callbacks(execute=True):
        quarantine_delete(item=item, actor=admins[0], reason="不要")
    assert (quarantine_dir() / kept.sha256).read_bytes() == EXE
    assert AuditRecord.objects.get(action="security.quarantine_deleted").details["bytes_removed"] is False


def test_a_release_request_can_still_be_deleted(city, admins, django_capture_on_commit_callbacks):
    item = quarantine(city)
    quarantine_release_request(item=item, actor=admins[0], reason="確認済み")
    with django_capture_on_commit_callbacks(execute=True):
        item = quarantine_delete(item=item, actor=admins[1], reason="送信者が否定した")
    assert item.status == Status.DELETED


def test_tampered_bytes_are_not_handed_out(city, admins):
    item = quarantine(city)
    quarantine_release_request(item=item, actor=admins[0], reason="x")
    quarantine_release(item=item, actor=admins[1], reason="y")
    (quarantine_dir() / item.sha256).write_bytes(b"something else")
    with pytest.raises(QuarantineError) as caught:
        quarantine_download(item=item, actor=admins[1])
    assert caught.value.code == "corrupt"
    assert not AuditRecord.objects.filter(action="security.quarantine_downloaded").exists()


# --- Pages -------------------------------------------------------------------------------------------------
def test_the_release_workflow_through_the_pages(client, city, admins):
    first, second = admins
    item = quarantine(city)
    sign_in_staff(client, first)
    detail = client.get(murl("quarantine_detail", city, item.pk)).content.decode()
    assert murl("quarantine_request_release", city, item.pk) in detail
    assert murl("quarantine_delete", city, item.pk) in detail

    response = client.post(murl("quarantine_request_release", city, item.pk), {"request-reason": ""})
    assert response.status_code == 400 and 'aria-invalid="true"' in response.content.decode()
    response = client.post(
        murl("quarantine_request_release", city, item.pk), {"request-reason": "送信者に電話で確認"}
    )
    assert response.status_code == 302
    detail = client.get(murl("quarantine_detail", city, item.pk)).content.decode()
    assert "送信者に電話で確認" in detail
    assert murl("quarantine_release", city, item.pk) not in detail  # no approve form for the requester
    response = client.post(murl("quarantine_release", city, item.pk), {"release-reason": "自分で"})
    assert response.status_code == 400
    assert QuarantinedFile.objects.get(pk=item.pk).status == Status.RELEASE_REQUESTED

    client.logout()
    sign_in_staff(client, second)
    assert (
        murl("quarantine_release", city, item.pk)
        in client.get(murl("quarantine_detail", city, item.pk)).content.decode()
    )
    response = client.post(murl("quarantine_release", city, item.pk), {"release-reason": "確認した"})
    assert response.status_code == 302
    assert QuarantinedFile.objects.get(pk=item.pk).status == Status.RELEASED

    # Any staff member of the municipality (here a desk clerk) downloads; each download is audited.
    client.logout()
    clerk = StaffRoleFactory(municipality=city, clerk=True).user
    sign_in_staff(client, clerk)
    response = client.get(murl("quarantine_download", city, item.pk))
    assert response.status_code == 200 and b"".join(response.streaming_content) == EXE
    assert response["Content-Type"] == "application/octet-stream"
    assert "attachment" in response["Content-Disposition"]
    entry = AuditRecord.objects.get(action="security.quarantine_downloaded")
    assert entry.stream == city.code and entry.actor_id == str(clerk.pk)


def test_auditors_read_but_do_not_decide(client, city):
    item = quarantine(city)
    sign_in_staff(client, StaffRoleFactory(municipality=city, auditor=True).user)
    detail = client.get(murl("quarantine_detail", city, item.pk)).content.decode()
    assert murl("quarantine_request_release", city, item.pk) not in detail
    response = client.post(murl("quarantine_request_release", city, item.pk), {"request-reason": "x"})
    assert response.status_code == 403


def test_unreleased_files_cannot_be_downloaded(client, city, admins):
    item = quarantine(city)
    sign_in_staff(client, admins[0])
    assert client.get(murl("quarantine_download", city, item.pk)).status_code == 404
    assert not AuditRecord.objects.filter(action="security.quarantine_downloaded").exists()


def test_another_municipality_sees_and_does_nothing(client, city, admins):
    item = quarantine(city)
    quarantine_release_request(item=item, actor=admins[0], reason="x")
    quarantine_release(item=item, actor=admins[1], reason="y")
    other = MunicipalityFactory()
    stranger = StaffRoleFactory(municipality=other).user
    sign_in_staff(client, stranger)
    # Under the other municipality's code: 403 (no role there) for every page and action.
    assert client.get(murl("quarantine_download", city, item.pk)).status_code == 403
    for name in ("quarantine_request_release", "quarantine_release", "quarantine_delete"):
        assert client.post(murl(name, city, item.pk), {"request-reason": "x"}).status_code == 403
    # Under their own code: the file does not exist.
    assert client.get(murl("quarantine_download", other, item.pk)).status_code == 404
    assert client.get(murl("quarantine_detail", other, item.pk)).status_code == 404
    response = client.post(murl("quarantine_delete", other, item.pk), {"delete-reason": "x"})
    assert response.status_code == 404
    assert QuarantinedFile.objects.get(pk=item.pk).status == Status.RELEASED
    assert not AuditRecord.objects.filter(action="security.quarantine_downloaded").exists()


def test_the_list_filters_by_status(client, city, admins):
    kept = quarantine(city, name="kept.exe")
    asked = quarantine(city, data=EXE + b"1", name="asked.exe")
    quarantine_release_request(item=asked, actor=admins[0], reason="x")
    sign_in_staff(client, admins[1])
    html = client.get(murl("quarantine", city), {"status": "release_requested"}).content.decode()
    assert "asked.exe" in html and kept.original_name not in html
