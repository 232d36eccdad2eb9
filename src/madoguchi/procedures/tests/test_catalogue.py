"""The national catalogue, adoption (standardisation), own procedures and the search."""

import pytest

from madoguchi.core.models import AuditRecord
from madoguchi.procedures import selectors, services
from madoguchi.procedures.formengine import parse_definition
from madoguchi.procedures.models import FormVersion, LifeEventBundle, Procedure, ProcedureTemplate

pytestmark = pytest.mark.django_db


def test_catalogue_has_every_procedure_the_deck_names_and_loads_idempotently(catalogue):
    groups = {
        g: ProcedureTemplate.objects.filter(group=g).count() for g, _label in ProcedureTemplate.Group.choices
    }
    assert groups["high_volume22"] == 22
    assert groups["kosodate15"] == 15
    assert groups["kaigo11"] == 11
    assert groups["hisai7"] == 7
    # Every template's standard form parses, and each deck list is numbered 1..n.
    for template in ProcedureTemplate.objects.all():
        parse_definition(template.form_definition)
    for group, count in (("high_volume22", 22), ("kosodate15", 15), ("kaigo11", 11), ("hisai7", 7)):
        numbers = sorted(ProcedureTemplate.objects.filter(group=group).values_list("deck_number", flat=True))
        assert numbers == list(range(1, count + 1))
    assert LifeEventBundle.objects.filter(municipality__isnull=True).count() >= 3
    records = AuditRecord.objects.count()
    services.catalogue_load()
    assert AuditRecord.objects.count() == records  # nothing changed, nothing recorded
    assert ProcedureTemplate.objects.count() == 55


def test_the_three_sanjo_rules_on_signatures(catalogue):
    # DOMAIN.md §5: every 児童手当 form needs a signature; library requests and recruitment do not.
    assert ProcedureTemplate.objects.get(code="kosodate-jido-teate-nintei").signature_required
    assert not ProcedureTemplate.objects.get(code="tosho-kashidashi-yoyaku").signature_required
    assert (
        not ProcedureTemplate.objects.filter(group="high_volume22", deck_number=19).get().signature_required
    )


def test_adopted_procedure_keeps_the_national_form_and_texts(adopt, town):
    procedure = adopt("sodai-gomi-shushu", contact="清掃事務所 03-0000-0000", fee_yen=400)
    assert procedure.adopted and procedure.fee_yen == 400
    assert procedure.current_version.status == FormVersion.Status.PUBLISHED
    template = ProcedureTemplate.objects.get(code="sodai-gomi-shushu")
    assert procedure.current_version.definition == parse_definition(template.form_definition).to_json()
    services.procedure_update(procedure=procedure, actor=None, contact="新しい連絡先", processing_days=5)
    with pytest.raises(services.ProcedureError) as refused:
        services.procedure_update(procedure=procedure, actor=None, name="別の名前")
    assert refused.value.code == "not_editable"
    with pytest.raises(services.ProcedureError):
        services.form_draft_save(procedure=procedure, definition=template.form_definition, actor=None)
    with pytest.raises(services.ProcedureError) as twice:
        adopt("sodai-gomi-shushu")
    assert twice.value.code == "exists"
    procedure.refresh_from_db()
    assert procedure.name == template.name and procedure.contact == "新しい連絡先"


def test_search_matches_kana_and_width_alike(adopt, town, other_town):
    adopt("inu-toroku-shibo")
    adopt("kosodate-jido-teate-nintei")
    adopt("inu-toroku-shibo", municipality=other_town)
    for word in ("犬", "イヌ", "いぬ", "ｲﾇ"):
        found = selectors.procedures_search(municipality=town, keyword=word)
        assert [p.code for p in found] == ["inu-toroku-shibo"], word
    assert selectors.procedures_search(keyword="犬").count() == 2  # every municipality
    births = selectors.procedures_search(municipality=town, life_event="birth")
    assert [p.code for p in births] == ["kosodate-jido-teate-nintei"]
    assert selectors.procedures_search(municipality=town, category="kosodate").count() == 1
    assert selectors.procedures_search(municipality=town, keyword="存在しない手続").count() == 0


def test_search_page_and_api(client, adopt, town):
    adopt("inu-toroku-shibo")
    page = client.get("/procedures/", {"q": "いぬ"})
    assert page.status_code == 200 and "inu-toroku-shibo" in page.content.decode()
    bad = client.get("/procedures/", {"municipality": "999999"})
    assert "No municipality has this code" in bad.content.decode() or "コード" in bad.content.decode()
    api = client.get("/api/v1/procedures/procedures", {"municipality": town.code, "q": "ｲﾇ"}).json()
    assert [item["code"] for item in api["items"]] == ["inu-toroku-shibo"]
    assert client.get("/api/v1/procedures/procedures", {"municipality": "999999"}).status_code == 404


def test_own_procedure_drafts_publishes_and_freezes(town):
    procedure = services.procedure_create(
        municipality=town, actor=None, code="own-form", name="独自手続", category="kurashi"
    )
    assert procedure.status == Procedure.Status.DRAFT and procedure.current_version is None
    with pytest.raises(services.ProcedureError):
        services.procedure_set_status(procedure=procedure, actor=None, status="published")
    version = services.form_publish(procedure=procedure, actor=None)
    assert version.number == 1 and version.status == FormVersion.Status.PUBLISHED
    services.procedure_set_status(procedure=procedure, actor=None, status="published")
    # A new draft; publishing it retires v1, which stays as it was.
    doc = dict(version.definition)
    doc["title"] = {"ja": "第2版"}
    draft = services.form_draft_save(procedure=procedure, definition=doc, actor=None)
    assert draft.number == 2 and draft.status == FormVersion.Status.DRAFT
    services.form_publish(procedure=procedure, actor=None)
    version.refresh_from_db()
    assert version.status == FormVersion.Status.RETIRED and version.definition["title"]["ja"] == "申請"
    procedure.refresh_from_db()
    assert procedure.current_version.number == 2


def test_postcode_lookup_api(client):
    found = client.get("/api/v1/procedures/postcodes/１００-０００１").json()
    assert found["text"] == "東京都千代田区千代田" and found["municipality_code"] == "131016"
    assert client.get("/api/v1/procedures/postcodes/9999999").status_code == 404
    assert client.get("/api/v1/procedures/postcodes/12").status_code == 404


def test_submission_api_validates_like_the_form_and_files(client, adopt):
    procedure = adopt("kenshu-event-moshikomi")
    url = f"/api/v1/procedures/municipalities/{procedure.municipality.code}/procedures/{procedure.code}/submissions"
    bad = client.post(url, {"participant_name": "", "party_size": "x"}, content_type="application/json")
    assert bad.status_code == 422
    fields = {p["field"] for p in bad.json()["problems"]}
    assert {"participant_name", "party_size", "participant_email"} <= fields
    good = client.post(url, {
        "participant_name": "窓口 花子", "participant_kana": "まどぐち はなこ", "participant_email": "h@example.jp",
        "attendance_date": "2026-06-13", "party_size": 1, "sign_language": "not_needed",
    }, content_type="application/json")  # fmt: skip
    assert good.status_code == 201, good.content
    body = good.json()
    assert body["status"] == "submitted" and len(body["status_code"]) == 10
    assert services.submission_lookup(reference=body["reference"], secret=body["status_code"]) is not None
    signed = adopt("kosodate-jido-teate-nintei")
    other = (
        f"/api/v1/procedures/municipalities/{signed.municipality.code}/procedures/{signed.code}/submissions"
    )
    assert client.post(other, {}, content_type="application/json").status_code == 409
    missing = f"/api/v1/procedures/municipalities/{procedure.municipality.code}/procedures/nope/submissions"
    assert client.post(missing, {}, content_type="application/json").status_code == 404


def test_postcode_lookup_works_from_any_thread():
    import threading

    from madoguchi.procedures import postcodes

    results = []
    threads = [threading.Thread(target=lambda: results.append(postcodes.lookup("0600000"))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.city for r in results] == ["札幌市中央区"] * 3
