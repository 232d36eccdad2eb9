"""Who takes proposals (participation.py): a designated city always; any other municipality only after its
administrators opt in. Opting out refuses new calls and new proposals and nothing else: what is under way goes
on. The 20 designated cities' codes are checked against the bundled code list."""

import csv
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from madoguchi.core.codes import is_valid_local_government_code
from madoguchi.core.models import AuditRecord, Municipality
from madoguchi.core.public_bodies import DATA_DIR, municipality_kind
from madoguchi.core.tests.factories import MunicipalityFactory, PrefectureFactory
from madoguchi.identity.models import StaffRole
from madoguchi.identity.tests.factories import StaffRoleFactory, UserFactory, sign_in_staff
from madoguchi.privacy import participation, services
from madoguchi.privacy.models import CreationJob, Proposal, RegisterEntry, WorkflowParticipation
from madoguchi.privacy.tests.test_workflow_audit6 import _business, _file, _rows

pytestmark = pytest.mark.django_db
DECLARED = {k: True for k, _label in services.DISQUALIFICATIONS}


def _new_call(municipality, file):
    today = timezone.localdate()
    return services.call_create(municipality=municipality, actor=None, title="テスト募集XYZ", files=[file],
                                starts_on=today - timedelta(days=1), ends_on=today + timedelta(days=30))  # fmt: skip


def _submit(call, file, account=None):
    return services.proposal_submit(
        call=call, file=file, account=account or _business(), purpose="分析", items_wanted=["age", "sex"],
        processing_method="一般化", safeguards="隔離", period_months=12, declarations=DECLARED,
    )  # fmt: skip


def _admin_client(municipality, role=StaffRole.Role.MUNICIPAL_ADMIN):
    client = Client()
    user = sign_in_staff(client, StaffRoleFactory(municipality=municipality, role=role).user)
    return client, user


# --- the designated cities ------------------------------------------------------------------------------------------
def test_every_designated_city_code_is_a_city_in_the_bundled_code_list():
    with open(DATA_DIR / "local_governments.csv", encoding="utf-8", newline="") as f:
        rows = {row["code"]: row for row in csv.DictReader(f)}
    assert len(participation.DESIGNATED_CITIES) == 20
    for code, name in participation.DESIGNATED_CITIES.items():
        assert is_valid_local_government_code(code), code
        assert code in rows, f"{code} {name} is not in local_governments.csv"
        assert rows[code]["city"] == name, (code, rows[code]["city"], name)
        assert municipality_kind(code, name) == Municipality.Kind.CITY


@pytest.fixture
def yokohama(db):
    return MunicipalityFactory(
        code="141003", name="横浜市", kana="ヨコハマシ", prefecture=PrefectureFactory(number=14)
    )


def test_a_designated_city_takes_proposals_without_opting_in_and_cannot_opt_out(yokohama, privacy_dir):
    assert participation.participates(yokohama) and not WorkflowParticipation.objects.exists()
    file = _file(yokohama, data="age,sex,note\n" + _rows())
    call = _new_call(yokohama, file)
    assert _submit(call, file).status == Proposal.Status.SUBMITTED
    _client, admin = _admin_client(yokohama)
    with pytest.raises(services.PrivacyError) as exc:
        services.participation_opt_out(municipality=yokohama, actor=admin)
    assert exc.value.code == "designated"
    assert participation.participates(yokohama)


def test_a_designated_citys_page_says_why_it_cannot_opt_out(yokohama):
    client, _admin = _admin_client(yokohama)
    page = client.get(reverse("privacy_staff:index", args=[yokohama.code])).content.decode()
    assert "Article 252-19" in page or "第252条の19" in page
    assert 'name="choice"' not in page  # no control to change it
    assert (
        client.post(reverse("privacy_staff:index", args=[yokohama.code]), {"choice": "out"}).status_code
        == 200
    )
    assert participation.participates(yokohama) and not WorkflowParticipation.objects.exists()


# --- an ordinary municipality -------------------------------------------------------------------------------------
def test_an_ordinary_municipality_is_refused_until_it_opts_in(privacy_dir):
    town = MunicipalityFactory()
    assert not participation.participates(town)
    file = _file(town, data="age,sex,note\n" + _rows())
    with pytest.raises(services.PrivacyError) as exc:
        _new_call(town, file)
    assert exc.value.code == "not_participating" and town.full_name in exc.value.message
    assert not town.privacy_calls.exists()
    _client, admin = _admin_client(town)
    services.participation_opt_in(municipality=town, actor=admin)
    assert participation.participates(town)
    call = _new_call(town, file)
    assert _submit(call, file).status == Proposal.Status.SUBMITTED


def test_opting_out_refuses_new_calls_and_proposals_but_what_is_under_way_goes_on(privacy_dir, few_persons):
    town = MunicipalityFactory()
    _client, admin = _admin_client(town)
    services.participation_opt_in(municipality=town, actor=admin)
    file = _file(town, data="age,sex,note\n" + _rows())
    call = _new_call(town, file)
    under_way = _submit(call, file)
    services.participation_opt_out(municipality=town, actor=admin)
    assert not participation.participates(town)

    # New calls and new proposals (even to the call still open) are refused.
    for attempt in (lambda: _new_call(town, file), lambda: _submit(call, file)):
        with pytest.raises(services.PrivacyError) as exc:
            attempt()
        assert exc.value.code == "not_participating"
    assert town.privacy_calls.count() == 1 and Proposal.objects.count() == 1

    # The proposal made before goes through review, contract, creation and provision.
    services.proposal_review_start(proposal=under_way, actor=admin)
    services.proposal_checklist_save(proposal=under_way, actor=admin, checklist=dict.fromkeys(
        services.check_keys(under_way), True), note="")  # fmt: skip
    services.proposal_accept(proposal=under_way, actor=admin)
    services.proposal_notify(proposal=under_way, actor=admin)
    services.contract_conclude(proposal=under_way, actor=admin, hours=1)
    services.fee_paid(proposal=under_way, actor=admin)
    job = services.creation_job_queue(proposal=under_way, actor=admin, k=2)
    assert services.creation_job_run(job_id=job.pk).status == CreationJob.Status.DONE
    _provision, token = services.provision_issue(proposal=under_way, actor=admin, days=7)
    _provision, path = services.provision_download(token=token, user=under_way.user)
    assert path.is_file()

    # Using the information created (法第118条) is a new proposal too: refused.
    entry = RegisterEntry.objects.get(proposal=under_way)
    with pytest.raises(services.PrivacyError) as exc:
        services.proposal_submit_existing(entry=entry, account=_business("C"), purpose="p", safeguards="s",
                                          period_months=6, declarations=DECLARED)  # fmt: skip
    assert exc.value.code == "not_participating"


def test_changes_are_audited_in_the_same_stream_and_a_repeat_records_nothing(privacy_dir):
    town = MunicipalityFactory()
    _client, admin = _admin_client(town)
    services.participation_opt_in(municipality=town, actor=admin)
    services.participation_opt_in(municipality=town, actor=admin)
    services.participation_opt_out(municipality=town, actor=admin)
    records = AuditRecord.objects.filter(stream=town.code, action__startswith="privacy.participation_")
    assert list(records.order_by("seq").values_list("action", "actor_id", "details")) == [
        ("privacy.participation_opted_in", str(admin.pk), {"opted_in": True}),
        ("privacy.participation_opted_out", str(admin.pk), {"opted_in": False}),
    ]
    row = WorkflowParticipation.objects.get(municipality=town)
    assert not row.opted_in and row.changed_by == admin and row.changed_at is not None


# --- who may change it --------------------------------------------------------------------------------------------
def test_only_the_municipalitys_administrators_may_change_it(two_municipalities):
    _town, other = two_municipalities  # `other` has not opted in (conftest)
    url = reverse("privacy_staff:index", args=[other.code])

    admin, admin_user = _admin_client(other)
    page = admin.get(url).content.decode()
    assert 'name="choice"' in page and 'type="radio"' in page
    response = admin.post(url, {"choice": "in"})
    assert response.status_code == 302 and participation.participates(other)
    record = AuditRecord.objects.get(stream=other.code, action="privacy.participation_opted_in")
    assert record.actor_id == str(admin_user.pk)

    # A reviewer of the same municipality sees the state but no control, and cannot post.
    reviewer, reviewer_user = _admin_client(other, StaffRole.Role.REVIEWER)
    page = reviewer.get(url).content.decode()
    assert 'name="choice"' not in page
    assert reviewer.post(url, {"choice": "out"}).status_code == 403
    with pytest.raises(services.PrivacyError) as exc:
        services.participation_opt_out(municipality=other, actor=reviewer_user)
    assert exc.value.code == "forbidden"

    # Another municipality's administrator: refused by the page and by the service.
    stranger, stranger_user = _admin_client(MunicipalityFactory())
    assert stranger.post(url, {"choice": "out"}).status_code == 403
    with pytest.raises(services.PrivacyError):
        services.participation_opt_out(municipality=other, actor=stranger_user)

    # A resident (signed in, no staff role) and an anonymous visitor.
    resident = Client()
    resident.force_login(UserFactory())
    assert resident.post(url, {"choice": "out"}).status_code in (302, 403)
    assert Client().post(url, {"choice": "out"}).status_code == 302  # to sign-in
    assert participation.participates(other)
    assert not AuditRecord.objects.filter(action="privacy.participation_opted_out").exists()


def test_the_choice_is_required_and_its_error_is_tied_to_the_field(two_municipalities):
    _town, other = two_municipalities
    admin, _user = _admin_client(other)
    page = admin.post(reverse("privacy_staff:index", args=[other.code]), {}).content.decode()
    assert 'aria-describedby="id_choice_helptext id_choice_error"' in page or "id_choice_error" in page
    assert not participation.participates(other)


# --- the pages ------------------------------------------------------------------------------------------------------
def test_public_pages_say_a_municipality_takes_no_proposals_instead_of_listing_calls(privacy_dir):
    town = MunicipalityFactory()
    _client, admin = _admin_client(town)
    services.participation_opt_in(municipality=town, actor=admin)
    file = _file(town, data="age,sex,note\n" + _rows())
    call = _new_call(town, file)
    visitor = Client()
    page = visitor.get(reverse("privacy:calls", args=[town.code])).content.decode()
    assert call.title in page and services.not_participating_message(town) not in page

    services.participation_opt_out(municipality=town, actor=admin)
    message = services.not_participating_message(town)
    page = visitor.get(reverse("privacy:calls", args=[town.code])).content.decode()
    assert message in page and call.title not in page
    assert reverse("privacy:propose", args=[town.code, call.pk]) not in page
    # The register stays public (個人情報ファイル簿, 法第75条), with the same notice.
    register = visitor.get(reverse("privacy:register", args=[town.code]))
    assert register.status_code == 200 and file.name in register.content.decode()
    assert message in register.content.decode()
    # The proposal form of the call still open says why it takes nothing.
    refused = visitor.get(reverse("privacy:propose", args=[town.code, call.pk]))
    assert refused.status_code == 404 and message in refused.content.decode()

    staff, _user = _admin_client(town, StaffRole.Role.REVIEWER)
    calls_page = staff.get(reverse("privacy_staff:calls", args=[town.code])).content.decode()
    assert message in calls_page and reverse("privacy_staff:call_new", args=[town.code]) not in calls_page
    refused = staff.post(reverse("privacy_staff:call_new", args=[town.code]), {
        "title": "新しい募集", "starts_on": "2026-01-01", "ends_on": "2026-02-01", "files": [file.pk],
        "fee_base": "0", "fee_per_hour": "0", "fee_basis": "条例",
    })  # fmt: skip
    assert refused.status_code == 200 and message in refused.content.decode()
    assert town.privacy_calls.count() == 1


def test_the_demo_municipality_takes_proposals(db, privacy_dir):
    import io

    from madoguchi.core.public_bodies import public_bodies_load
    from madoguchi.privacy.demo import load_demo

    public_bodies_load()
    chiyoda = Municipality.objects.get(code="131016")
    assert not participation.is_designated_city(chiyoda)
    load_demo(stdout=io.StringIO())
    assert participation.participates(chiyoda) and chiyoda.privacy_calls.exists()
    load_demo(stdout=io.StringIO())  # a second run changes and records nothing
    assert AuditRecord.objects.filter(action="privacy.participation_opted_in").count() == 1
