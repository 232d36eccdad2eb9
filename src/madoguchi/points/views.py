"""マイナポイント pages.

- Residents (/points/…): the open campaigns and where they stand, 予約, 申込み, my points and its CSV; the
  legal representative's application for a child under 15 with the child's card (/points/<code>/apply-for-child/).
- The municipal desk (/<code>/staff/desk/points/…): the same reservation and application done by a clerk for
  the resident identified in desk mode, with a confirmation step that shows the 決済サービスID back before
  the final submission (32 of the 172 wrong-person grants came from a mistyped ID); and that resident's
  points and history, each viewing recorded against the clerk and the resident.
- Payment providers (/points/provider/upload/): a CSV of transactions or refunds, authenticated by API key.

Writes go through points.services only; reads through points.selectors.
"""

import csv
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from madoguchi.identity import card_simulator, decorators, desk, resident_services
from madoguchi.points import selectors, services
from madoguchi.points.forms import REFUNDS, ApplicationForm, ChildCardForm, ProviderUploadForm
from madoguchi.points.models import Campaign
from madoguchi.points.services import ChildIdentity, PointsError

HISTORY_PER_PAGE = 20
# The desk's entries between the form and the final submission, bound to one desk session and resident.
PENDING_KEY = desk.DESK_SCOPED_PREFIX + "points_pending"  # dropped on "next resident"
PENDING_MAX_AGE_SECONDS = 15 * 60
# The child a representative identified with the child's card, until the application (or a short while).
CHILD_KEY = "points_child"
# At the desk: the child identified for the resident being served, and the child's entries awaiting the check.
DESK_CHILD_KEY = desk.DESK_SCOPED_PREFIX + "points_child"
CHILD_MAX_AGE_SECONDS = 15 * 60


class _Echo:
    def write(self, value):
        return value


def _csv_cell(value):
    """Text that a spreadsheet would run as a formula is written as text (a provider sets its own ids)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _campaign_or_404(code: str) -> Campaign:
    campaign = selectors.campaign_by_code(code)
    if campaign is None:
        raise Http404(_("There is no campaign with the code %(code)s.") % {"code": code})
    return campaign


def _application_form(campaign: Campaign, data=None, initial=None) -> ApplicationForm:
    providers = selectors.eligible_providers(campaign)
    return ApplicationForm(
        data, initial=initial, providers=providers, modes=selectors.eligible_modes(campaign, providers)
    )


# --- Residents ---------------------------------------------------------------------------------------------
def resident_required(view):
    """A resident signed in with the card; anonymous → card sign-in, any other user → 403 with a message."""

    @wraps(view)
    @login_required(login_url="web:resident_sign_in")
    @never_cache
    def wrapped(request: HttpRequest, *args, **kwargs):
        resident = getattr(request.user, "resident", None)
        if resident is None:
            raise PermissionDenied(_("This page is for residents signed in with their My Number Card."))
        request.resident = resident
        return view(request, *args, **kwargs)

    return wrapped


@resident_required
def index(request: HttpRequest) -> HttpResponse:
    resident = request.resident
    return render(
        request,
        "points/index.html",
        {"resident": resident, "statuses": selectors.campaign_statuses(resident)},
    )


@resident_required
@require_POST
def reserve(request: HttpRequest, code: str) -> HttpResponse:
    campaign = _campaign_or_404(code)
    try:
        services.reservation_create(resident=request.resident, campaign=campaign, actor=request.user)
    except PointsError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("You have reserved for %(campaign)s. Next, apply with one payment service.")
            % {"campaign": campaign.name},
        )
    return redirect("points:index")


@resident_required
def apply(request: HttpRequest, code: str) -> HttpResponse:
    campaign = _campaign_or_404(code)
    status = selectors.campaign_status(request.resident, campaign)
    if status.application is not None:
        return redirect("points:applied", campaign.code)
    form = _application_form(campaign, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.application_submit(
                resident=request.resident,
                campaign=campaign,
                request=form.application_request(),
                actor=request.user,
            )
        except PointsError as exc:
            form.add_refusal(exc)
        else:
            return redirect("points:applied", campaign.code)
    return render(request, "points/apply.html", {"campaign": campaign, "status": status, "form": form})


@resident_required
def applied(request: HttpRequest, code: str) -> HttpResponse:
    campaign = _campaign_or_404(code)
    status = selectors.campaign_status(request.resident, campaign)
    if status.application is None:
        return redirect("points:apply", campaign.code)
    return render(request, "points/applied.html", {"campaign": campaign, "application": status.application})


def _points_of(request: HttpRequest, resident, not_found: str) -> dict:
    """What "My points" shows of `resident`: each application's service, mode, points so far and headroom,
    then those the resident made for their children as legal representative, and the history of the one
    chosen with ?application= (the first by default; any other resident's is `not_found`, a 404)."""
    summaries = selectors.resident_point_summaries(resident)
    children = selectors.represented_point_summaries(resident)
    everything = summaries + children
    selected = everything[0] if everything else None
    wanted = request.GET.get("application")
    if wanted:
        selected = next((s for s in everything if str(s.application.pk) == wanted), None)
        if selected is None:
            raise Http404(not_found)
    page = None
    if selected is not None:
        page = Paginator(selectors.account_history(selected.application), HISTORY_PER_PAGE).get_page(
            request.GET.get("page")
        )
    return {"summaries": summaries, "children": children, "selected": selected, "page": page,
            "several": len(everything) > 1, "selected_for_child": selected in children}  # fmt: skip


@resident_required
def mine(request: HttpRequest) -> HttpResponse:
    """My points: each application's service, mode, points so far and headroom, then those the resident made
    for their children as legal representative; one application's history."""
    context = _points_of(request, request.resident, _("There is no such application of yours."))
    return render(request, "points/mine.html", context)


@resident_required
def mine_csv(request: HttpRequest, application_id: int) -> StreamingHttpResponse:
    """The history of one application as CSV (UTF-8 with BOM so that Excel reads the Japanese)."""
    application = selectors.visible_application(request.resident, application_id)
    if application is None:
        raise Http404(_("There is no such application of yours."))
    history = selectors.account_history(application)
    header = [
        _("Recorded at"),
        _("Kind"),
        _("Amount (yen)"),
        _("Points"),
        _("Headroom after"),
        _("Status"),
        _("Transaction ID of the payment service"),
        _("Date of the charge or purchase"),
    ]
    grant, clawback = _("grant"), _("clawback")
    writer = csv.writer(_Echo())

    def rows():
        yield "\ufeff"
        yield writer.writerow(header)
        for tx in history.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    timezone.localtime(tx.recorded_at).isoformat(timespec="seconds"),
                    grant if tx.points > 0 else clawback,
                    tx.amount,
                    tx.points,
                    tx.remaining,
                    tx.get_status_display(),
                    _csv_cell(tx.external_id),
                    timezone.localtime(tx.occurred_at).isoformat(timespec="seconds")
                    if tx.occurred_at
                    else "",
                ]
            )

    filename = f"mynapoint-{application.campaign.code}-{timezone.localdate():%Y%m%d}.csv"
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- A child under 15, applied for by the legal representative ---------------------------------------------
def _child_identity(request: HttpRequest, campaign: Campaign) -> ChildIdentity | None:
    """The child identified on this page, only for this representative and campaign, and recently."""
    stored = request.session.get(CHILD_KEY)
    if not stored:
        return None
    fresh = timezone.now().timestamp() - stored.get("at", 0) <= CHILD_MAX_AGE_SECONDS
    if (
        fresh
        and stored.get("campaign") == campaign.code
        and stored.get("identity", {}).get("representative") == request.resident.pk
    ):
        return ChildIdentity.from_session(stored["identity"])
    request.session.pop(CHILD_KEY, None)
    return None


def _identify_child_with_simulator(
    request: HttpRequest, form: ChildCardForm, *, representative=None, desk_session=None
) -> ChildIdentity | None:
    """The card simulator's stand-in for a card reader: the child's card answers a challenge under its PIN and
    signs the statement under its signing password. The representative stays signed in: the child's sign-in
    result only names the child to points.services.child_identify, it never becomes this browser's login.
    At the desk the representative is the resident being served and the clerk is the actor."""
    representative = representative or request.resident
    card = form.cleaned_data["card"]
    password = form.cleaned_data["password"]
    try:
        child = card_simulator.sign_in(card=card, pin=form.cleaned_data["pin"]).resident
        services.child_check_card(representative=representative, child=child)
        signature = card_simulator.sign_document(
            card=card, password=password,
            content=services.child_statement(representative=representative, child=child),
        )  # fmt: skip
        mykey_signature = None
        if not child.mykey_id:
            mykey_signature = card_simulator.sign_document(
                card=card, password=password, content=resident_services.mykey_statement(child)
            )
        return services.child_identify(representative=representative, child=child, signature=signature,
                                       mykey_signature=mykey_signature, actor=request.user,
                                       desk=desk_session)  # fmt: skip
    except (resident_services.SignInRefused, card_simulator.SimulatorError, PointsError) as exc:
        form.add_refusal(exc.code, exc.message)
    return None


@resident_required
def apply_for_child(request: HttpRequest, code: str) -> HttpResponse:
    """The legal representative (signed in with their own card) applies for a child under 15: first the
    child's card (which also sets up the child's MyKey ID), then the reservation if the campaign needs one,
    then the application with an account of the child's own."""
    campaign = _campaign_or_404(code)
    here = reverse("points:apply_for_child", args=[campaign.code])
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "forget":
        request.session.pop(CHILD_KEY, None)
        return redirect(here)
    identity = _child_identity(request, campaign)
    if identity is None:
        cards = card_simulator.demo_cards()
        form = ChildCardForm(request.POST if action == "identify" else None, cards=cards)
        if action == "identify" and form.is_valid():
            identity = _identify_child_with_simulator(request, form)
            if identity is not None:
                request.session[CHILD_KEY] = {"campaign": campaign.code, "at": timezone.now().timestamp(),
                                              "identity": identity.as_session()}  # fmt: skip
                messages.success(request, _("Your child's card has been read."))
                return redirect(here)
        return render(request, "points/child_card.html",
                      {"campaign": campaign, "form": form, "simulator": card_simulator.enabled()})  # fmt: skip

    child = selectors.child_resident(identity.child_id)
    status = selectors.campaign_status(child, campaign)
    form = None
    if action == "reserve":
        try:
            services.child_reserve(representative=request.resident, identity=identity, campaign=campaign,
                                   actor=request.user)  # fmt: skip
        except PointsError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, _("You have reserved for your child. Next, apply with one payment service.")
            )
        return redirect(here)
    if status.can_apply:
        form = _application_form(campaign, request.POST if action == "apply" else None)
        if action == "apply" and form.is_valid():
            try:
                application = services.child_application_submit(
                    representative=request.resident, identity=identity, campaign=campaign,
                    request=form.application_request(), actor=request.user,
                )  # fmt: skip
            except PointsError as exc:
                form.add_refusal(exc)
            else:
                request.session.pop(CHILD_KEY, None)
                messages.success(request, _("The application for your child has been accepted. Reference number "
                                            "%(ref)s.") % {"ref": application.pk})  # fmt: skip
                return redirect(reverse("points:mine") + f"?application={application.pk}")
    return render(
        request,
        "points/apply_for_child.html",
        {"campaign": campaign, "identity": identity, "age": identity.age(), "child": child, "status": status,
         "form": form, "representative": request.resident},
    )  # fmt: skip


# --- Payment providers -------------------------------------------------------------------------------------
RESULT_COLUMNS = ["line", "id", "status", "granted", "remaining", "message"]


@never_cache
def provider_upload(request: HttpRequest) -> HttpResponse:
    """A provider's CSV upload with its API key; the answer is a CSV of each row's outcome.

    A broken line is answered `invalid` with its line number and never stops the others. The same file again
    grants nothing twice: points.services answers a known id with its first answer.
    """
    if request.method != "POST":
        return render(request, "points/provider_upload.html", {"form": ProviderUploadForm()})
    form = ProviderUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "points/provider_upload.html", {"form": form}, status=400)
    kind, rows = form.cleaned_data["kind"], form.cleaned_data["rows"]
    record = services.refunds_record if kind == REFUNDS else services.transactions_record
    sendable = [row for row in rows if row.item is not None]
    answers = {}
    if sendable:
        try:
            results = record(provider=form.provider, items=[row.item for row in sendable])
        except PointsError as exc:
            form.add_error(None, exc.message)
            return render(request, "points/provider_upload.html", {"form": form}, status=400)
        answers = {row.line: result for row, result in zip(sendable, results, strict=True)}

    writer = csv.writer(_Echo())
    lines = [writer.writerow(RESULT_COLUMNS)]
    for row in rows:
        result = answers.get(row.line)
        if result is None:
            lines.append(writer.writerow([row.line, _csv_cell(row.id), "invalid", 0, 0, row.problem]))
        else:
            lines.append(
                writer.writerow(
                    [row.line, _csv_cell(result.id), result.status, result.granted, result.remaining,
                     _csv_cell(result.message)]
                )
            )  # fmt: skip
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response = HttpResponse("".join(lines), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{form.provider.code}-{kind}-results-{stamp}.csv"'
    )
    return response


# --- The municipal desk ------------------------------------------------------------------------------------
desk_resident_required = decorators.desk_resident_required("points/desk/refused.html")


def _desk_context(request: HttpRequest, **extra) -> dict:
    return {"municipality": request.municipality, "desk": request.desk, "resident": request.desk.resident,
            **extra}  # fmt: skip


@desk_resident_required
def desk_index(request: HttpRequest, municipality_code: str) -> HttpResponse:
    statuses = selectors.campaign_statuses(request.desk.resident)
    return render(request, "points/desk/index.html", _desk_context(request, statuses=statuses))


@desk_resident_required
@require_POST
def desk_reserve(request: HttpRequest, municipality_code: str, code: str) -> HttpResponse:
    campaign = _campaign_or_404(code)
    try:
        services.reservation_create(
            resident=request.desk.resident, campaign=campaign, actor=request.user, desk=request.desk
        )
    except PointsError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Reserved for %(campaign)s.") % {"campaign": campaign.name})
    return redirect("points_desk:index", request.municipality.code)


def _pending(request: HttpRequest, campaign: Campaign) -> dict | None:
    """The entries waiting for confirmation, only if made in this desk session for this resident and
    campaign, and recently; any other is dropped (it belongs to a resident no longer being served)."""
    pending = request.session.get(PENDING_KEY)
    if not pending:
        return None
    fresh = timezone.now().timestamp() - pending.get("at", 0) <= PENDING_MAX_AGE_SECONDS
    if (
        fresh
        and pending.get("desk") == request.desk.pk
        and pending.get("resident") == request.desk.resident_id
        and pending.get("campaign") == campaign.code
    ):
        return pending["data"]
    request.session.pop(PENDING_KEY, None)
    return None


@desk_resident_required
def desk_apply(request: HttpRequest, municipality_code: str, code: str) -> HttpResponse:
    """Step 1: the clerk fills in the application with the resident; next comes the confirmation."""
    campaign = _campaign_or_404(code)
    status = selectors.campaign_status(request.desk.resident, campaign)
    if status.application is not None:
        return redirect("points_desk:applied", request.municipality.code, campaign.code)
    if request.method == "POST":
        form = _application_form(campaign, request.POST)
        # Not open, or not reserved yet: the page says why instead of taking entries to the confirmation.
        if status.can_apply and form.is_valid():
            request.session[PENDING_KEY] = {
                "desk": request.desk.pk, "resident": request.desk.resident_id, "campaign": campaign.code,
                "at": timezone.now().timestamp(), "data": form.pending_data(),
            }  # fmt: skip
            return redirect("points_desk:confirm", request.municipality.code, campaign.code)
    else:
        pending = _pending(request, campaign)
        initial = {k: v for k, v in (pending or {}).items() if k not in ("security_code", "acknowledge")}
        form = _application_form(campaign, initial=initial)
    return render(request, "points/desk/apply.html",
                  _desk_context(request, campaign=campaign, status=status, form=form))  # fmt: skip


@desk_resident_required
def desk_confirm(request: HttpRequest, municipality_code: str, code: str) -> HttpResponse:
    """Step 2: the 決済サービスID is shown back, large, for the resident to check; then the final submission."""
    campaign = _campaign_or_404(code)
    pending = _pending(request, campaign)
    apply_url = reverse("points_desk:apply", args=[request.municipality.code, campaign.code])
    if pending is None:
        messages.warning(request, _("Fill in the application first."))
        return redirect(apply_url)
    status = selectors.campaign_status(request.desk.resident, campaign)
    if not status.can_apply:
        return redirect(apply_url)  # which says why (applied already, not reserved, not open)
    form = _application_form(campaign, pending)
    if not form.is_valid():  # e.g. the service left the campaign meanwhile: back to the form, with the reason
        return render(request, "points/desk/apply.html",
                      _desk_context(request, campaign=campaign, status=status, form=form))  # fmt: skip
    if request.method == "POST":
        request.session.pop(PENDING_KEY, None)
        try:
            services.application_submit(
                resident=request.desk.resident,
                campaign=campaign,
                request=form.application_request(),
                actor=request.user,
                desk=request.desk,
            )
        except PointsError as exc:
            form.add_refusal(exc)
            return render(request, "points/desk/apply.html",
                          _desk_context(request, campaign=campaign, status=status, form=form))  # fmt: skip
        return redirect("points_desk:applied", request.municipality.code, campaign.code)
    account = form.cleaned_data["service_account"]
    return render(
        request,
        "points/desk/confirm.html",
        _desk_context(request, campaign=campaign, form=form, account=account, account_length=len(account),
                      provider=form.cleaned_data["provider"],
                      mode_label=dict(form.fields["mode"].choices).get(form.cleaned_data["mode"]),
                      apply_url=apply_url),
    )  # fmt: skip


@desk_resident_required
def desk_applied(request: HttpRequest, municipality_code: str, code: str) -> HttpResponse:
    campaign = _campaign_or_404(code)
    status = selectors.campaign_status(request.desk.resident, campaign)
    if status.application is None:
        return redirect("points_desk:apply", request.municipality.code, campaign.code)
    return render(request, "points/desk/applied.html",
                  _desk_context(request, campaign=campaign, application=status.application))  # fmt: skip


@desk_resident_required
def desk_mine(request: HttpRequest, municipality_code: str) -> HttpResponse:
    """The resident's "My points" at the desk, for the clerk to show the resident being served: the same
    summaries and history as the resident's own page (no CSV: nothing is saved on the desk's terminal).
    Whose points these are comes only from the desk session (the resident who identified with their card at
    this municipality's desk), never from the URL. Each viewing is recorded with `desk_record`: the clerk,
    the resident, the desk session and which application's history was shown."""
    context = _points_of(
        request, request.desk.resident, _("The resident being served has no such application.")
    )
    selected, page = context["selected"], context["page"]
    desk.desk_record(
        request=request, action="points.desk_points_read",
        target=selected.application if selected is not None else None,
        details={"applications": [s.application.pk for s in context["summaries"] + context["children"]],
                 "page": page.number if page is not None else None},
    )  # fmt: skip
    return render(request, "points/desk/mine.html", _desk_context(request, **context))


# --- The desk: a legal representative applies for a child under 15 ------------------------------------------
def _desk_child(request: HttpRequest, campaign: Campaign) -> dict:
    """What this desk session holds for a child and this campaign (identity, pending entries), if it was made
    for the resident being served, recently; anything else is dropped."""
    stored = request.session.get(DESK_CHILD_KEY) or {}
    fresh = timezone.now().timestamp() - stored.get("at", 0) <= CHILD_MAX_AGE_SECONDS
    if (
        fresh
        and stored.get("desk") == request.desk.pk
        and stored.get("campaign") == campaign.code
        and stored.get("identity", {}).get("representative") == request.desk.resident_id
    ):
        return stored
    request.session.pop(DESK_CHILD_KEY, None)
    return {}


@desk_resident_required
def desk_child(request: HttpRequest, municipality_code: str, code: str) -> HttpResponse:
    """The resident being served applies, as legal representative, for a child under 15 at the desk: the
    child's card is read (the same checks as online: age from the verified signing certificate, the
    representative's own card refused), then the reservation if needed, the application, and a check of the
    child's 決済サービスID before it is sent. Everything is recorded with the desk session and the clerk."""
    campaign = _campaign_or_404(code)
    representative = request.desk.resident
    here = reverse("points_desk:child", args=[request.municipality.code, campaign.code])
    action = request.POST.get("action") if request.method == "POST" else None
    stored = _desk_child(request, campaign)
    if action == "forget":
        request.session.pop(DESK_CHILD_KEY, None)
        return redirect(here)
    context = _desk_context(request, campaign=campaign, simulator=card_simulator.enabled())
    if not stored:
        form = ChildCardForm(
            request.POST if action == "identify" else None, cards=card_simulator.demo_cards()
        )
        if action == "identify" and form.is_valid():
            identity = _identify_child_with_simulator(
                request, form, representative=representative, desk_session=request.desk
            )
            if identity is not None:
                request.session[DESK_CHILD_KEY] = {
                    "desk": request.desk.pk, "campaign": campaign.code, "at": timezone.now().timestamp(),
                    "identity": identity.as_session(),
                }  # fmt: skip
                messages.success(request, _("The child's card has been read."))
                return redirect(here)
        return render(request, "points/desk/child.html", {**context, "card_form": form})

    identity = ChildIdentity.from_session(stored["identity"])
    child = selectors.child_resident(identity.child_id)
    status = selectors.campaign_status(child, campaign)
    context.update(identity=identity, child=child, age=identity.age(), status=status)
    if action == "reserve":
        try:
            services.child_reserve(representative=representative, identity=identity, campaign=campaign,
                                   actor=request.user, desk=request.desk)  # fmt: skip
        except PointsError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Reserved for the child. Next, apply with one payment service."))
        return redirect(here)
    if not status.can_apply:
        return render(request, "points/desk/child.html", context)
    if action == "submit" and stored.get("pending"):
        form = _application_form(campaign, stored["pending"])
        if form.is_valid():
            try:
                application = services.child_application_submit(
                    representative=representative, identity=identity, campaign=campaign,
                    request=form.application_request(), actor=request.user, desk=request.desk,
                )  # fmt: skip
            except PointsError as exc:
                form.add_refusal(exc)
            else:
                request.session.pop(DESK_CHILD_KEY, None)
                messages.success(request, _("The application for the child has been accepted. Reference number "
                                            "%(ref)s.") % {"ref": application.pk})  # fmt: skip
                return redirect("points_desk:index", request.municipality.code)
        stored.pop("pending", None)
        request.session[DESK_CHILD_KEY] = stored
        return render(request, "points/desk/child.html", {**context, "form": form})
    if action == "apply":
        form = _application_form(campaign, request.POST)
        if form.is_valid():
            stored["pending"] = form.pending_data()
            request.session[DESK_CHILD_KEY] = stored
            account = form.cleaned_data["service_account"]
            return render(request, "points/desk/child.html", {
                **context, "confirm": True, "account": account, "account_length": len(account),
                "provider": form.cleaned_data["provider"],
                "mode_label": dict(form.fields["mode"].choices).get(form.cleaned_data["mode"]),
            })  # fmt: skip
    else:
        initial = {
            k: v
            for k, v in (stored.get("pending") or {}).items()
            if k not in ("security_code", "acknowledge")
        }
        form = _application_form(campaign, initial=initial)
    return render(request, "points/desk/child.html", {**context, "form": form})
