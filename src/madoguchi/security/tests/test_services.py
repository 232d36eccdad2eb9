"""sanitize_upload: quarantine with reasons, audit records, My Numbers kept out."""

import pytest

from madoguchi.core.audit import verify
from madoguchi.core.models import AuditRecord
from madoguchi.core.tests.factories import MunicipalityFactory  # noqa: E402
from madoguchi.security.models import QuarantinedFile  # noqa: E402
from madoguchi.security.sanitize import Tools  # noqa: E402
from madoguchi.security.services import quarantine_dir, sanitize_upload  # noqa: E402

from . import malicious as m  # noqa: E402

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def var_dir(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    return tmp_path


def test_refused_file_is_quarantined_with_reasons_and_audited(django_user_model):
    city = MunicipalityFactory()
    staff = django_user_model.objects.create_user("uploader", password="x")
    data = m.zip_bomb_ratio(5 * 1024 * 1024)
    result = sanitize_upload(
        data=data, filename="添付.zip", municipality=city, actor=staff, tools=Tools.none()
    )
    assert not result.ok and result.data is None
    record = result.quarantined
    assert QuarantinedFile.objects.get() == record
    assert (
        record.municipality == city and record.original_name == "添付.zip" and record.detected_type == "zip"
    )
    assert record.sha256 == result.report.sha256 and record.size == len(data)
    assert [r["code"] for r in record.reasons] == ["zip.ratio"]
    assert "ZIP 爆弾" in record.reasons_ja
    assert (quarantine_dir() / record.sha256).read_bytes() == data
    assert oct((quarantine_dir() / record.sha256).stat().st_mode & 0o777) == "0o600"
    entry = AuditRecord.objects.get(action="security.file_quarantined")
    assert entry.stream == city.code and entry.actor_label == "uploader"
    assert entry.target_id == str(record.pk) and entry.details["codes"] == ["zip.ratio"]
    assert verify()[1] == []


def test_sanitized_file_is_returned_and_audited():
    result = sanitize_upload(data=m.docm_with_autoopen(), filename="様式.docm", tools=Tools.none())
    assert result.ok and result.filename == "様式.docx" and result.quarantined is None
    entry = AuditRecord.objects.get(action="security.file_sanitized")
    assert entry.stream == "platform" and entry.target_type == "security.upload"
    assert "office.part_removed" in entry.details["codes"]
    assert not QuarantinedFile.objects.exists()


def test_clean_file_writes_nothing():
    result = sanitize_upload(data=m.pdf_plain(), filename="a.pdf", tools=Tools.none())
    assert result.ok and result.report.outcome == "clean"
    assert not AuditRecord.objects.exists() and not QuarantinedFile.objects.exists()


def test_my_number_in_a_file_name_stays_out_of_quarantine_and_audit():
    name = "申請_123456789018.exe"  # 123456789018 has a valid check digit
    result = sanitize_upload(data=b"MZ" + b"\x00" * 100, filename=name, tools=Tools.none())
    record = result.quarantined
    assert "123456789018" not in record.original_name and "[個人番号]" in record.original_name
    assert "123456789018" not in str(record.report) and "123456789018" not in str(record.reasons)
    assert "123456789018" not in str(AuditRecord.objects.get().details)
