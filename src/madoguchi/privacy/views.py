"""Public pages of the privacy workflow: a municipality's proposal calls (提案募集), the public registers
(個人情報ファイル簿 / 行政機関等匿名加工情報ファイル簿), a business's proposal (GビズID), its status, and the
expiring download of what was provided."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from madoguchi.identity.models import BusinessAccount
from madoguchi.privacy import participation, selectors, services
from madoguchi.privacy.forms import ExistingProposalForm, ProposalForm
from madoguchi.privacy.models import Proposal, ProposalCall
from madoguchi.privacy.notices import notice_pdf


def _account(request: HttpRequest) -> BusinessAccount | None:
    if not request.user.is_authenticated:
        return None
    return BusinessAccount.objects.select_related("business", "user").filter(user=request.user).first()


def _sign_in(request: HttpRequest) -> HttpResponse:
    return redirect(reverse("business:sign_in") + "?next=" + request.path)


def _not_participating(request: HttpRequest) -> HttpResponse:
    """A proposal page of a municipality that takes no proposals (participation.py): what and why, 404."""
    return render(request, "privacy/not_participating.html", {
        "municipality": request.municipality,
        "message": services.not_participating_message(request.municipality),
    }, status=404)  # fmt: skip


def calls(request: HttpRequest, municipality_code: str) -> HttpResponse:
    """The open calls; a municipality that takes no proposals says so instead of listing any."""
    municipality = request.municipality
    takes = participation.participates(municipality)
    return render(request, "privacy/calls.html", {
        "municipality": municipality, "participates": takes,
        "calls": selectors.calls_of(municipality, open_only=True) if takes else [],
        "not_participating": "" if takes else services.not_participating_message(municipality),
    })  # fmt: skip


def register(request: HttpRequest, municipality_code: str) -> HttpResponse:
    """The public registers, published by every body whether or not it takes proposals (法第75条); the 第118条
    proposal links only where it does."""
    municipality = request.municipality
    takes = participation.participates(municipality)
    return render(request, "privacy/register.html", {
        "municipality": municipality, "files": selectors.files_of(municipality),
        "entries": selectors.register_of(municipality), "participates": takes,
        "not_participating": "" if takes else services.not_participating_message(municipality),
        "proposable": set(services.existing_entries(municipality).values_list("pk", flat=True)) if takes else set(),
    })  # fmt: skip


@never_cache
@require_http_methods(["GET", "POST"])
def propose_existing(request: HttpRequest, municipality_code: str, pk: int) -> HttpResponse:
    """A proposal to use anonymized information already created and in the register (法第118条)."""
    if not participation.participates(request.municipality):
        return _not_participating(request)
    entry = services.existing_entries(request.municipality).filter(pk=pk).first()
    if entry is None:
        raise Http404(_("This anonymized information cannot be proposed for use."))
    account = _account(request)
    if account is None:
        return _sign_in(request)
    form = ExistingProposalForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            proposal = services.proposal_submit_existing(
                entry=entry, account=account, purpose=d["purpose"], safeguards=d["safeguards"],
                period_months=d["period_months"], declarations=form.declarations(),
            )  # fmt: skip
        except services.PrivacyError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Proposal %(ref)s was sent.") % {"ref": proposal.reference})
            return redirect("privacy:mine_detail", reference=proposal.reference)
    return render(request, "privacy/propose_existing.html",
                  {"entry": entry, "form": form, "municipality": request.municipality})  # fmt: skip


@never_cache
@require_http_methods(["GET", "POST"])
def propose(request: HttpRequest, municipality_code: str, pk: int) -> HttpResponse:
    call = get_object_or_404(ProposalCall, pk=pk, municipality=request.municipality)
    if not participation.participates(request.municipality):
        return _not_participating(request)
    if not services.call_is_open(call):
        raise Http404(_("This call is not open."))
    account = _account(request)
    if account is None:
        return _sign_in(request)
    form = ProposalForm(request.POST or None, call=call)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            proposal = services.proposal_submit(
                call=call, file=d["file"], account=account, purpose=d["purpose"], items_wanted=d["items_wanted"],
                processing_method=d["processing_method"], safeguards=d["safeguards"],
                period_months=d["period_months"], declarations=form.declarations(),
            )  # fmt: skip
        except services.PrivacyError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Proposal %(ref)s was sent.") % {"ref": proposal.reference})
            return redirect("privacy:mine_detail", reference=proposal.reference)
    return render(
        request, "privacy/propose.html", {"call": call, "form": form, "municipality": call.municipality}
    )


def _mine(request: HttpRequest, reference: str) -> Proposal:
    if _account(request) is None:
        raise PermissionDenied
    proposal = get_object_or_404(Proposal.objects.select_related("call__municipality", "file", "business"),
                                 reference=reference)  # fmt: skip
    if not services.may_act_for(proposal, request.user):
        raise Http404
    return proposal


@never_cache
def mine(request: HttpRequest) -> HttpResponse:
    account = _account(request)
    if account is None:
        return _sign_in(request)
    found = Proposal.objects.filter(business=account.business).select_related("call__municipality", "file")
    return render(request, "privacy/mine.html", {"proposals": found})


@never_cache
@require_http_methods(["GET", "POST"])
def mine_detail(request: HttpRequest, reference: str) -> HttpResponse:
    proposal = _mine(request, reference)
    if request.method == "POST" and request.POST.get("action") == "withdraw":
        try:
            services.proposal_withdraw(proposal=proposal, user=request.user)
        except services.PrivacyError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The proposal was withdrawn."))
        return redirect("privacy:mine_detail", reference=reference)
    contract = getattr(proposal, "contract", None)
    return render(request, "privacy/mine_detail.html", {"proposal": proposal, "contract": contract})


@never_cache
def notice(request: HttpRequest, reference: str) -> HttpResponse:
    proposal = _mine(request, reference)
    try:
        data = notice_pdf(proposal)
    except ValueError:
        raise Http404(_("There is no notice yet.")) from None
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="notice-{proposal.reference}.pdf"'
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def download(request: HttpRequest, token: str) -> HttpResponse:
    """The provision link: only the business it was issued to, before it expires, up to its download limit,
    within the contract's period of use. A GET only shows what the link gives and a button: the download (and
    its count) is the POST of that form (CSRF-protected), so that a mail or link scanner opening the link
    uses nothing up."""
    if _account(request) is None:
        return _sign_in(request)
    if request.method == "GET":
        try:
            provision = services.provision_for(token=token, user=request.user)
        except services.PrivacyError as exc:
            return render(request, "privacy/download_refused.html", {"message": exc.message}, status=404)
        refusal = services.provision_refusal(provision, provision.proposal, timezone.now())
        if refusal is not None:
            return render(request, "privacy/download_refused.html", {"message": refusal.message}, status=410)
        return render(request, "privacy/download_confirm.html", {
            "provision": provision, "proposal": provision.proposal,
            "remaining": provision.max_downloads - provision.downloads,
            "period_last_day": services.contract_period_last_day(provision.proposal),
        })  # fmt: skip
    try:
        provision, path = services.provision_download(token=token, user=request.user)
    except services.PrivacyError as exc:
        status = 404 if exc.code == "not_found" else 410
        return render(request, "privacy/download_refused.html", {"message": exc.message}, status=status)
    filename = f"anonymized-{provision.proposal.reference}.csv"
    return FileResponse(path.open("rb"), as_attachment=True, filename=filename, content_type="text/csv")
