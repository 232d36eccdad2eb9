"""Life-event one-stop (ワンストップ): the shared questions once, then every procedure of the bundle.

1. `bundle`: the bundle's shared questions (one form), for a signed-in resident.
2. `bundle_send`: for each of the bundle's procedures that this municipality offers, the shared answers are
   mapped onto its form. A procedure whose form is then complete (and has no fee) is filed from here, signed
   one by one with the same card where required, all under one BundleFiling. A procedure that still needs
   answers (or a payment) is opened in its own flow with the shared answers already filled in.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from madoguchi.identity import card_simulator
from madoguchi.identity.resident_services import SignInRefused
from madoguchi.procedures import services
from madoguchi.procedures.answers import MyNumberUnavailable, clean, problem_message
from madoguchi.procedures.formengine import parse_definition, visible_fields
from madoguchi.procedures.forms import SignForm, StepForm
from madoguchi.procedures.models import BundleFiling, LifeEventBundle, Procedure
from madoguchi.procedures.views import FILED_SESSION_KEY, _state_key

SESSION_KEY = "procedures_bundle:{municipality}:{bundle}"


def _bundle(request: HttpRequest, code: str) -> LifeEventBundle:
    found = (
        LifeEventBundle.objects.filter(code=code, municipality=request.municipality).first()
        or LifeEventBundle.objects.filter(code=code, municipality__isnull=True).first()
    )
    if found is None:
        raise Http404(_("There is no such one-stop service."))
    return found


def _procedures(bundle: LifeEventBundle, municipality) -> list[tuple[str, Procedure | None]]:
    """(code in the bundle, this municipality's open procedure for it or None), in the bundle's order."""
    offered = {
        (p.template.code if p.template_id else p.code): p
        for p in Procedure.objects.filter(
            municipality=municipality, status=Procedure.Status.PUBLISHED
        ).select_related("template", "current_version", "municipality")
    }
    return [(code, offered.get(code)) for code in bundle.procedure_codes]


def _mapped(bundle: LifeEventBundle, code: str, shared: dict) -> dict:
    return {
        field_key: shared[shared_key]
        for field_key, shared_key in (bundle.mapping.get(code) or {}).items()
        if shared_key in shared
    }


@never_cache
@require_http_methods(["GET", "POST"])
def bundle(request: HttpRequest, municipality_code: str, bundle: str) -> HttpResponse:
    found = _bundle(request, bundle)
    if not request.user.is_authenticated:
        return redirect(f"{reverse('web:resident_sign_in')}?next={request.path}")
    definition = parse_definition(found.shared_definition)
    key = SESSION_KEY.format(municipality=municipality_code, bundle=found.code)
    answers = request.session.get(key, {})
    fields = [f for f in visible_fields(definition, answers) if f.group is None]
    form = StepForm(
        request.POST or None, definition=definition, fields=fields, page_key=None, answers=answers,
        actor=request.user, municipality=request.municipality,
    )  # fmt: skip
    if request.method == "POST":
        try:
            valid = form.is_valid()
        except MyNumberUnavailable as exc:
            messages.error(request, str(exc))
            valid = False
        if valid:
            request.session[key] = form.cleaned_answers
            return redirect("procedures:bundle_send", municipality_code=municipality_code, bundle=found.code)
    return render(
        request, "procedures/bundle.html",
        {"bundle": found, "form": form, "procedures": _procedures(found, request.municipality),
         "municipality": request.municipality},
    )  # fmt: skip


@never_cache
@require_http_methods(["GET", "POST"])
def bundle_send(request: HttpRequest, municipality_code: str, bundle: str) -> HttpResponse:
    found = _bundle(request, bundle)
    if not request.user.is_authenticated:
        return redirect(f"{reverse('web:resident_sign_in')}?next={request.path}")
    key = SESSION_KEY.format(municipality=municipality_code, bundle=found.code)
    shared = request.session.get(key)
    if shared is None:
        return redirect("procedures:bundle", municipality_code=municipality_code, bundle=found.code)
    rows = []
    for code, procedure in _procedures(found, request.municipality):
        if procedure is None:
            rows.append({"code": code, "procedure": None})
            continue
        definition = parse_definition(procedure.current_version.definition)
        answers = _mapped(found, code, shared)
        # One declaration on the send page stands for each form's own declaration box.
        declared = {
            f.key: True for f in definition.fields_in_order if f.type == "declaration" and f.group is None
        }
        cleaned, problems = clean(
            definition, {**answers, **declared}, actor=request.user, municipality=procedure.municipality
        )
        ready = not problems and not procedure.fee_yen and services.open_for_applications(procedure)
        rows.append({"code": code, "procedure": procedure, "answers": cleaned, "ready": ready,
                     "missing": [problem_message(p) for p in problems][:3]})  # fmt: skip
        # The procedure's own flow starts from the shared answers.
        state_key = _state_key(procedure)
        state = request.session.get(state_key) or {
            "version": procedure.current_version_id,
            "answers": {},
            "attachments": [],
            "groups": {},
        }
        state["answers"] = {**answers, **state["answers"]}
        request.session[state_key] = state
    form = SignForm(request.POST if request.method == "POST" else None, cards=card_simulator.demo_cards())
    ready = [r for r in rows if r.get("ready")]
    if request.method == "POST" and request.POST.get("declare") != "on":
        form.is_valid()
        form.add_error(None, _("Tick the box to declare that your answers are true."))
    elif request.method == "POST" and form.is_valid() and ready:
        filing = BundleFiling.objects.create(
            bundle=found, municipality=request.municipality, applicant=request.user
        )
        filed = request.session.get(FILED_SESSION_KEY, {})
        done = []
        for row in ready:
            procedure = row["procedure"]
            try:
                signature = None
                if procedure.signature_required:
                    content = services.canonical_for(procedure, procedure.current_version, row["answers"])
                    signature = card_simulator.sign_document(
                        card=form.cleaned_data.get("card") or "", password=form.cleaned_data.get("password") or "",
                        content=content,
                    )  # fmt: skip
                result = services.submission_file(
                    procedure=procedure, version=procedure.current_version, answers=row["answers"],
                    applicant=request.user, signature=signature, filing=filing,
                )  # fmt: skip
            except (SignInRefused, card_simulator.SimulatorError, services.ProcedureError) as exc:
                form.add_error(None, f"{procedure.name}: {exc.message}")
                break
            filed[result.submission.reference] = result.secret
            request.session.pop(_state_key(procedure), None)
            done.append(result.submission.reference)
        request.session[FILED_SESSION_KEY] = filed
        if done:
            messages.success(
                request,
                _("Sent %(count)s applications: %(refs)s") % {"count": len(done), "refs": ", ".join(done)},
            )
            return redirect("procedures:mine")
    return render(
        request, "procedures/bundle_send.html",
        {"bundle": found, "rows": rows, "form": form, "ready": ready, "municipality": request.municipality,
         "needs_signature": any(r["procedure"].signature_required for r in ready),
         "simulator": card_simulator.enabled()},
    )  # fmt: skip
