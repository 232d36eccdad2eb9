import pytest
from django.core.management import call_command

from madoguchi.core.models import AuditRecord
from madoguchi.identity.models import Resident, StaffRole, User

pytestmark = pytest.mark.django_db


def test_demo_is_idempotent_and_prints_sign_ins(settings, tmp_path, capsys):
    settings.JPKI_TEST_CA_DIR = tmp_path / "jpki"
    call_command("demo")
    first = capsys.readouterr().out
    assert "chiyoda-admin" in first and "card: yamada" in first
    counts = (User.objects.count(), StaffRole.objects.count(), AuditRecord.objects.count())
    call_command("demo")
    assert (User.objects.count(), StaffRole.objects.count()) == counts[:2]
    # Only the public-bodies check and nothing else writes again: no duplicate grants or users.
    assert AuditRecord.objects.count() == counts[2]
    assert sorted(p.name for p in (tmp_path / "jpki" / "demo-cards").glob("*.json")) == [
        "sato.json",
        "suzuki.json",
        "yamada-hanako.json",
        "yamada.json",
    ]
    assert Resident.objects.count() == 0


def test_demo_totp_prints_the_code_the_back_office_accepts(settings, tmp_path, capsys, client):
    settings.JPKI_TEST_CA_DIR = tmp_path / "jpki"
    call_command("demo")
    capsys.readouterr()
    call_command("demo_totp", "chiyoda-admin")
    code = capsys.readouterr().out.strip()
    assert len(code) == 6 and code.isdigit()
    client.post("/staff/login/", {"username": "chiyoda-admin", "password": "madoguchi-demo"})
    assert client.post("/staff/mfa/", {"token": code}).status_code == 302
    assert client.get("/131016/staff/").status_code == 200
    assert client.get("/011002/staff/").status_code == 403


def test_demo_is_refused_in_production(settings):
    from django.core.management.base import CommandError

    settings.MADOGUCHI_DEMO = False
    with pytest.raises(CommandError):
        call_command("demo")
