# ruff: noqa: F811 (pytest fixtures imported from test_business_oidc)
"""個人情報ファイル registered and its data uploaded on the staff pages: the checks (header against the declared
items, field counts, encodings with the wrong line, the size limit, the declared number of records), where
the data are kept, the hierarchies (uploaded and checked by the engine, or rules), and the creation job that
reads exactly the uploaded data. Another municipality's staff see and change nothing."""

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from madoguchi.core.models import AuditRecord
from madoguchi.identity.models import BusinessAccount, StaffRole
from madoguchi.identity.tests.factories import StaffRoleFactory, sign_in_staff
from madoguchi.identity.tests.test_business_oidc import dev_idp, sign_in, transport  # noqa: F401 (fixtures)
from madoguchi.privacy import services
from madoguchi.privacy.models import CreationJob, PersonalInfoFile, Proposal

pytestmark = pytest.mark.django_db

ITEMS_TEXT = "\n".join([
    "氏名,identifier,氏名", "age,quasi_identifier,年齢", "sex,quasi_identifier,性別",
    "ward,quasi_identifier,居住区", "diagnosis,sensitive,傷病名",
])  # fmt: skip
WARDS = ["千代田", "中央", "港", "新宿"]
SEX = ["男", "女"]
DIAGNOSES = ["高血圧", "糖尿病", "喘息"]


def _rows(n: int = 240) -> list[list[str]]:
    return [[f"住民{i:04d}", str(20 + (i * 7) % 60), SEX[i % 2], WARDS[(i // 2) % 4], DIAGNOSES[i % 3]]
            for i in range(n)]  # fmt: skip


def _csv(rows, *, sep=";", header=("氏名", "age", "sex", "ward", "diagnosis")) -> str:
    return "\r\n".join(sep.join(r) for r in [list(header), *rows]) + "\r\n"


SEX_HIERARCHY = "男;*\n女;*\n"
WARD_HIERARCHY = "千代田;都心;*\n中央;都心;*\n港;都心;*\n新宿;副都心;*\n"


@pytest.fixture
def admin(two_municipalities):
    town, _other = two_municipalities
    staff = Client()
    sign_in_staff(staff, StaffRoleFactory(municipality=town, role=StaffRole.Role.MUNICIPAL_ADMIN).user)
    return staff


def _register(admin, town, **extra) -> PersonalInfoFile:
    response = admin.post(reverse("privacy_staff:file_new", args=[town.code]), {
        "name": "健康診査受診者ファイル", "purpose": "健康診査の実施と受診勧奨", "items": ITEMS_TEXT, **extra,
    })  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    return PersonalInfoFile.objects.get(name="健康診査受診者ファイル")


def _upload(admin, town, file, body: bytes, **fields):
    data = SimpleUploadedFile("kenshin.csv", body, content_type="text/csv")
    return admin.post(reverse("privacy_staff:file", args=[town.code, file.pk]),
                      {"action": "upload", "data": data, "encoding": "auto", "separator": "auto", **fields})  # fmt: skip


def test_register_and_upload_shift_jis_with_detected_separator(admin, two_municipalities, privacy_dir):
    town, _other = two_municipalities
    file = _register(admin, town)
    assert [i["role"] for i in file.items] == ["identifier", "quasi_identifier", "quasi_identifier",
                                               "quasi_identifier", "sensitive"]  # fmt: skip
    assert file.source_path == "" and not file.has_data
    page = admin.get(reverse("privacy_staff:file", args=[town.code, file.pk])).content.decode()
    assert 'enctype="multipart/form-data"' in page

    response = _upload(admin, town, file, _csv(_rows(), sep=";").encode("cp932"))
    assert response.status_code == 302, response.content.decode()[:3000]
    file.refresh_from_db()
    assert (file.record_count, file.separator, file.data_encoding) == (240, ";", "cp932")
    # Kept as UTF-8 under PRIVACY_DIR/uploads/<code>/, readable by the owner only, never under a web root.
    stored = Path(settings.PRIVACY_DIR) / file.source_path
    assert stored.parent == Path(settings.PRIVACY_DIR) / "uploads" / town.code
    assert stored.read_text(encoding="utf-8").startswith("氏名;age;sex;ward;diagnosis")
    assert stored.stat().st_mode & 0o077 == 0
    for root in (settings.STATIC_ROOT, settings.MEDIA_ROOT):
        if root:
            assert not stored.resolve().is_relative_to(Path(root).resolve())
    record = AuditRecord.objects.get(action="privacy.file_data_uploaded")
    assert (
        record.stream == town.code
        and record.details["rows"] == 240
        and record.details["sha256"] == file.data_sha256
    )
    assert "住民0001" not in str(record.details)  # no personal data in the audit log

    # A new upload (UTF-8, comma) replaces the data and removes the old copy.
    response = _upload(admin, town, file, _csv(_rows(100), sep=",").encode("utf-8"))
    assert response.status_code == 302
    file.refresh_from_db()
    assert (file.record_count, file.separator, file.data_encoding) == (100, ",", "utf-8")
    assert not stored.exists() and (Path(settings.PRIVACY_DIR) / file.source_path).exists()
    assert AuditRecord.objects.filter(action="privacy.file_data_uploaded").count() == 2


@pytest.mark.parametrize(("body", "fields", "field", "expected"), [
    (_csv(_rows(5), header=("氏名", "age", "sex", "ward", "disease")).encode(), {}, "data", "diagnosis"),
    (_csv(_rows(5)).encode() + "住民9;30;男;港\r\n".encode(), {}, "data", "7"),
    ("氏名;age;sex;ward;diagnosis\r\n住民1;30;男;港;喘息\r\n".encode() + b"\xff\xfe;1;2;3;4\r\n",
     {"encoding": "utf-8"}, "encoding", "3"),
    (_csv(_rows(5)).encode("cp932"), {"encoding": "utf-8"}, "encoding", "1"),
    (_csv(_rows(5), sep=";").encode(), {"separator": ","}, "data", "1"),
    ("氏名;age;sex;ward;diagnosis\r\n".encode(), {}, "data", ""),
    (b"", {}, "data", ""),
])  # fmt: skip
def test_bad_uploads_are_refused_on_the_field(
    admin, two_municipalities, privacy_dir, body, fields, field, expected
):
    town, _other = two_municipalities
    file = _register(admin, town)
    response = _upload(admin, town, file, body, **fields)
    assert response.status_code == 200
    form = response.context["upload_form"]
    assert form.errors.get(field), form.errors
    assert expected in " ".join(form.errors[field])
    page = response.content.decode()
    assert f'aria-describedby="id_{field}_error"' in page or f"id_{field}_error" in page
    file.refresh_from_db()
    assert file.source_path == ""
    assert list((Path(settings.PRIVACY_DIR) / "uploads").rglob("*.csv")) == []
    assert not AuditRecord.objects.filter(action="privacy.file_data_uploaded").exists()


def test_line_numbers_and_limits_in_the_checks():
    items = ["a", "b"]
    with pytest.raises(services.UploadError) as exc:
        services.parse_upload(b"a,b\n1,2\n3,4\n5\n", items=items)
    assert "4" in exc.value.message and "1" in exc.value.message  # line 4 has 1 field
    with pytest.raises(services.UploadError) as exc:
        services.parse_upload(b"a,b\n1,2\n" + "あ,い\n".encode("cp932") + b"\x80,\x81\n", items=items,
                              encoding="utf-8")  # fmt: skip
    assert "3" in exc.value.message and exc.value.field == "encoding"
    with pytest.raises(services.UploadError) as exc:
        services.parse_upload(b"a,b\n1,2\n", items=items, max_bytes=4)
    assert exc.value.field == "data"
    with pytest.raises(services.UploadError) as exc:
        services.parse_upload(b"a,b\n1,2\n3,4\n", items=items, record_count=3)
    assert "2" in exc.value.message and "3" in exc.value.message
    parsed = services.parse_upload(b"a\tb\n1\t2\n\n3\t4\n", items=items)
    assert (parsed["separator"], parsed["rows"], parsed["encoding"]) == ("\t", 2, "utf-8")
    parsed = services.parse_upload(b'a|b\n"x|y"|2\n', items=items)
    assert parsed["separator"] == "|" and parsed["rows"] == 1


def test_size_limit_from_settings(admin, two_municipalities, privacy_dir, settings):
    town, _other = two_municipalities
    settings.PRIVACY_UPLOAD_MAX_BYTES = 100
    file = _register(admin, town)
    response = _upload(admin, town, file, _csv(_rows(20)).encode())
    assert response.status_code == 200 and response.context["upload_form"].errors["data"]
    file.refresh_from_db()
    assert not file.has_data


def test_declared_record_count_is_checked(admin, two_municipalities, privacy_dir):
    town, _other = two_municipalities
    file = _register(admin, town, record_count="241")
    response = _upload(admin, town, file, _csv(_rows()).encode())
    assert response.status_code == 200
    assert "240" in " ".join(response.context["upload_form"].errors["data"])
    PersonalInfoFile.objects.filter(pk=file.pk).update(record_count=240)
    assert _upload(admin, town, file, _csv(_rows()).encode()).status_code == 302


def test_items_are_checked_when_registering(admin, two_municipalities):
    town, _other = two_municipalities
    url = reverse("privacy_staff:file_new", args=[town.code])
    response = admin.post(url, {"name": "x", "purpose": "y", "items": "age,quasi\nsex,quasi_identifier"})
    assert response.status_code == 200 and "quasi" in " ".join(response.context["form"].errors["items"])
    response = admin.post(url, {"name": "x", "purpose": "y", "items": "age,insensitive\nage,sensitive"})
    assert response.status_code == 200 and response.context["form"].errors["items"]
    assert not PersonalInfoFile.objects.exists()


def _hierarchy(admin, town, file, column, body: bytes | None = None, **fields):
    data = {
        "action": "hierarchy",
        "column": column,
        "kind": "file",
        "encoding": "auto",
        "separator": ";",
        **fields,
    }
    if body is not None:
        data["data"] = SimpleUploadedFile(f"{column}.csv", body, content_type="text/csv")
    return admin.post(reverse("privacy_staff:file", args=[town.code, file.pk]), data)


def test_hierarchies_uploaded_or_ruled_and_the_job_reads_the_upload(
    admin, two_municipalities, privacy_dir, dev_idp, client, few_persons
):  # noqa: F811
    town, _other = two_municipalities
    file = _register(admin, town)
    assert _upload(admin, town, file, _csv(_rows()).encode("cp932")).status_code == 302

    # A hierarchy with a ragged line: the engine's error, with the line, shows on the file field.
    response = _hierarchy(
        admin, town, file, "ward", "千代田;都心;*\n中央;*\n港;都心;*\n新宿;副都心;*\n".encode()
    )
    assert response.status_code == 200
    errors = " ".join(response.context["hierarchy_form"].errors["data"])
    assert "2行目" in errors and "ward.csv" in errors
    # A hierarchy missing a value of the data is refused with the data line.
    response = _hierarchy(admin, town, file, "ward", "千代田;都心;*\n中央;都心;*\n港;都心;*\n".encode())
    assert "新宿" in " ".join(response.context["hierarchy_form"].errors["data"])
    # A rule with bad parameters: the error is on the parameters field.
    response = _hierarchy(admin, town, file, "age", kind="interval", parameters="5,7")
    assert response.status_code == 200 and response.context["hierarchy_form"].errors["parameters"]
    file.refresh_from_db()
    assert file.hierarchies == {}

    assert _hierarchy(admin, town, file, "ward", WARD_HIERARCHY.encode("cp932")).status_code == 302
    assert _hierarchy(admin, town, file, "sex", SEX_HIERARCHY.encode()).status_code == 302
    assert _hierarchy(admin, town, file, "age", kind="interval", parameters="10,20,40").status_code == 302
    file.refresh_from_db()
    assert file.hierarchies["ward"]["kind"] == "file" and file.hierarchies["age"] == {
        "kind": "interval", "params": ["10", "20", "40"]}  # fmt: skip
    actions = list(
        AuditRecord.objects.filter(action="privacy.file_hierarchy_set").values_list("details", flat=True)
    )
    assert [d["column"] for d in actions] == ["ward", "sex", "age"]

    # The creation job anonymizes exactly the uploaded data with those hierarchies.
    today = timezone.localdate()
    call = services.call_create(municipality=town, actor=None, title="募集", starts_on=today,
                                ends_on=today + timedelta(days=10), files=[file])  # fmt: skip
    sign_in(client, dev_idp.account("tech-prime"))
    client.get(reverse("privacy:mine"))
    proposal = services.proposal_submit(
        call=call, file=file, account=BusinessAccount.objects.get(), purpose="分析",
        items_wanted=["age", "sex", "ward", "diagnosis"], processing_method="k=10", safeguards="隔離環境",
        period_months=6, declarations={k: True for k, _l in services.DISQUALIFICATIONS},
    )  # fmt: skip
    Proposal.objects.filter(pk=proposal.pk).update(status="fee_paid")
    job = services.creation_job_queue(proposal=proposal, actor=None, k=10)
    assert job.params["input"] == file.source_path and job.params["input_sha256"] == file.data_sha256
    job = services.creation_job_run(job_id=job.pk)
    assert job.status == "done", job.error
    assert job.report["input"]["rows"] == 240 and job.report["input"]["sha256"] == file.data_sha256
    out = pl.read_csv(
        Path(settings.PRIVACY_DIR) / "output" / job.output_name, separator=";", infer_schema=False
    )
    assert sorted(out.columns) == ["age", "diagnosis", "sex", "ward"] and "氏名" not in out.columns
    released = out.filter(pl.col("age") != "*")
    assert released.group_by(["age", "sex", "ward"]).len()["len"].min() >= 10
    assert set(released["ward"]) <= {"千代田", "中央", "港", "新宿", "都心", "副都心", "*"}

    # Data replaced after a job was queued: the job refuses to run on other data than it was queued for.
    Proposal.objects.filter(pk=proposal.pk).update(status="fee_paid")
    queued = services.creation_job_queue(proposal=proposal, actor=None, k=10)
    assert _upload(admin, town, file, _csv(_rows(120)).encode()).status_code == 302
    failed = services.creation_job_run(job_id=queued.pk)
    assert failed.status == "failed"
    assert not CreationJob.objects.filter(pk=queued.pk, output_name__gt="").exists()


def test_a_job_needs_uploaded_data(admin, two_municipalities, privacy_dir, dev_idp, client):  # noqa: F811
    town, _other = two_municipalities
    file = _register(admin, town)
    today = timezone.localdate()
    call = services.call_create(municipality=town, actor=None, title="募集", starts_on=today,
                                ends_on=today + timedelta(days=10), files=[file])  # fmt: skip
    sign_in(client, dev_idp.account("tech-prime"))
    proposal = services.proposal_submit(
        call=call, file=file, account=BusinessAccount.objects.get(), purpose="p", items_wanted=["age"],
        processing_method="m", safeguards="s", period_months=1, declarations={},
    )  # fmt: skip
    Proposal.objects.filter(pk=proposal.pk).update(status="fee_paid")
    with pytest.raises(services.PrivacyError) as exc:
        services.creation_job_queue(proposal=proposal, actor=None, k=5)
    assert exc.value.code == "no_data"


def test_update_keeps_items_matching_the_data_and_is_audited(admin, two_municipalities, privacy_dir):
    town, _other = two_municipalities
    file = _register(admin, town)
    _upload(admin, town, file, _csv(_rows()).encode())
    url = reverse("privacy_staff:file", args=[town.code, file.pk])
    response = admin.post(url, {"action": "update", "name": "健康診査受診者ファイル", "purpose": "変更後の目的",
                                "items": ITEMS_TEXT.replace("diagnosis", "disease")})  # fmt: skip
    assert response.status_code == 200 and response.context["edit_form"].errors["items"]
    response = admin.post(url, {"action": "update", "name": "健康診査受診者ファイル", "purpose": "変更後の目的",
                                "items": ITEMS_TEXT.replace("ward,quasi_identifier", "ward,insensitive"),
                                "open_to_proposals": "on"})  # fmt: skip
    assert response.status_code == 302
    file.refresh_from_db()
    assert file.purpose == "変更後の目的" and file.open_to_proposals and file.record_count == 240
    changed = AuditRecord.objects.get(action="privacy.file_updated").details["changed"]
    assert set(changed) == {"purpose", "items", "open_to_proposals"}


def test_other_municipality_and_readers_cannot_see_or_change_files(admin, two_municipalities, privacy_dir):
    town, other = two_municipalities
    file = _register(admin, town)
    _upload(admin, town, file, _csv(_rows()).encode())
    stranger = Client()
    sign_in_staff(stranger, StaffRoleFactory(municipality=other, role=StaffRole.Role.MUNICIPAL_ADMIN).user)
    assert stranger.get(reverse("privacy_staff:file", args=[town.code, file.pk])).status_code == 403
    assert stranger.get(reverse("privacy_staff:file", args=[other.code, file.pk])).status_code == 404
    body = _csv(_rows(3)).encode()
    assert _upload(stranger, other, file, body).status_code == 404
    assert _upload(stranger, town, file, body).status_code == 403
    assert "健康診査" not in stranger.get(reverse("privacy_staff:files", args=[other.code])).content.decode()
    auditor = Client()
    sign_in_staff(auditor, StaffRoleFactory(municipality=town, role=StaffRole.Role.AUDITOR).user)
    assert auditor.get(reverse("privacy_staff:file", args=[town.code, file.pk])).status_code == 200
    assert _upload(auditor, town, file, body).status_code == 404
    file.refresh_from_db()
    assert file.record_count == 240
    # A file of another body's uploads cannot be registered by path.
    with pytest.raises(services.PrivacyError):
        services.file_register(municipality=other, actor=None, name="x", purpose="y", items=[{"name": "age",
                               "role": "quasi_identifier"}], source_path=file.source_path)  # fmt: skip
