"""Desk mode: one resident at a time on a shared terminal; nothing survives "next resident" or idleness."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from madoguchi.core.models import AuditRecord
from madoguchi.identity import desk
from madoguchi.identity.demo import DEMO_CARD_PIN
from madoguchi.identity.models import DeskSession
from madoguchi.identity.models import StaffRole as SR
from madoguchi.identity.tests.factories import StaffRoleFactory, sign_in_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk_client(client, two_municipalities, jpki):
    mine, _other = two_municipalities
    clerk = StaffRoleFactory(municipality=mine, role=SR.Role.DESK_CLERK).user
    sign_in_staff(client, clerk)
    client.municipality, client.clerk = mine, clerk
    return client


def _url(client, name):
    return reverse(name, args=[client.municipality.code])


def _serve(client, card="yamada"):
    client.post(_url(client, "web:staff_desk_start"))
    client.post(_url(client, "web:staff_desk_identify"), {"card": card, "pin": DEMO_CARD_PIN})
    return DeskSession.objects.get(clerk=client.clerk, ended_at__isnull=True)


def test_a_clerk_serves_a_resident_and_actions_name_both(clerk_client):
    session = _serve(clerk_client)
    assert session.resident is not None
    page = clerk_client.get(_url(clerk_client, "web:staff_desk"))
    assert page.context["desk"].resident_id == session.resident_id
    # Any later procedure records itself through desk_record: the clerk acts, the resident is named.
    request = page.wsgi_request
    request.user, request.desk = clerk_client.clerk, session
    entry = desk.desk_record(request=request, action="points.application_submit", details={"service": "demo"})
    assert entry.actor_id == str(clerk_client.clerk.pk)
    assert entry.details["resident"] == session.resident_id and entry.details["desk_session"] == session.pk
    assert entry.stream == clerk_client.municipality.code


def test_next_resident_ends_the_session_for_good(clerk_client):
    session = _serve(clerk_client)
    clerk_client.post(_url(clerk_client, "web:staff_desk_next"))
    session.refresh_from_db()
    assert session.ended_at is not None and session.end_reason == "next"
    page = clerk_client.get(_url(clerk_client, "web:staff_desk"))
    assert page.context["desk"] is None
    with pytest.raises(desk.DeskError):
        desk.desk_record(request=page.wsgi_request, action="points.application_submit")
    with pytest.raises(desk.DeskError):  # an ended session can never take a resident again
        desk.desk_identify(desk=session, resident=session.resident, clerk=clerk_client.clerk)


def test_an_idle_terminal_forgets_the_resident(clerk_client, settings):
    session = _serve(clerk_client)
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.DESK_IDLE_SECONDS + 1)):
        page = clerk_client.get(_url(clerk_client, "web:staff_desk"), follow=True)
    assert page.context["desk"] is None
    session.refresh_from_db()
    assert session.end_reason == "idle"
    assert AuditRecord.objects.filter(action="identity.desk_end", details__reason="idle").exists()


def test_a_second_resident_cannot_join_an_occupied_session(clerk_client):
    session = _serve(clerk_client, "yamada")
    response = clerk_client.post(_url(clerk_client, "web:staff_desk_identify"), {"card": "sato", "pin": DEMO_CARD_PIN},
                                 follow=True)  # fmt: skip
    session.refresh_from_db()
    assert "Next resident" in response.content.decode() or "次の方" in response.content.decode()
    assert DeskSession.objects.get(pk=session.pk).resident_id == session.resident_id


def test_signing_out_ends_the_desk_session(clerk_client):
    session = _serve(clerk_client)
    clerk_client.post(reverse("web:staff_logout"))
    session.refresh_from_db()
    assert session.end_reason == "sign_out"


def test_only_one_open_session_per_clerk(clerk_client):
    first = _serve(clerk_client)
    second = _serve(clerk_client, "sato")
    first.refresh_from_db()
    assert first.end_reason == "replaced" and second.ended_at is None
    assert DeskSession.objects.filter(clerk=clerk_client.clerk, ended_at__isnull=True).count() == 1


def test_wrong_pin_at_the_desk_identifies_nobody(clerk_client):
    clerk_client.post(_url(clerk_client, "web:staff_desk_start"))
    clerk_client.post(_url(clerk_client, "web:staff_desk_identify"), {"card": "yamada", "pin": "9999"})
    assert DeskSession.objects.get(clerk=clerk_client.clerk, ended_at__isnull=True).resident is None


def test_only_the_desk_unlocks_a_locked_card_and_it_is_audited(clerk_client, jpki):
    card = jpki.card("suzuki")
    for _ in range(3):
        clerk_client.post(reverse("web:resident_sign_in"), {"card": "suzuki", "pin": "0000"})
    assert card.status()["auth"]["locked"]
    bad = clerk_client.post(_url(clerk_client, "web:staff_desk_card_reset"),
                            {"card": "suzuki", "which": "pin", "new_secret": "12"}, follow=True)  # fmt: skip
    assert card.status()["auth"]["locked"] and bad.status_code == 200
    clerk_client.post(_url(clerk_client, "web:staff_desk_card_reset"),
                      {"card": "suzuki", "which": "pin", "new_secret": "4321"})  # fmt: skip
    assert not card.status()["auth"]["locked"]
    record = AuditRecord.objects.get(action="identity.card_secret_reset")
    assert record.actor_id == str(clerk_client.clerk.pk) and record.stream == clerk_client.municipality.code
    assert record.details == {"which": "pin"}
    assert "4321" not in str(record.details)
