# ruff: noqa: F811 (pytest fixtures imported from test_business_oidc)
"""The whole 行政機関等匿名加工情報 path through the web pages: a business signs in with the development GビズID
provider and proposes; staff review with the checklist, notify (PDF), conclude the contract (fee from the
call's table), run the creation job (the table meets k), issue a download link that works once within its
expiry; the public register shows the result. Other municipalities' staff see nothing of it."""

import io
import re
from datetime import date, timedelta

import polars as pl
import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from madoguchi.core.models import AuditRecord
from madoguchi.identity.models import BusinessAccount, StaffRole
from madoguchi.identity.tests.factories import StaffRoleFactory, sign_in_staff
from madoguchi.identity.tests.test_business_oidc import dev_idp, sign_in, transport  # noqa: F401 (fixtures)
from madoguchi.privacy import services
from madoguchi.privacy.models import CreationJob, Proposal, ProposalCall, RegisterEntry

pytestmark = pytest.mark.django_db

ALL_CHECKS = {key: "on" for key in services.CHECK_KEYS}
DECLARED = {f"declare_{key}": "on" for key, _label in services.DISQUALIFICATIONS}
WANTED = ["age", "sex", "race", "occupation"]


def _proposal_form(file, **extra):
    return {"file": file.pk, "items_wanted": WANTED, "purpose": "地域の就業構造の分析による新サービスの開発",
            "processing_method": "年齢を階級化し k=5 を満たす", "safeguards": "分析環境を隔離し複製しない",
            "period_months": "12", **extra}  # fmt: skip


@pytest.fixture
def reviewer(two_municipalities):
    town, _other = two_municipalities
    staff = Client()
    sign_in_staff(staff, StaffRoleFactory(municipality=town, role=StaffRole.Role.REVIEWER).user)
    return staff


def test_proposal_to_provision_through_the_pages(client, dev_idp, town_file, reviewer, two_municipalities):  # noqa: F811
    town, other = two_municipalities
    # Staff open a proposal call with the fee table.
    today = timezone.localdate()
    response = reviewer.post(reverse("privacy_staff:call_new", args=[town.code]), {
        "title": "令和8年度 匿名加工情報の提案募集", "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=30)).isoformat(), "files": [town_file.pk], "fee_base": "21000",
        "fee_per_hour": "3950", "fee_basis": "条例（デモ）",
    })  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    call = ProposalCall.objects.get()
    assert call.fee_table["base"] == 21_000

    # The public call page, then GビズID sign-in (development provider) and the proposal.
    assert (
        "令和8年度 匿名加工情報の提案募集"
        in client.get(reverse("privacy:calls", args=[town.code])).content.decode()
    )
    propose = reverse("privacy:propose", args=[town.code, call.pk])
    assert client.get(propose).url.startswith(reverse("business:sign_in"))
    sign_in(client, dev_idp.account("tech-prime"))
    assert client.get(propose).status_code == 200
    bad = client.post(propose, {"file": town_file.pk})
    assert bad.status_code == 200 and Proposal.objects.count() == 0
    assert 'class="alert alert--error"' in bad.content.decode()
    response = client.post(propose, _proposal_form(town_file, **DECLARED))
    assert response.status_code == 302, response.content.decode()[:3000]
    proposal = Proposal.objects.get()
    assert proposal.status == "submitted" and proposal.items_wanted == WANTED
    assert proposal.reference in client.get(reverse("privacy:mine")).content.decode()

    # Review with the checklist: an incomplete checklist refuses acceptance.
    page = reverse("privacy_staff:proposal", args=[town.code, proposal.reference])
    assert (
        proposal.reference
        in reviewer.get(reverse("privacy_staff:proposals", args=[town.code])).content.decode()
    )
    reviewer.post(page, {"action": "start_review"})
    reviewer.post(page, {"action": "accept", **{k: "on" for k in services.CHECK_KEYS[:-1]}})
    proposal.refresh_from_db()
    assert proposal.status == "in_review" and proposal.checklist["processing_standard"] is False
    reviewer.post(page, {"action": "accept", **ALL_CHECKS})
    proposal.refresh_from_db()
    assert proposal.status == "accepted"
    reviewer.post(page, {"action": "notify"})
    proposal.refresh_from_db()
    assert proposal.status == "notified" and proposal.notified_on == today
    for pdf in (reviewer.get(reverse("privacy_staff:notice", args=[town.code, proposal.reference])),
                client.get(reverse("privacy:notice", args=[proposal.reference]))):  # fmt: skip
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    # Contract: fee = 21,000 + 3,950 × 3 hours + 5,000 outsourcing.
    reviewer.post(page, {"action": "contract", "hours": "3", "outsourcing_cost": "5000"})
    proposal.refresh_from_db()
    assert proposal.status == "contracted" and proposal.contract.fee == 21_000 + 3 * 3_950 + 5_000 == 37_850
    assert "37,850" in client.get(reverse("privacy:mine_detail", args=[proposal.reference])).content.decode()
    reviewer.post(page, {"action": "paid"})
    proposal.refresh_from_db()
    assert proposal.status == "fee_paid"

    # The creation job (Celery, eager here) makes a table that meets k = 5, with its processing record.
    response = reviewer.post(page, {"action": "create", "k": "5", "suppression": "0"})
    job = CreationJob.objects.get()
    assert response.status_code == 302 and response.url == reverse(
        "privacy_staff:job", args=[town.code, job.pk]
    )
    assert job.status == "done" and job.progress == 100, job.error
    assert reviewer.get(response.url).status_code == 200
    progress = reviewer.get(reverse("privacy_staff:job_progress", args=[town.code, job.pk])).json()
    assert progress == {"status": "done", "progress": 100}
    assert job.report["processing_record"] and job.params["qi"] == ["age", "sex", "race"]
    proposal.refresh_from_db()
    assert proposal.status == "created"

    # Provision: a link shown once to staff; the business downloads it once.
    response = reviewer.post(page, {"action": "provide", "days": "7", "max_downloads": "1"}, follow=True)
    link = re.search(r"/privacy/download/([\w-]+)/", response.content.decode())
    assert link, response.content.decode()[:3000]
    token = link.group(1)
    assert token not in reviewer.get(page).content.decode()  # shown once
    assert token not in str(list(AuditRecord.objects.values_list("details", flat=True)))
    confirm = client.get(reverse("privacy:download", args=[token]))  # a GET only shows the confirmation
    assert confirm.status_code == 200 and 'method="post"' in confirm.content.decode()
    download = client.post(reverse("privacy:download", args=[token]))
    assert download.status_code == 200
    table = pl.read_csv(io.BytesIO(b"".join(download.streaming_content)), separator=";", infer_schema=False)
    assert sorted(table.columns) == sorted(WANTED)
    assert table.group_by(["sex", "age", "race"]).len()["len"].min() >= 5
    assert table.height == 2000
    assert client.post(reverse("privacy:download", args=[token])).status_code == 410  # max downloads reached
    assert Client().get(reverse("privacy:download", args=[token])).status_code == 302  # must sign in
    proposal.refresh_from_db()
    assert proposal.status == "provided"
    actions = set(AuditRecord.objects.filter(stream=town.code).values_list("action", flat=True))
    assert {"privacy.downloaded", "privacy.download_refused", "privacy.creation_done",
            "privacy.contract_concluded"} <= actions  # fmt: skip

    # The public register (no personal data) and the staff CSV export.
    entry = RegisterEntry.objects.get()
    assert entry.provided_on == today and entry.recipient == proposal.business.name
    public = Client().get(reverse("privacy:register", args=[town.code])).content.decode()
    assert "住民意識調査回答ファイル" in public and proposal.business.name in public
    csv_body = reviewer.get(reverse("privacy_staff:register_csv", args=[town.code])).content.decode(
        "utf-8-sig"
    )
    assert csv_body.startswith("受付番号") and proposal.reference in csv_body

    # Tenant isolation: the other municipality's staff get 403 here, 404 for our objects under their code.
    stranger = Client()
    sign_in_staff(stranger, StaffRoleFactory(municipality=other).user)
    assert stranger.get(page).status_code == 403
    assert (
        stranger.get(reverse("privacy_staff:proposal", args=[other.code, proposal.reference])).status_code
        == 404
    )
    assert stranger.get(reverse("privacy_staff:job", args=[other.code, job.pk])).status_code == 404
    assert stranger.get(reverse("privacy_staff:job_progress", args=[town.code, job.pk])).status_code == 403
    assert proposal.reference not in stranger.get(
        reverse("privacy_staff:proposals", args=[other.code])).content.decode()  # fmt: skip
    assert "住民意識調査" not in Client().get(reverse("privacy:register", args=[other.code])).content.decode()


def test_a_declared_disqualification_refuses_acceptance(
    client, dev_idp, town_call, reviewer, two_municipalities
):  # noqa: F811
    town, _other = two_municipalities
    sign_in(client, dev_idp.account("tech-prime"))
    declared = {
        k: v for k, v in DECLARED.items() if k != "declare_no_cancellation"
    }  # cancelled < 2 years ago
    client.post(
        reverse("privacy:propose", args=[town.code, town_call.pk]),
        _proposal_form(town_call.files.get(), **declared),
    )
    proposal = Proposal.objects.get()
    page = reverse("privacy_staff:proposal", args=[town.code, proposal.reference])
    reviewer.post(page, {"action": "start_review"})
    assert "欠格事由" in reviewer.get(page).content.decode()
    response = reviewer.post(page, {"action": "accept", **ALL_CHECKS}, follow=True)
    proposal.refresh_from_db()
    assert proposal.status == "in_review"
    assert "契約を解除されてから2年" in response.content.decode()
    reviewer.post(page, {"action": "reject", "note": ""})  # a rejection needs its reason
    proposal.refresh_from_db()
    assert proposal.status == "in_review"
    reviewer.post(page, {"action": "reject", "note": "欠格事由（法第113条）に該当するため"})
    reviewer.post(page, {"action": "notify"})
    proposal.refresh_from_db()
    assert proposal.status == "rejected" and proposal.notified_on is not None
    pdf = client.get(reverse("privacy:notice", args=[proposal.reference]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def _created(town_call, *, user) -> Proposal:
    """A proposal taken to `created` through the services (the pages are covered above)."""
    account = BusinessAccount.objects.get(user=user)
    proposal = services.proposal_submit(
        call=town_call, file=town_call.files.get(), account=account, purpose="分析", items_wanted=WANTED,
        processing_method="k=5", safeguards="隔離環境", period_months=6,
        declarations={k: True for k, _label in services.DISQUALIFICATIONS},
    )  # fmt: skip
    services.proposal_review_start(proposal=proposal, actor=None)
    services.proposal_checklist_save(
        proposal=proposal, actor=None, checklist=dict.fromkeys(services.CHECK_KEYS, True)
    )
    services.proposal_accept(proposal=proposal, actor=None)
    services.proposal_notify(proposal=proposal, actor=None)
    services.contract_conclude(proposal=proposal, actor=None, hours=1)
    services.fee_paid(proposal=proposal, actor=None)
    job = services.creation_job_queue(proposal=proposal, actor=None, k=5)
    assert services.creation_job_run(job_id=job.pk).status == "done"
    proposal.refresh_from_db()
    return proposal


def test_download_link_expires_and_counts(client, dev_idp, town_call, two_municipalities):  # noqa: F811
    from madoguchi.identity.tests.factories import UserFactory

    sign_in(client, dev_idp.account("tech-prime"))
    user = client.get(reverse("privacy:mine")).wsgi_request.user
    proposal = _created(town_call, user=user)
    issuer = UserFactory()
    _provision, token = services.provision_issue(proposal=proposal, actor=issuer, days=7, max_downloads=2)
    url = reverse("privacy:download", args=[token])
    assert client.post(url).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1), tick=False):
        late = Client()
        late.force_login(user)  # the browser session would have ended; the link is what is tested
        response = late.post(url)
        assert response.status_code == 410
    refused = AuditRecord.objects.filter(action="privacy.download_refused").values_list("details", flat=True)
    assert [d["reason"] for d in refused] == ["expired"]
    _provision, token = services.provision_issue(proposal=proposal, actor=issuer, days=1, max_downloads=1)
    with time_machine.travel(timezone.now() + timedelta(hours=23), tick=False):
        soon = Client()
        soon.force_login(user)
        assert soon.post(reverse("privacy:download", args=[token])).status_code == 200
        assert soon.post(reverse("privacy:download", args=[token])).status_code == 410
    assert client.post(reverse("privacy:download", args=["not-a-token"])).status_code == 404
    # Another business's account cannot use the link.
    other = Client()
    sign_in(other, dev_idp.account("minato-entry"))
    _provision, token = services.provision_issue(proposal=proposal, actor=issuer)
    assert other.post(reverse("privacy:download", args=[token])).status_code == 404


def test_fee_is_computed_from_the_call_table():
    from madoguchi.privacy.deadlines import fee

    assert fee({"base": 21_000, "per_hour": 3_950}, hours=0) == (21_000, {
        "base": 21_000, "per_hour": 3_950, "hours": 0, "work": 0, "outsourcing": 0})  # fmt: skip
    assert (
        fee({"base": 10_000, "per_hour": 1_000, "outsourcing": False}, hours=2, outsourcing_cost=500)[0]
        == 12_000
    )
    with pytest.raises(ValueError):
        fee({}, hours=-1)


def test_job_refuses_without_a_quasi_identifier(town_call, dev_idp, client):  # noqa: F811
    sign_in(client, dev_idp.account("tech-prime"))
    account = BusinessAccount.objects.get()
    proposal = services.proposal_submit(
        call=town_call, file=town_call.files.get(), account=account, purpose="p", items_wanted=["occupation"],
        processing_method="m", safeguards="s", period_months=1, declarations={},
    )  # fmt: skip
    Proposal.objects.filter(pk=proposal.pk).update(status="fee_paid")
    with pytest.raises(services.PrivacyError) as exc:
        services.creation_job_queue(proposal=proposal, actor=None, k=5)
    assert exc.value.code == "qi"


def test_closed_call_takes_no_proposal(client, dev_idp, town_call, two_municipalities):  # noqa: F811
    town, _other = two_municipalities
    ProposalCall.objects.filter(pk=town_call.pk).update(ends_on=date(2000, 1, 1), starts_on=date(2000, 1, 1))
    sign_in(client, dev_idp.account("tech-prime"))
    assert client.get(reverse("privacy:propose", args=[town.code, town_call.pk])).status_code == 404
