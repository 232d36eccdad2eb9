# ruff: noqa: F811 (pytest fixtures imported from test_business_oidc)
"""A second business proposes to use anonymized information already created (法第118条): same review, notice,
contract and fee, no new creation job, the existing table is provided. The body cancels a contract (法第120条):
reason and date kept, downloads stop, audited, the business is told; the cancellation bars the business for
two years (法第113条). Staff export the proposals and the register as CSV / Excel."""

import hashlib
import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils.translation import gettext

from madoguchi.core.models import AuditRecord
from madoguchi.identity.models import BusinessAccount, StaffRole
from madoguchi.identity.tests.factories import StaffRoleFactory, sign_in_staff
from madoguchi.identity.tests.test_business_oidc import dev_idp, sign_in, transport  # noqa: F401 (fixtures)
from madoguchi.privacy import services
from madoguchi.privacy.models import Contract, CreationJob, Proposal, RegisterEntry
from madoguchi.privacy.tests.test_workflow import DECLARED, _created

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewer(two_municipalities):
    town, _other = two_municipalities
    staff = Client()
    sign_in_staff(staff, StaffRoleFactory(municipality=town, role=StaffRole.Role.REVIEWER).user)
    return staff


@pytest.fixture
def created(client, dev_idp, town_call):  # noqa: F811
    """A first business's proposal taken to `created`: one register entry, one finished job."""
    first = Client()
    sign_in(first, dev_idp.account("tech-prime"))
    user = first.get(reverse("privacy:mine")).wsgi_request.user
    return _created(town_call, user=user)


def _take_to_contract(reviewer, page, proposal, keys):
    reviewer.post(page, {"action": "start_review"})
    reviewer.post(page, {"action": "accept", **{k: "on" for k in keys}})
    proposal.refresh_from_db()
    assert proposal.status == "accepted", proposal.checklist
    reviewer.post(page, {"action": "notify"})
    reviewer.post(page, {"action": "contract", "hours": "1", "outsourcing_cost": "0"})
    reviewer.post(page, {"action": "paid"})
    proposal.refresh_from_db()
    assert proposal.status == "fee_paid"


def test_second_business_uses_created_information(
    client, dev_idp, created, reviewer, two_municipalities, django_capture_on_commit_callbacks
):  # noqa: F811
    town, other = two_municipalities
    entry = RegisterEntry.objects.get()
    source_job = CreationJob.objects.get()
    register = Client().get(reverse("privacy:register", args=[town.code])).content.decode()
    url = reverse("privacy:propose_existing", args=[town.code, entry.pk])
    assert url in register
    assert Client().get(reverse("privacy:propose_existing", args=[other.code, entry.pk])).status_code == 404

    sign_in(client, dev_idp.account("minato-entry"))
    assert client.get(url).status_code == 200
    bad = client.post(url, {"purpose": ""})
    assert bad.status_code == 200 and bad.context["form"].errors["purpose"]
    response = client.post(url, {"purpose": "観光施策の効果分析", "safeguards": "隔離環境で分析", "period_months": "6",
                                 **DECLARED})  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    proposal = Proposal.objects.get(kind="existing")
    assert (
        proposal.source_entry == entry
        and proposal.call == created.call
        and proposal.items_wanted == entry.items
    )
    assert proposal.business != created.business

    # Review: only 第114条第1項第1号・第4号–第7号 (no processing method, no items) and the 欠格事由.
    page = reverse("privacy_staff:proposal", args=[town.code, proposal.reference])
    keys = services.check_keys(proposal)
    assert "processing_standard" not in keys and "items_necessary" not in keys and "purpose_benefit" in keys
    assert "processing_standard" not in reviewer.get(page).content.decode()
    _take_to_contract(reviewer, page, proposal, keys)
    pdf = client.get(reverse("privacy:notice", args=[proposal.reference]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    # No creation job: the existing table is provided.
    with pytest.raises(services.PrivacyError) as exc:
        services.creation_job_queue(proposal=proposal, actor=None, k=5)
    assert exc.value.code == "existing"
    assert reviewer.post(page, {"action": "create", "k": "5", "suppression": "0"}).status_code == 302
    assert CreationJob.objects.count() == 1
    response = reviewer.post(page, {"action": "provide", "days": "7", "max_downloads": "2"}, follow=True)
    token = re.search(r"/privacy/download/([\w-]+)/", response.content.decode()).group(1)
    download = client.post(reverse("privacy:download", args=[token]))  # the GET only confirms
    assert download.status_code == 200
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == source_job.output_sha256
    proposal.refresh_from_db()
    assert proposal.status == "provided" and CreationJob.objects.count() == 1
    assert proposal.provisions.get().job == source_job

    # 契約の解除 (第120条): the ground and the reason are required.
    reviewer.post(page, {"action": "cancel", "reason": "第三者に提供した"})
    proposal.refresh_from_db()
    assert proposal.status == "provided"
    BusinessAccount.objects.filter(business=proposal.business).update(email="analyst@minato.example")
    with django_capture_on_commit_callbacks(execute=True):
        reviewer.post(page, {"action": "cancel", "ground": "breach", "reason": "第三者に提供した"})
    proposal.refresh_from_db()
    contract = Contract.objects.get(proposal=proposal)
    assert proposal.status == "cancelled" and contract.cancellation_ground == "breach"
    assert contract.cancelled_on is not None and contract.cancellation_reason == "第三者に提供した"
    refused = client.post(reverse("privacy:download", args=[token]))
    assert refused.status_code == 410
    assert refused.context["message"] == gettext(
        "The contract for this information was cancelled; it can no longer be downloaded."
    )
    details = AuditRecord.objects.filter(action="privacy.download_refused").values_list("details", flat=True)
    assert [d["reason"] for d in details] == ["cancelled"]
    cancelled = AuditRecord.objects.get(action="privacy.contract_cancelled")
    assert cancelled.stream == town.code and cancelled.details["ground"] == "breach"
    assert cancelled.details["links_stopped"] == 1
    assert [m.to for m in mail.outbox] == [["analyst@minato.example"]]
    assert proposal.reference in mail.outbox[0].subject
    mine = client.get(reverse("privacy:mine_detail", args=[proposal.reference])).content.decode()
    assert "第三者に提供した" in mine
    # The first business's provision is untouched.
    assert Proposal.objects.get(pk=created.pk).status == "created"

    # Cancelled less than two years ago: a new proposal of that business cannot be accepted (第113条).
    again = client.post(url, {"purpose": "再提案", "safeguards": "隔離", "period_months": "6", **DECLARED})
    assert again.status_code == 302
    second = Proposal.objects.exclude(pk=proposal.pk).get(kind="existing")
    assert services.disqualification_problems(second)
    second_page = reverse("privacy_staff:proposal", args=[town.code, second.reference])
    reviewer.post(second_page, {"action": "start_review"})
    reviewer.post(second_page, {"action": "accept", **{k: "on" for k in services.check_keys(second)}})
    second.refresh_from_db()
    assert second.status == "in_review"


def test_cancellation_only_of_a_contract(created, reviewer, two_municipalities):
    town, _other = two_municipalities
    with pytest.raises(services.PrivacyError) as exc:
        services.contract_cancel(proposal=created, actor=None, ground="deceit", reason="")
    assert exc.value.code == "reason"
    with pytest.raises(services.PrivacyError) as exc:
        services.contract_cancel(proposal=created, actor=None, ground="other", reason="r")
    assert exc.value.code == "ground"
    Proposal.objects.filter(pk=created.pk).update(status="notified")
    with pytest.raises(services.PrivacyError) as exc:
        services.contract_cancel(proposal=created, actor=None, ground="deceit", reason="r")
    assert exc.value.code == "transition"
    Proposal.objects.filter(pk=created.pk).update(status="created")
    services.contract_cancel(proposal=created, actor=None, ground="disqualified", reason="暴力団員と判明")
    # Information whose contract was cancelled is no longer offered for 第118条 proposals.
    assert not services.existing_entries(town).exists()
    assert (
        Client()
        .get(reverse("privacy:propose_existing", args=[town.code, RegisterEntry.objects.get().pk]))
        .status_code
        == 404
    )


def test_staff_exports_proposals_and_register(created, reviewer, two_municipalities):
    town, other = two_municipalities
    services.contract_cancel(proposal=created, actor=None, ground="deceit", reason="虚偽の申告")
    body = reviewer.get(reverse("privacy_staff:proposals_csv", args=[town.code])).content.decode("utf-8-sig")
    header, line = body.splitlines()[:2]
    assert header.startswith("受付番号,種別,事業者") and created.reference in line
    assert "37" not in line.split(",")[11]  # fee of 1 hour: 21,000 + 3,950
    assert line.split(",")[11] == "24950" and line.split(",")[13] != ""
    filtered = reviewer.get(reverse("privacy_staff:proposals_csv", args=[town.code]) + "?status=submitted")
    assert created.reference not in filtered.content.decode("utf-8-sig")
    xlsx = reviewer.get(reverse("privacy_staff:export_xlsx", args=[town.code, "proposals"]))
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    register = reviewer.get(reverse("privacy_staff:export_xlsx", args=[town.code, "register"]))
    assert register.status_code == 200 and register.content.startswith(b"PK")
    stranger = Client()
    sign_in_staff(stranger, StaffRoleFactory(municipality=other).user)
    assert stranger.get(reverse("privacy_staff:proposals_csv", args=[town.code])).status_code == 403
    assert (
        stranger.get(reverse("privacy_staff:export_xlsx", args=[town.code, "proposals"])).status_code == 403
    )
    assert stranger.get(reverse("privacy_staff:export_xlsx", args=[other.code, "nothing"])).status_code == 404
    theirs = stranger.get(reverse("privacy_staff:proposals_csv", args=[other.code])).content.decode(
        "utf-8-sig"
    )
    assert created.reference not in theirs and len(theirs.splitlines()) == 1
