"""sanitize_upload runs the sanitizer in a separate process with a timeout and a memory limit. Outcomes only:
nothing here measures time."""

import pytest

from madoguchi.core.models import AuditRecord
from madoguchi.core.tests.factories import MunicipalityFactory
from madoguchi.security import services
from madoguchi.security.models import QuarantinedFile
from madoguchi.security.sanitize import DEFAULT_POLICY, STRICT_PDF_POLICY, Tools, sanitize
from madoguchi.security.sanitize_worker import policy_from_dict, report_from_dict
from madoguchi.security.services import quarantine_dir, sanitize_upload

from . import malicious as m

pytestmark = pytest.mark.django_db
HOOKS = "madoguchi.security.tests.worker_hooks"


@pytest.fixture(autouse=True)
def var_dir(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    return tmp_path


def hook(monkeypatch, name):
    monkeypatch.setattr(services, "WORKER_SANITIZER_HOOK", f"{HOOKS}:{name}")


def test_a_file_that_takes_too_long_is_refused_and_quarantined(monkeypatch, settings):
    settings.SANITIZE_TIMEOUT_SECONDS = 0.5
    hook(monkeypatch, "never_finishes")
    city = MunicipalityFactory()
    data = m.pdf_plain()
    result = sanitize_upload(data=data, filename="遅い.pdf", municipality=city, tools=Tools.none())
    assert not result.ok and result.data is None
    record = result.quarantined
    assert [r["code"] for r in record.reasons] == ["worker.timeout"]
    assert "処理に時間がかかりすぎるため受け付けられません" in record.reasons_ja
    assert "0.5 秒" in record.reasons_ja
    assert (quarantine_dir() / record.sha256).read_bytes() == data
    entry = AuditRecord.objects.get(action="security.file_quarantined")
    assert entry.details["codes"] == ["worker.timeout"]


def test_a_file_that_needs_too_much_memory_is_refused(monkeypatch, settings):
    settings.SANITIZE_MEMORY_MB = 512
    hook(monkeypatch, "allocates_too_much")
    result = sanitize_upload(data=m.pdf_plain(), filename="大きい.pdf", tools=Tools.none())
    assert not result.ok
    assert [r["code"] for r in result.quarantined.reasons] == ["worker.memory"]
    assert (
        "メモリが上限を超える" in result.quarantined.reasons_ja and "512 MB" in result.quarantined.reasons_ja
    )


def test_a_worker_that_dies_refuses_the_file(monkeypatch):
    hook(monkeypatch, "dies")
    result = sanitize_upload(data=m.pdf_plain(), filename="a.pdf", tools=Tools.none())
    assert not result.ok and result.quarantined.reasons[0]["code"] == "worker.crashed"


def test_the_normal_path_gives_what_the_engine_gives():
    for data, name in [(m.pdf_plain(), "a.pdf"), (m.docm_with_autoopen(), "様式.docm")]:
        expected = sanitize(data, name, tools=Tools.none())
        result = sanitize_upload(data=data, filename=name, tools=Tools.none())
        assert result.ok and result.data == expected.data
        assert result.report.to_dict() == expected.report.to_dict()
        assert result.filename == expected.report.output_filename
    assert not QuarantinedFile.objects.exists()


def test_a_refusal_by_the_engine_keeps_its_reasons():
    data = m.zip_bomb_ratio(5 * 1024 * 1024)
    result = sanitize_upload(data=data, filename="添付.zip", tools=Tools.none())
    assert not result.ok and [r["code"] for r in result.quarantined.reasons] == ["zip.ratio"]
    assert result.report.to_dict() == sanitize(data, "添付.zip", tools=Tools.none()).report.to_dict()


def test_reports_and_policies_cross_the_process_boundary_unchanged():
    report = sanitize(m.docm_with_autoopen(), "様式.docm", tools=Tools.none()).report
    assert report_from_dict(report.to_dict()) == report
    for policy in (DEFAULT_POLICY, STRICT_PDF_POLICY):
        assert policy_from_dict(policy.to_dict()) == policy
