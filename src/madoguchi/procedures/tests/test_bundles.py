"""Life-event one-stop: the shared questions once, then each procedure filed or continued with them filled in."""

import pytest
from django.urls import reverse

from madoguchi.procedures.models import BundleFiling, Submission

pytestmark = pytest.mark.django_db(databases=["default", "vault"])

SHARED = {
    "applicant_name": "山田 太郎", "applicant_kana": "やまだ たろう", "applicant_dob": "1985-04-01",
    "applicant_postcode": "100-0013", "applicant_address": "東京都千代田区霞が関二丁目1番2号",
    "applicant_phone": "03-1234-5678", "applicant_email": "taro@example.jp",
    "children.0.child_name": "山田 一郎", "children.0.child_kana": "ヤマダ イチロウ",
    "children.0.child_dob": "2026-05-05", "children.0.child_relationship": "child",
    "children.0.child_living": "together",
}  # fmt: skip


def test_birth_bundle_files_what_it_can_and_prefills_the_rest(resident_client, adopt, town, jpki):
    for code in ("kosodate-jido-teate-nintei", "kosodate-shikyu-nintei", "kosodate-hoiku-riyo-moshikomi"):
        adopt(code)
    url = reverse("procedures:bundle", kwargs={"municipality_code": town.code, "bundle": "birth"})
    page = resident_client.get(url)
    assert page.status_code == 200
    response = resident_client.post(url, SHARED)
    assert response.status_code == 302, response.context["form"].errors
    send = resident_client.get(response.url)
    rows = {row["code"]: row for row in send.context["rows"]}
    # 児童手当 also needs the My Number and the bank account: continued in its own flow.
    assert not rows["kosodate-jido-teate-nintei"]["ready"]
    assert rows["kosodate-shikyu-nintei"]["ready"] and rows["kosodate-hoiku-riyo-moshikomi"]["ready"]
    # Without the declaration nothing is filed.
    resident_client.post(response.url, {"card": "yamada", "password": "abc123"})
    assert Submission.objects.count() == 0
    done = resident_client.post(response.url, {"card": "yamada", "password": "abc123", "declare": "on"})
    assert done.status_code == 302
    filing = BundleFiling.objects.get()
    filed = Submission.objects.filter(filing=filing)
    assert filed.count() == 2
    for submission in filed:
        revision = submission.revisions.get()
        assert revision.answers["applicant_kana"].replace("\u3000", " ") == "ヤマダ タロウ"
        assert revision.signed == submission.procedure.signature_required
    # The remaining procedure starts with the shared answers filled in.
    jido = reverse(
        "procedures:start", kwargs={"municipality_code": town.code, "code": "kosodate-jido-teate-nintei"}
    )
    first = resident_client.get(resident_client.get(jido).url)
    assert first.context["form"]["applicant_name"].initial == "山田 太郎"


def test_bundle_needs_a_signed_in_resident(client, adopt, town):
    url = reverse("procedures:bundle", kwargs={"municipality_code": town.code, "bundle": "birth"})
    assert client.get(url).url.startswith(reverse("web:resident_sign_in"))
    assert (
        client.get(
            reverse("procedures:bundle", kwargs={"municipality_code": town.code, "bundle": "nope"})
        ).status_code
        == 404
    )


def test_a_municipality_defines_its_own_bundle_from_common_questions(client, adopt, town, admin, jpki):
    from madoguchi.identity.tests.factories import sign_in_staff
    from madoguchi.procedures.models import LifeEventBundle

    adopt("suido-shiyo-kaishi")
    adopt("sodai-gomi-shushu")
    adopt("jidosha-zei-jusho-henko")
    sign_in_staff(client, admin)
    url = reverse("procedures_staff:bundles", args=[town.code])
    response = client.post(url, {
        "code": "hikkoshi", "name": "引越しワンストップ", "life_event": "moving",
        "procedures": ["sodai-gomi-shushu", "jidosha-zei-jusho-henko"],
    })  # fmt: skip
    assert response.status_code == 302
    bundle = LifeEventBundle.objects.get(municipality=town, code="hikkoshi")
    shared = [f["key"] for f in bundle.shared_definition["pages"][0]["fields"]]
    assert {"applicant_name", "applicant_postcode", "applicant_address", "applicant_phone"} <= set(shared)
    assert bundle.mapping["sodai-gomi-shushu"]["applicant_name"] == "applicant_name"
    one = client.post(
        url, {"code": "x", "name": "x", "life_event": "moving", "procedures": ["sodai-gomi-shushu"]}
    )
    assert one.status_code == 200 and LifeEventBundle.objects.filter(municipality=town).count() == 1
    page = client.get(reverse("procedures:catalogue", args=[town.code]))
    assert "引越しワンストップ" in page.content.decode()
