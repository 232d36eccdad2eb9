"""Defects of the 匿名加工情報 workflow found by the review of issue 8, each with the test that failed before the fix:
a contract cancelled while its creation job ran was un-cancelled and its data could be downloaded; the job
form's parameter errors were not tied to their fields and the values entered were lost; the number of persons
was not checked again when a job was queued."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from madoguchi.core.models import AuditRecord
from madoguchi.identity.models import StaffRole
from madoguchi.identity.tests.factories import StaffRoleFactory, UserFactory, sign_in_staff
from madoguchi.privacy import services
from madoguchi.privacy.models import Contract, CreationJob, Proposal, RegisterEntry
from madoguchi.privacy.tests.test_workflow_audit6 import _file, _proposal, _rows

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("few_persons")]

DATA = "age,sex,note\n" + _rows()


def _contracted(town) -> Proposal:
    proposal = _proposal(town, _file(town, data=DATA))
    Contract.objects.create(proposal=proposal, hours=1, fee=1, contract_date=timezone.localdate(),
                            paid_on=timezone.localdate())  # fmt: skip
    return proposal


def _outputs(privacy_dir) -> list[str]:
    folder = privacy_dir / "output"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _failed_reasons() -> list[str]:
    return [d["error"] for d in AuditRecord.objects.filter(action="privacy.creation_failed").values_list(
        "details", flat=True)]  # fmt: skip


# --- 1. a cancellation during the run stays a cancellation ------------------------------------------------------
def test_a_contract_cancelled_while_the_job_runs_stays_cancelled_and_nothing_is_provided(
    two_municipalities, privacy_dir, monkeypatch
):
    town, _other = two_municipalities
    proposal = _contracted(town)
    job = services.creation_job_queue(proposal=proposal, actor=None, k=2)
    engine = services._run_engine

    def cancelled_meanwhile(job):
        result = engine(job)
        services.contract_cancel(proposal=Proposal.objects.get(pk=proposal.pk), actor=None, ground="breach",
                                 reason="違反")  # fmt: skip
        return result

    monkeypatch.setattr(services, "_run_engine", cancelled_meanwhile)
    job = services.creation_job_run(job_id=job.pk)
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.CANCELLED
    assert job.status == CreationJob.Status.FAILED and job.error == services._cancelled_job_message()
    assert not job.output_name and _outputs(privacy_dir) == []
    assert not RegisterEntry.objects.exists()
    assert not AuditRecord.objects.filter(action="privacy.creation_done").exists()
    assert _failed_reasons() == ["contract_cancelled"]
    with pytest.raises(services.PrivacyError) as exc:
        services.provision_issue(proposal=proposal, actor=UserFactory(), days=7)
    assert exc.value.code == "cancelled"


def test_the_last_step_of_the_job_checks_the_proposal_it_started_from(
    two_municipalities, privacy_dir, monkeypatch
):
    """The job's last step does not rely on the cancellation having failed the job: the proposal row, locked,
    must still be waiting for the creation."""
    town, _other = two_municipalities
    proposal = _contracted(town)
    job = services.creation_job_queue(proposal=proposal, actor=None, k=2)
    engine = services._run_engine

    def cancelled_behind_its_back(job):
        result = engine(job)
        Proposal.objects.filter(pk=proposal.pk).update(status=Proposal.Status.CANCELLED)
        return result

    monkeypatch.setattr(services, "_run_engine", cancelled_behind_its_back)
    job = services.creation_job_run(job_id=job.pk)
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.CANCELLED and job.status == CreationJob.Status.FAILED
    assert job.error == services._cancelled_job_message() and job.finished_at is not None
    assert _outputs(privacy_dir) == [] and not RegisterEntry.objects.exists()
    assert _failed_reasons() == ["contract_cancelled"]


def test_a_cancellation_fails_a_queued_job_which_then_never_runs(
    two_municipalities, privacy_dir, monkeypatch
):
    town, _other = two_municipalities
    proposal = _contracted(town)
    job = services.creation_job_queue(proposal=proposal, actor=None, k=2)
    actor = UserFactory()
    services.contract_cancel(proposal=proposal, actor=actor, ground="breach", reason="違反")
    job.refresh_from_db()
    assert job.status == CreationJob.Status.FAILED and job.error == services._cancelled_job_message()
    failed = AuditRecord.objects.get(action="privacy.creation_failed")
    assert failed.details == {"reference": proposal.reference, "status": "cancelled", "job": job.pk,
                              "error": "contract_cancelled"}  # fmt: skip
    assert str(failed.actor_id) == str(actor.pk)
    monkeypatch.setattr(services, "_run_engine", lambda job: pytest.fail("a failed job must not run"))
    assert services.creation_job_run(job_id=job.pk).status == CreationJob.Status.FAILED
    assert _outputs(privacy_dir) == [] and not RegisterEntry.objects.exists()


def test_a_cancelled_contract_refuses_links_and_downloads_whatever_the_status_says(
    two_municipalities, privacy_dir
):
    """A proposal left CREATED with a cancelled contract (what the defect produced): no link, no download."""
    town, _other = two_municipalities
    proposal = _contracted(town)
    job = services.creation_job_queue(proposal=proposal, actor=None, k=2)
    assert services.creation_job_run(job_id=job.pk).status == CreationJob.Status.DONE
    _provision, token = services.provision_issue(proposal=proposal, actor=UserFactory(), days=7)
    Contract.objects.filter(proposal=proposal).update(cancelled_on=timezone.localdate() - timedelta(days=1),
                                                      cancellation_ground="breach")  # fmt: skip
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.CREATED
    with pytest.raises(services.PrivacyError) as exc:
        services.provision_download(token=token, user=proposal.user)
    assert exc.value.code == "cancelled"
    assert AuditRecord.objects.get(action="privacy.download_refused").details["reason"] == "cancelled"
    with pytest.raises(services.PrivacyError) as exc:
        services.provision_issue(proposal=proposal, actor=UserFactory(), days=7)
    assert exc.value.code == "cancelled"
    assert RegisterEntry.objects.get(proposal=proposal).provided_on is None


# --- 2. the job form's parameter errors are on their fields, with the values kept --------------------------------
def _staff_page(town, proposal) -> tuple[Client, str]:
    staff = Client()
    sign_in_staff(staff, StaffRoleFactory(municipality=town, role=StaffRole.Role.REVIEWER).user)
    return staff, reverse("privacy_staff:proposal", args=[town.code, proposal.reference])


def _input(html: str, name: str) -> str:
    found = re.search(rf'<(?:input|select)\b[^>]*\bname="{name}"[^>]*>', html)
    assert found, name
    return found.group(0)


def test_a_job_parameter_error_is_on_its_field_and_the_values_are_kept(two_municipalities, privacy_dir):
    town, _other = two_municipalities
    proposal = _proposal(town, _file(town, data=DATA))  # no sensitive item: t cannot be used
    staff, page = _staff_page(town, proposal)
    response = staff.post(
        page, {"action": "create", "k": "7", "suppression": "3", "t": "0.2", "metric": "loss"}
    )
    assert response.status_code == 200 and not CreationJob.objects.exists()
    html = response.content.decode()
    errors = response.context["job_form"].errors
    assert list(errors) == ["t"] and errors["t"]
    assert 'id="id_t_error"' in html
    t_input = _input(html, "t")
    assert (
        'value="0.2"' in t_input
        and 'aria-describedby="id_t_error"' in t_input
        and 'aria-invalid="true"' in t_input
    )
    assert 'value="7"' in _input(html, "k") and 'value="3"' in _input(html, "suppression")
    assert re.search(r'<option value="loss"[^>]*selected', html)


def test_a_hierarchical_t_without_a_hierarchy_is_on_the_distance_field(two_municipalities, privacy_dir):
    town, _other = two_municipalities
    items = [{"name": "age", "role": "quasi_identifier"}, {"name": "sex", "role": "quasi_identifier"},
             {"name": "note", "role": "sensitive"}]  # fmt: skip
    proposal = _proposal(town, _file(town, items=items, data=DATA))
    staff, page = _staff_page(town, proposal)
    response = staff.post(page, {"action": "create", "k": "2", "suppression": "0", "t": "0.4",
                                 "t_measure": "hierarchical"})  # fmt: skip
    assert response.status_code == 200 and not CreationJob.objects.exists()
    assert list(response.context["job_form"].errors) == ["t_measure"]
    assert 'aria-describedby="id_t_measure_error"' in _input(response.content.decode(), "t_measure")


def test_an_error_about_the_proposal_stays_a_message_on_the_page(two_municipalities, privacy_dir):
    town, _other = two_municipalities
    proposal = _proposal(town, _file(town, data=DATA))
    services.creation_job_queue(proposal=proposal, actor=None, k=2)  # queued, not run: the next one is "busy"
    staff, page = _staff_page(town, proposal)
    response = staff.post(page, {"action": "create", "k": "2", "suppression": "0"})
    assert response.status_code == 302 and CreationJob.objects.count() == 1


# --- 3. the number of persons is checked again when a job is queued -------------------------------------------
def test_a_job_is_not_queued_when_a_re_upload_left_too_few_persons(two_municipalities, privacy_dir, settings):
    town, _other = two_municipalities
    settings.PRIVACY_MIN_PERSONS = 40
    file = _file(town, data=DATA)  # 40 records: the proposal was accepted with them
    proposal = _proposal(town, file)
    assert services.persons_problem(proposal) is None
    services.file_upload_data(file=file, actor=None, data=("age,sex,note\n" + _rows(30)).encode())
    proposal.refresh_from_db()
    with pytest.raises(services.PrivacyError) as exc:
        services.creation_job_queue(proposal=proposal, actor=None, k=2)
    assert exc.value.code == "persons" and "30" in exc.value.message and "40" in exc.value.message
    assert not CreationJob.objects.exists()
    services.file_upload_data(file=file, actor=None, data=DATA.encode())
    proposal.refresh_from_db()
    assert services.creation_job_queue(proposal=proposal, actor=None, k=2).status == CreationJob.Status.QUEUED
