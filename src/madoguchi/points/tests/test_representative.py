"""A legal representative applies for a child under 15 with both cards (issue #4).

The representative signs in with their own demo card; the child's demo card answers its own challenge and signs
under its own password, and the child's date of birth comes from its signing certificate.
"""

from datetime import date, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext

from madoguchi.core.models import AuditRecord
from madoguchi.identity import card_simulator
from madoguchi.identity.demo import DEMO_CARD_PASSWORD, DEMO_CARD_PIN
from madoguchi.identity.jpki import BasicInfo
from madoguchi.identity.models import Resident
from madoguchi.identity.tests.conftest import _session_ca, jpki  # noqa: F401 (fixtures)
from madoguchi.points import services
from madoguchi.points.models import Application, Campaign, Reservation
from madoguchi.points.services import ApplicationRequest, PointsError, age_on
from madoguchi.points.tests.conftest import make_resident, sandbox_account

pytestmark = pytest.mark.django_db

OWN_ACCOUNT = "Your own account cannot be used for your child; use a different account of this service."
ALREADY = "An application for this child has already been made for this campaign; it cannot be changed."
TOO_OLD = (
    "The holder of this card is 15 or older. Residents aged 15 or more apply for themselves, with their own card "
    "and PIN; a representative can apply only for a child under 15."
)


def shown(msgid: str, html: str) -> bool:
    with translation.override("ja"):
        text = gettext(msgid)
    return text in html or escape(text) in html


def apply_data(provider, account, code="123", mode="charge"):
    return {"action": "apply", "provider": str(provider.pk), "mode": mode, "service_account": account,
            "service_account_confirm": account, "security_code": code, "acknowledge": "on"}  # fmt: skip


def card_data(card="yamada-hanako", pin=DEMO_CARD_PIN, password=DEMO_CARD_PASSWORD):
    return {"action": "identify", "card": card, "pin": pin, "password": password, "declaration": "on"}


def issue_child_card(jpki, key: str, born: date, name: str = "山田 次郎"):  # noqa: F811
    """Another demo card, e.g. a second child or a boundary birthday."""
    jpki.ca.issue_card(
        basic_info=BasicInfo(name=name, address="東京都千代田区霞が関二丁目1番2号", date_of_birth=born, sex="1"),
        pin=DEMO_CARD_PIN, password=DEMO_CARD_PASSWORD,
        out_path=jpki.ca.directory / card_simulator.DEMO_CARD_DIR / f"{key}.json",
    )  # fmt: skip


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return date(day.year - years, 2, 28)


@pytest.fixture
def parent(client, jpki, campaign, provider):  # noqa: F811
    """yamada signed in with his own card (the real challenge–response), with his own application."""
    for account in ("parent-acct", "child-acct", "child2-acct"):
        sandbox_account(provider, account)
    response = client.post(reverse("web:resident_sign_in"), {"card": "yamada", "pin": DEMO_CARD_PIN})
    assert response.status_code == 302
    client.resident = Resident.objects.get(user_id=client.session["_auth_user_id"])
    Resident.objects.filter(pk=client.resident.pk).update(mykey_id="PARENT01")
    client.resident.refresh_from_db()
    services.reservation_create(resident=client.resident, campaign=campaign, actor=client.resident.user)
    services.application_submit(
        resident=client.resident, campaign=campaign, actor=client.resident.user,
        request=ApplicationRequest(provider, "charge", "parent-acct", "parent-acct", "123"),
    )  # fmt: skip
    return client


def url(campaign: Campaign) -> str:
    return reverse("points:apply_for_child", args=[campaign.code])


def present_and_apply(client, campaign, provider, card="yamada-hanako", account="child-acct"):
    assert client.post(url(campaign), card_data(card)).status_code == 302
    assert client.post(url(campaign), {"action": "reserve"}).status_code == 302
    return client.post(url(campaign), apply_data(provider, account))


def test_happy_path_both_cards_mykey_reservation_application(parent, campaign, provider):
    client, representative = parent, parent.resident
    index = client.get(reverse("points:index")).content.decode()
    assert url(campaign) in index

    page = client.get(url(campaign))
    assert page.status_code == 200 and 'name="card"' in page.content.decode()
    response = client.post(url(campaign), card_data())
    assert response.status_code == 302 and response["Location"] == url(campaign)
    # The representative is still the one signed in: the child's card never became this browser's login.
    assert client.session["_auth_user_id"] == str(representative.user_id)
    child = Resident.objects.exclude(pk=representative.pk).get()
    assert child.mykey_id and len(child.mykey_id) == 8 and child.holder_key  # set up with the child's card

    html = client.get(url(campaign)).content.decode()
    assert "山田 花子" in html and 'value="reserve"' in html
    client.post(url(campaign), {"action": "reserve"})
    assert Reservation.objects.filter(campaign=campaign, resident=child).exists()

    response = client.post(url(campaign), apply_data(provider, "child-acct", mode="purchase"))
    application = Application.objects.get(resident=child)
    assert response.status_code == 302
    assert response["Location"] == reverse("points:mine") + f"?application={application.pk}"
    assert application.representative_id == representative.pk and application.mode == "purchase"
    assert client.session["_auth_user_id"] == str(representative.user_id)
    assert "points_child" not in client.session  # the child's identification ends with the application

    services.transactions_record(provider=provider, items=[
        {"id": "c-1", "account": "child-acct", "kind": "purchase", "amount": 2000,
         "occurred_at": timezone.now().isoformat()}])  # fmt: skip
    mine = client.get(response["Location"])
    html = mine.content.decode()
    assert mine.status_code == 200 and child.mykey_id in html and "4,500" in html  # headroom 5,000 − 500
    assert [tx.points for tx in mine.context["page"]] == [500]
    assert [s.application for s in mine.context["children"]] == [application]
    csv_page = client.get(reverse("points:mine_csv", args=[application.pk]))
    assert csv_page.status_code == 200 and "c-1" in b"".join(csv_page.streaming_content).decode()


def test_audit_records_name_the_representative(parent, campaign, provider):
    client, representative = parent, parent.resident
    present_and_apply(client, campaign, provider)
    child = Application.objects.get(representative=representative).resident
    actor = str(representative.user_id)
    identify = AuditRecord.objects.get(action="points.child_identify")
    assert identify.actor_id == actor and identify.target_id == str(child.pk)
    assert identify.details["representative"] == representative.pk and identify.details["age"] < 15
    assert identify.details["age_source"] == "jpki_signing_certificate"
    mykey = AuditRecord.objects.get(action="identity.mykey_id_issue", target_id=str(child.pk))
    assert mykey.actor_id == actor
    reservation = AuditRecord.objects.filter(action="points.reservation_create").order_by("pk").last()
    assert reservation.actor_id == actor and reservation.details["representative"] == representative.pk
    submit = AuditRecord.objects.filter(action="points.application_submit").order_by("pk").last()
    assert submit.actor_id == actor and submit.details["representative"] == representative.pk


def test_a_holder_of_15_or_more_is_refused(parent, campaign, jpki):  # noqa: F811
    client = parent
    response = client.post(url(campaign), card_data("suzuki"))  # born 1952
    assert response.status_code == 200 and shown(TOO_OLD, response.content.decode())
    assert "points_child" not in client.session
    suzuki = Resident.objects.exclude(pk=client.resident.pk).get()
    assert suzuki.mykey_id is None  # nothing was set up for him by somebody else

    # The boundary: 15 today is refused, 15 tomorrow (still 14) is accepted.
    today = timezone.localdate()
    issue_child_card(jpki, "fifteen-today", years_before(today, 15))
    issue_child_card(jpki, "fifteen-tomorrow", years_before(today + timedelta(days=1), 15))
    response = client.post(url(campaign), card_data("fifteen-today"))
    assert shown(TOO_OLD, response.content.decode()) and "points_child" not in client.session
    assert client.post(url(campaign), card_data("fifteen-tomorrow")).status_code == 302
    assert client.session["points_child"]["identity"]["child"] != client.resident.pk


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        (date(2010, 4, 1), date(2025, 3, 31), 14),
        (date(2010, 4, 1), date(2025, 4, 1), 15),
        (date(2008, 2, 29), date(2023, 2, 28), 14),  # born on 29 February: a year older from 1 March
        (date(2008, 2, 29), date(2023, 3, 1), 15),
        (date(2008, 2, 29), date(2024, 2, 29), 16),
    ],
)
def test_age_on_the_application_date(born, on, age):
    assert age_on(born, on) == age


def test_own_card_as_the_childs_is_refused(parent, campaign):
    response = parent.post(url(campaign), card_data("yamada"))
    assert shown("This is your own card. Present your child's My Number Card.", response.content.decode())
    assert "points_child" not in parent.session


def test_parents_own_account_is_refused_for_the_child(parent, campaign, provider):
    client = parent
    response = present_and_apply(client, campaign, provider, account="parent-acct")
    html = response.content.decode()
    assert response.status_code == 200 and shown(OWN_ACCOUNT, html)
    assert 'aria-invalid="true"' in html.split('name="service_account"', 1)[1].split(">")[0]
    assert not Application.objects.filter(representative=client.resident).exists()
    # The same provider with a different account is fine.
    assert client.post(url(campaign), apply_data(provider, "child-acct")).status_code == 302


def test_parents_account_from_another_campaign_is_refused_too(parent, campaign, provider):
    """The parent's account in one campaign cannot be the child's in the next (the UNIQUE is per campaign)."""
    client, representative = parent, parent.resident
    client.post(url(campaign), card_data())
    identity = services.ChildIdentity.from_session(client.session["points_child"]["identity"])
    other = Campaign.objects.create(
        code="test-2022", name="第2弾", kind=Campaign.Kind.FIXED, cap=7500, fixed_points=7500,
        modes=["charge", "purchase"], budget=7500 * 10,
        application_starts_at=campaign.application_starts_at, application_ends_at=campaign.application_ends_at,
        earning_starts_at=campaign.earning_starts_at, earning_ends_at=campaign.earning_ends_at,
    )  # fmt: skip
    other.providers.add(provider)
    with pytest.raises(PointsError) as refused:
        services.child_application_submit(
            representative=representative, identity=identity, campaign=other, actor=representative.user,
            request=ApplicationRequest(provider, "charge", "parent-acct", "parent-acct", "123"),
        )  # fmt: skip
    assert refused.value.code == "representative_account" and refused.value.message == gettext(OWN_ACCOUNT)


def test_second_application_for_the_same_child_is_refused(parent, campaign, provider):
    client, representative = parent, parent.resident
    present_and_apply(client, campaign, provider)
    client.post(url(campaign), card_data())  # the same child again
    html = client.get(url(campaign)).content.decode()
    assert shown(ALREADY, html) and 'value="apply"' not in html
    identity = services.ChildIdentity.from_session(client.session["points_child"]["identity"])
    with pytest.raises(PointsError) as refused:
        services.child_application_submit(
            representative=representative, identity=identity, campaign=campaign, actor=representative.user,
            request=ApplicationRequest(provider, "charge", "child2-acct", "child2-acct", "123"),
        )  # fmt: skip
    assert refused.value.code == "already_applied" and refused.value.message == gettext(ALREADY)
    assert Application.objects.filter(representative=representative).count() == 1


def test_a_representative_may_apply_for_several_children(parent, campaign, provider, jpki):  # noqa: F811
    client, representative = parent, parent.resident
    issue_child_card(jpki, "yamada-jiro", date(2018, 1, 10))
    present_and_apply(client, campaign, provider)
    client.post(url(campaign), {"action": "forget"})
    response = present_and_apply(client, campaign, provider, card="yamada-jiro", account="child2-acct")
    assert response.status_code == 302
    applied = Application.objects.filter(representative=representative)
    assert applied.count() == 2 and len({a.resident_id for a in applied}) == 2
    mine = client.get(reverse("points:mine"))
    assert len(mine.context["children"]) == 2 and len(mine.context["summaries"]) == 1


def test_signature_of_another_card_is_refused(parent, campaign, jpki):  # noqa: F811
    """The PIN of one child's card and the signature of another child's card are not one child."""
    client, representative = parent, parent.resident
    client.post(url(campaign), card_data())
    hanako = Resident.objects.exclude(pk=representative.pk).get()
    issue_child_card(jpki, "yamada-jiro", date(2018, 1, 10))
    signature = card_simulator.sign_document(
        card="yamada-jiro", password=DEMO_CARD_PASSWORD,
        content=services.child_statement(representative=representative, child=hanako),
    )  # fmt: skip
    with pytest.raises(PointsError) as refused:
        services.child_identify(representative=representative, child=hanako, signature=signature,
                                actor=representative.user)  # fmt: skip
    assert refused.value.code == "child_card_mismatch"


def test_childs_points_are_not_visible_to_another_resident(parent, campaign, provider):
    present_and_apply(parent, campaign, provider)
    application = Application.objects.get(representative=parent.resident)
    other = Client()
    stranger = make_resident()
    other.force_login(stranger.user)
    assert other.get(reverse("points:mine") + f"?application={application.pk}").status_code == 404
    assert other.get(reverse("points:mine_csv", args=[application.pk])).status_code == 404
    mine = other.get(reverse("points:mine"))
    assert mine.context["children"] == [] and "child-acct" not in mine.content.decode()
    # The child page shows the card step, never the child identified in the representative's session.
    page = other.get(url(campaign)).content.decode()
    assert 'value="identify"' in page and 'value="apply"' not in page
    assert application.resident.mykey_id not in page
