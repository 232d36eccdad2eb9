"""三層の対策: each zone serves only its URL set; an Internet-zone process cannot reach the vault at all."""

import os
import subprocess
import sys

import pytest

from madoguchi.core.zones import Zone

pytestmark = pytest.mark.django_db


def _madoguchi(*args, **env):
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "madoguchi.conf.settings", **env}
    if "VAULT_DATABASE_URL" not in env:
        environment.pop("VAULT_DATABASE_URL", None)
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "madoguchi", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )


def test_a_process_started_in_the_internet_zone_cannot_read_the_vault(tmp_path):
    code = "from madoguchi.vault.models import MyNumberEntry; print(MyNumberEntry.objects.count())"
    result = _madoguchi("shell", "-c", code, MADOGUCHI_ZONE="internet", MADOGUCHI_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert (
        "ImproperlyConfigured" in result.stderr
        and "settings.DATABASES is improperly configured" in result.stderr
    )


def test_check_reports_a_vault_database_given_to_the_internet_zone(tmp_path):
    result = _madoguchi("check", MADOGUCHI_ZONE="internet", MADOGUCHI_VAR_DIR=str(tmp_path),
                        VAULT_DATABASE_URL=f"sqlite:///{tmp_path}/vault.sqlite3")  # fmt: skip
    assert result.returncode != 0 and "madoguchi.E001" in result.stderr


@pytest.mark.django_db(databases=["default", "vault"])
def test_back_office_zones_serve_no_public_pages(client, settings, public_bodies):
    for zone in (Zone.LGWAN, Zone.MYNUMBER):
        settings.MADOGUCHI_ZONE = zone
        for url in ("/", "/search/?q=札幌", "/131016/", "/sign-in/", "/points/", "/business/sign-in/",
                    "/api/v1/public-bodies/prefectures"):  # fmt: skip
            assert client.get(url).status_code == 404, (zone, url)
        assert client.get("/staff/login/").status_code == 200
        assert client.get("/healthz").status_code == 200


def test_internet_zone_health_check_does_not_touch_the_vault(client, settings):
    settings.MADOGUCHI_ZONE = Zone.INTERNET
    assert client.get("/healthz").json() == {"status": "ok", "databases": {"default": "ok"}}
