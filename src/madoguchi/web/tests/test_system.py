import re

import pytest
from django.db import connections

pytestmark = pytest.mark.django_db(databases=["default", "vault"])


def test_healthz_checks_both_databases(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "databases": {"default": "ok", "vault": "ok"}}


def test_healthz_reports_an_unreachable_database(client, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr(connections["vault"], "cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["databases"] == {"default": "ok", "vault": "unavailable"}


def test_openapi_schema_and_local_docs(client):
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/public-bodies/municipalities" in paths and "/api/v1/staff/me" in paths
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    # No asset may come from a CDN: every src/href is local.
    assert not re.search(r'(src|href)="https?://', docs.content.decode())


@pytest.mark.parametrize(
    "url",
    [
        "/search/?q=123456789018",
        "/search/?q=1234%205678%209018",
        "/123456789018/",
        "/api/v1/public-bodies/municipalities?q=621498320257",
    ],
)
def test_a_my_number_in_a_url_is_refused(client, url):
    response = client.get(url)
    assert response.status_code == 400
    assert "123456789018" not in response.content.decode() and "621498320257" not in response.content.decode()


def test_an_ordinary_twelve_digit_number_in_a_url_is_not_refused(client):
    assert client.get("/search/?q=123456789012").status_code == 200  # check digit does not match


def test_configured_log_handlers_redact_my_numbers(settings, capsys):
    import logging.config

    logging.config.dictConfig(settings.LOGGING)
    try:
        logging.getLogger("madoguchi.anything").warning("申請者 %s の番号 %s", "山田", "123456789018")
        try:
            raise ValueError("bad value 621498320257")
        except ValueError:
            logging.getLogger("django.request").exception("failed for 1234-5678-9018")
        err = capsys.readouterr().err
    finally:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
    assert "山田" in err and "[個人番号]" in err
    for n in ("123456789018", "621498320257", "1234-5678-9018"):
        assert n not in err


def test_public_api_search_and_detail(client, public_bodies):
    found = client.get("/api/v1/public-bodies/municipalities", {"q": "さっぽろ"}).json()
    assert found["count"] == 1 and found["items"][0]["code"] == "011002"
    detail = client.get("/api/v1/public-bodies/municipalities/131016").json()
    assert detail["name"] == "千代田区" and detail["prefecture_name"] == "東京都"
    missing = client.get("/api/v1/public-bodies/municipalities/131017")
    assert missing.status_code == 404 and "131017" in missing.json()["message"]
    assert len(client.get("/api/v1/public-bodies/prefectures").json()) == 47


def test_internet_zone_serves_no_back_office(client, settings, public_bodies):
    from madoguchi.core.zones import Zone

    settings.MADOGUCHI_ZONE = Zone.INTERNET
    assert client.get("/131016/").status_code == 200
    assert client.get("/api/v1/public-bodies/prefectures").status_code == 200
    for url in (
        "/staff/",
        "/staff/login/",
        "/131016/staff/",
        "/131016/staff/audit/",
        "/admin/",
        "/admin/login/",
        "/api/v1/staff/me",
        "/api/v1/staff/municipalities/131016/audit-records",
    ):
        assert client.get(url).status_code == 404, url
