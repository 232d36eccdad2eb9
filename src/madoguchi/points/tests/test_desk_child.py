"""A legal representative applies for a child under 15 at the municipal desk (issue #4, desk mode for every step).

The resident being served (yamada, identified in the desk session) presents the child's card (yamada-hanako);
the clerk records the reservation and the application, after the child's 決済サービスID is shown back.
"""

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext

from madoguchi.core.models import AuditRecord
from madoguchi.identity import card_simulator
from madoguchi.identity.demo import DEMO_CARD_PASSWORD, DEMO_CARD_PIN
from madoguchi.identity.desk import SESSION_KEY
from madoguchi.identity.models import DeskSession, Resident
from madoguchi.identity.models import StaffRole as SR
from madoguchi.identity.tests.conftest import _session_ca, jpki  # noqa: F401 (fixtures)
from madoguchi.identity.tests.factories import StaffRoleFactory, sign_in_staff
from madoguchi.points.models import Application, Reservation
from madoguchi.points.tests.conftest import sandbox_account
from madoguchi.points.views import DESK_CHILD_KEY

pytestmark = pytest.mark.django_db


def shown(msgid: str, html: str) -> bool:
    with translation.override("ja"):
        text = gettext(msgid)
    return text in html or escape(text) in html


@pytest.fixture
def desk(client, jpki, two_municipalities, campaign, provider):  # noqa: F811
    """A desk clerk of `mine` serving yamada (identified with his own card) as the child's representative."""
    mine, _other = two_municipalities
    clerk = StaffRoleFactory(municipality=mine, role=SR.Role.DESK_CLERK).user
    sign_in_staff(client, clerk)
    parent = card_simulator.sign_in(card="yamada", pin=DEMO_CARD_PIN).resident
    Resident.objects.filter(pk=parent.pk).update(mykey_id="PARENT01")
    parent.refresh_from_db()
    now = timezone.now()
    session = DeskSession.objects.create(municipality=mine, clerk=clerk, resident=parent, identified_at=now,
                                         last_activity_at=now)  # fmt: skip
    stored = client.session
    stored[SESSION_KEY] = session.pk
    stored.save()
    sandbox_account(provider, "child-acct")
    client.municipality, client.clerk, client.parent, client.session_obj = mine, clerk, parent, session
    client.url = reverse("points_desk:child", args=[mine.code, campaign.code])
    return client


def card(desk_pk, card_key="yamada-hanako"):
    return {"desk_session": desk_pk, "action": "identify", "card": card_key, "pin": DEMO_CARD_PIN,
            "password": DEMO_CARD_PASSWORD, "declaration": "on"}  # fmt: skip


def test_a_child_is_reserved_and_applied_for_at_the_desk(desk, campaign, provider):
    pk = desk.session_obj.pk
    first = desk.get(desk.url)
    assert first.status_code == 200 and 'name="card"' in first.content.decode()
    read = desk.post(desk.url, card(pk))
    assert read.status_code == 302, read.content.decode()[:2000]
    child = Resident.objects.get(pk=desk.session[DESK_CHILD_KEY]["identity"]["child"])
    assert child.pk != desk.parent.pk

    assert desk.post(desk.url, {"desk_session": pk, "action": "reserve"}).status_code == 302
    reservation = Reservation.objects.get(resident=child)
    assert reservation.desk_session == desk.session_obj

    entries = {"desk_session": pk, "action": "apply", "provider": str(provider.pk), "mode": "charge",
               "service_account": "child-acct", "service_account_confirm": "child-acct", "security_code": "123",
               "acknowledge": "on"}  # fmt: skip
    check = desk.post(desk.url, entries)
    html = check.content.decode()
    assert check.status_code == 200 and '<p class="points-id" lang="en" translate="no">child-acct</p>' in html
    assert not Application.objects.filter(resident=child).exists()  # nothing is sent before the check
    assert 'value="123"' not in html

    done = desk.post(desk.url, {"desk_session": pk, "action": "submit"})
    assert done.status_code == 302
    application = Application.objects.get(resident=child)
    assert application.representative == desk.parent
    assert application.clerk == desk.clerk and application.desk_session == desk.session_obj
    record = AuditRecord.objects.get(action="points.application_submit", target_id=str(application.pk))
    assert record.actor_id == str(desk.clerk.pk) and record.details["desk_session"] == pk
    assert DESK_CHILD_KEY not in desk.session  # the security code does not outlive the submission
    identified = AuditRecord.objects.get(action="points.child_identify")
    assert identified.details["desk_session"] == pk and identified.actor_id == str(desk.clerk.pk)


def test_the_representatives_own_card_is_refused_at_the_desk(desk, campaign):
    refused = desk.post(desk.url, card(desk.session_obj.pk, card_key="yamada"))
    assert refused.status_code == 200
    assert shown("This is your own card. Present your child's My Number Card.", refused.content.decode())
    assert DESK_CHILD_KEY not in desk.session


def test_a_child_read_in_another_desk_session_is_not_used(desk, campaign):
    pk = desk.session_obj.pk
    assert desk.post(desk.url, card(pk)).status_code == 302
    # "Next resident" ends this session; the clerk starts a new one for the same person by mistake.
    DeskSession.objects.filter(pk=pk).update(ended_at=timezone.now())
    now = timezone.now()
    again = DeskSession.objects.create(municipality=desk.municipality, clerk=desk.clerk, resident=desk.parent,
                                       identified_at=now, last_activity_at=now)  # fmt: skip
    stored = desk.session
    stored[SESSION_KEY] = again.pk
    stored.save()
    page = desk.get(desk.url)
    assert page.status_code == 200 and 'name="card"' in page.content.decode()  # asked for the card again
    stale = desk.post(desk.url, {"desk_session": pk, "action": "reserve"})
    assert stale.status_code == 409 and not Reservation.objects.exists()
