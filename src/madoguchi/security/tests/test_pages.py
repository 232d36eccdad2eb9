"""Security back-office pages: tenant isolation, incident handling through the services, STIX export/import."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from madoguchi.core.models import AuditRecord
from madoguchi.core.tests.factories import MunicipalityFactory, PrefectureFactory
from madoguchi.identity.tests.factories import StaffRoleFactory, sign_in_staff
from madoguchi.security.models import Incident
from madoguchi.security.monitoring_services import (
    incident_open_from_alerts,
    incidents_export_stix,
    proxy_log_ingest,
)
from madoguchi.security.sanitize import Tools
from madoguchi.security.services import sanitize_upload

from .test_monitoring_engine import T0, squid

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def var_dir(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    return tmp_path


def make_alerts(city, host):
    line = squid(T0, "10.0.0.31", f"http://{host}/invoice.pdf.exe", ctype="application/x-msdownload")
    return proxy_log_ingest(municipality=city, actor=None, lines=[line], file_name="access.log").alerts


@pytest.fixture
def world():
    asahi = MunicipalityFactory()
    minami = MunicipalityFactory(prefecture=asahi.prefecture)
    quarantined = sanitize_upload(
        data=b"MZ" + b"\x00" * 100,
        filename="secret-asahi-invoice.exe",
        municipality=asahi,
        tools=Tools.none(),
    ).quarantined
    alerts = make_alerts(asahi, "asahi-bad.example")
    assert alerts, "the executable download raises an alert"
    incident = incident_open_from_alerts(alerts=alerts, actor=None)
    return {"asahi": asahi, "minami": minami, "quarantined": quarantined, "incident": incident}


def murl(name, municipality, *args):
    return reverse(f"security_municipal:{name}", args=[municipality.code, *args])


def test_own_staff_see_quarantine_alerts_and_incidents(client, world):
    asahi, item = world["asahi"], world["quarantined"]
    sign_in_staff(client, StaffRoleFactory(municipality=asahi, auditor=True).user)
    html = client.get(murl("quarantine", asahi)).content.decode()
    assert "secret-asahi-invoice.exe" in html and item.sha256[:12] in html
    detail = client.get(murl("quarantine_detail", asahi, item.pk))
    assert detail.status_code == 200 and item.reasons[0]["ja"] in detail.content.decode()
    assert "asahi-bad.example" in client.get(murl("alerts", asahi)).content.decode()
    assert world["incident"].title in client.get(murl("incidents", asahi)).content.decode()
    assert client.get(murl("incident", asahi, world["incident"].pk)).status_code == 200


def test_a_second_municipality_gets_403_and_sees_nothing_of_the_first(client, world):
    asahi, minami = world["asahi"], world["minami"]
    make_alerts(minami, "minami-own.example")
    sign_in_staff(client, StaffRoleFactory(municipality=minami).user)
    pages = [
        murl("quarantine", asahi),
        murl("quarantine_detail", asahi, world["quarantined"].pk),
        murl("alerts", asahi),
        murl("incidents", asahi),
        murl("incident", asahi, world["incident"].pk),
    ]
    for url in pages:
        assert client.get(url).status_code == 403, url
    assert client.post(murl("incidents_export", asahi), {"incident": world["incident"].pk}).status_code == 403
    # Through its own pages, the first's objects are not found either.
    assert client.get(murl("quarantine_detail", minami, world["quarantined"].pk)).status_code == 404
    assert client.get(murl("incident", minami, world["incident"].pk)).status_code == 404
    own = "".join(
        client.get(murl(name, minami)).content.decode() for name in ("quarantine", "alerts", "incidents")
    )
    assert "minami-own.example" in own
    assert "secret-asahi-invoice" not in own and "asahi-bad.example" not in own
    response = client.post(murl("incidents_export", minami), {"incident": world["incident"].pk})
    assert response.status_code == 302


def test_desk_clerks_are_refused(client, world):
    sign_in_staff(client, StaffRoleFactory(municipality=world["asahi"], clerk=True).user)
    assert client.get(murl("alerts", world["asahi"])).status_code == 403


def test_opening_an_incident_from_alerts(client, world):
    asahi = world["asahi"]
    alert = make_alerts(asahi, "other-bad.example")[0]
    sign_in_staff(client, StaffRoleFactory(municipality=asahi).user)
    response = client.post(murl("alerts_open_incident", asahi), {"alert": [alert.pk], "title": "調査"})
    incident = Incident.objects.get(title="調査")
    assert response.status_code == 302 and response.url == murl("incident", asahi, incident.pk)
    assert list(incident.alerts.all()) == [alert]
    assert AuditRecord.objects.filter(action="security.incident_opened", municipality=asahi).count() == 2


def test_status_and_owner_change_is_audited(client, world):
    asahi, incident = world["asahi"], world["incident"]
    admin = sign_in_staff(client, StaffRoleFactory(municipality=asahi).user)
    colleague = StaffRoleFactory(municipality=asahi, auditor=True).user
    outsider = StaffRoleFactory(municipality=world["minami"]).user
    url = murl("incident", asahi, incident.pk)
    page = client.get(url).content.decode()
    assert str(colleague) in page and str(outsider) not in page

    refused = client.post(url, {"status": "investigating", "owner": outsider.pk})
    assert refused.status_code == 400
    incident.refresh_from_db()
    assert incident.status == "open" and incident.owner is None

    response = client.post(url, {"status": "investigating", "owner": colleague.pk})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.status, incident.owner) == ("investigating", colleague)
    record = AuditRecord.objects.get(action="security.incident_updated")
    assert record.details == {"status": ["open", "investigating"], "owner": [None, colleague.pk]}
    assert record.municipality == asahi and record.actor_id == str(admin.pk)


def test_a_forbidden_transition_is_shown_not_applied(client, world):
    asahi, incident = world["asahi"], world["incident"]
    sign_in_staff(client, StaffRoleFactory(municipality=asahi).user)
    url = murl("incident", asahi, incident.pk)
    assert client.post(url, {"status": "closed"}).status_code == 302
    response = client.post(url, {"status": "open"})
    assert response.status_code == 400 and response.context["form"].errors["status"]
    incident.refresh_from_db()
    assert incident.status == "closed"


def test_auditors_read_but_cannot_change(client, world):
    asahi, incident = world["asahi"], world["incident"]
    sign_in_staff(client, StaffRoleFactory(municipality=asahi, auditor=True).user)
    url = murl("incident", asahi, incident.pk)
    assert client.get(url).context["form"] is None
    assert client.post(url, {"status": "investigating"}).status_code == 403
    alert = incident.alerts.get()
    assert client.post(murl("alerts_open_incident", asahi), {"alert": [alert.pk]}).status_code == 403
    incident.refresh_from_db()
    assert incident.status == "open"


def test_stix_download_is_a_json_bundle(client, world):
    asahi, incident = world["asahi"], world["incident"]
    sign_in_staff(client, StaffRoleFactory(municipality=asahi).user)
    response = client.post(murl("incidents_export", asahi), {"incident": [incident.pk]})
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    bundle = json.loads(response.content)
    assert bundle["type"] == "bundle"
    assert any(o["type"] == "incident" for o in bundle["objects"])
    assert "10.0.0.31" not in response.content.decode()
    assert AuditRecord.objects.filter(action="security.incidents_exported").exists()


# --- Prefecture-wide view ----------------------------------------------------------------------------------
def test_operators_see_the_prefecture_view(client, world):
    pref = world["asahi"].prefecture
    elsewhere = MunicipalityFactory(prefecture=PrefectureFactory(number=14))
    make_alerts(elsewhere, "kanagawa-only.example")
    make_alerts(world["minami"], "minami-own.example")
    sign_in_staff(client, StaffRoleFactory(operator=True).user)
    chooser = client.get(reverse("security_ops:choose"))
    assert chooser.status_code == 200
    assert client.get(reverse("security_ops:choose"), {"prefecture": pref.number}).url == reverse(
        "security_ops:prefecture", args=[pref.number]
    )
    html = client.get(reverse("security_ops:prefecture", args=[pref.number])).content.decode()
    assert "asahi-bad.example" in html and "minami-own.example" in html
    assert world["incident"].title in html and "kanagawa-only.example" not in html


@pytest.mark.parametrize("trait", [{}, {"auditor": True}])
def test_other_staff_get_403_on_the_prefecture_view(client, world, trait):
    pref = world["asahi"].prefecture
    sign_in_staff(client, StaffRoleFactory(municipality=world["asahi"], **trait).user)
    assert client.get(reverse("security_ops:choose")).status_code == 403
    assert client.get(reverse("security_ops:prefecture", args=[pref.number])).status_code == 403
    upload = SimpleUploadedFile("b.json", b"{}", content_type="application/json")
    assert (
        client.post(reverse("security_ops:import", args=[pref.number]), {"bundle": upload}).status_code == 403
    )


def test_anonymous_visitors_are_sent_to_sign_in(client, world):
    assert client.get(reverse("security_ops:choose")).status_code == 302
    assert client.get(murl("alerts", world["asahi"])).status_code == 302


def test_operators_import_a_bundle_into_a_prefecture(client, world):
    bundle = incidents_export_stix(incidents=[world["incident"]], actor=None)
    target = PrefectureFactory(number=14)
    sign_in_staff(client, StaffRoleFactory(operator=True).user)
    url = reverse("security_ops:import", args=[target.number])
    upload = SimpleUploadedFile("bundle.json", json.dumps(bundle).encode(), content_type="application/json")
    response = client.post(url, {"bundle": upload})
    assert response.status_code == 302
    imported = Incident.objects.get(prefecture=target)
    assert imported.shared and imported.alerts.get().subject_host == "asahi-bad.example"
    page = client.get(reverse("security_ops:prefecture", args=[target.number])).content.decode()
    assert imported.title in page


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        json.dumps({"type": "bundle", "id": "bundle--x", "objects": [{"type": "incident"}]}).encode(),
    ],
)
def test_a_bad_bundle_shows_errors_and_imports_nothing(client, world, content):
    target = PrefectureFactory(number=14)
    sign_in_staff(client, StaffRoleFactory(operator=True).user)
    upload = SimpleUploadedFile("bad.json", content, content_type="application/json")
    response = client.post(reverse("security_ops:import", args=[target.number]), {"bundle": upload})
    assert response.status_code == 400
    assert response.context["form"].errors["bundle"]
    assert 'role="alert"' in response.content.decode()
    assert not Incident.objects.filter(prefecture=target).exists()
    assert not AuditRecord.objects.filter(action="security.incidents_imported").exists()
