"""Desk mode (窓口モード) for shared municipal terminals.

A clerk starts a desk session, the resident identifies with their card, every action in between is recorded
against both (`desk_record`), and "next resident" ends it. A session also ends when the clerk signs out or
after settings.DESK_IDLE_SECONDS without a request, so nothing can be done under the previous resident's
identity: DOMAIN.md §2, 136 of 172 wrong-person incidents came from a terminal left signed in.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from madoguchi.core import audit
from madoguchi.core.models import Municipality
from madoguchi.identity.models import DeskSession, Resident, User

SESSION_KEY = "madoguchi_desk_session"
# Session keys with this prefix belong to the resident being served and are dropped on "next resident".
DESK_SCOPED_PREFIX = "madoguchi_desk_scoped:"
# Refresh last_activity_at at most this often: one UPDATE per request would be wasteful at a busy desk.
_TOUCH_EVERY = timedelta(seconds=15)


class DeskError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _end(desk: DeskSession, reason: str, actor) -> bool:
    ended = DeskSession.objects.filter(pk=desk.pk, ended_at__isnull=True).update(
        ended_at=timezone.now(), end_reason=reason
    )
    if ended:
        audit.record(actor=actor, action="identity.desk_end", target=desk, municipality=desk.municipality,
                     details={"reason": reason, "resident": desk.resident_id})  # fmt: skip
    return bool(ended)


@transaction.atomic
def desk_start(*, request, clerk: User, municipality: Municipality) -> DeskSession:
    """Open a new desk session for the next resident; any session the clerk still had open is ended."""
    for open_desk in DeskSession.objects.select_for_update().filter(clerk=clerk, ended_at__isnull=True):
        _end(open_desk, DeskSession.EndReason.REPLACED, clerk)
    desk = DeskSession.objects.create(municipality=municipality, clerk=clerk, last_activity_at=timezone.now())
    audit.record(actor=clerk, action="identity.desk_start", target=desk, municipality=municipality)
    request.session[SESSION_KEY] = desk.pk
    request.desk = desk
    return desk


@transaction.atomic
def desk_identify(*, desk: DeskSession, resident: Resident, clerk: User) -> DeskSession:
    """Bind the resident who just identified with their card to this (open, still empty) session."""
    desk = DeskSession.objects.select_for_update().get(pk=desk.pk)
    if desk.ended_at is not None:
        raise DeskError(
            "desk_ended", _("This desk session has ended. Start a new one for the next resident.")
        )
    if desk.resident_id is not None and desk.resident_id != resident.pk:
        raise DeskError(
            "desk_busy",
            _("This desk session already serves another resident. Press “Next resident” first."),
        )
    desk.resident = resident
    desk.identified_at = timezone.now()
    desk.save(update_fields=["resident", "identified_at"])
    audit.record(actor=clerk, action="identity.desk_identify", target=desk, municipality=desk.municipality,
                 details={"resident": resident.pk})  # fmt: skip
    return desk


def desk_next(*, request) -> None:
    """ "Next resident": end the current session and forget it in this browser."""
    desk = getattr(request, "desk", None)
    if desk is not None:
        _end(desk, DeskSession.EndReason.NEXT, request.user)
    request.session.pop(SESSION_KEY, None)
    # Anything a programme kept in the session for the resident being served goes with them.
    for key in [k for k in request.session.keys() if k.startswith(DESK_SCOPED_PREFIX)]:
        request.session.pop(key, None)
    request.desk = None


def desk_record(*, request, action: str, target=None, details: dict | None = None):
    """Audit an action done at the desk: the clerk is the actor, the resident and the session are named."""
    desk = getattr(request, "desk", None)
    if desk is None or desk.resident_id is None:
        raise DeskError("no_resident", _("No resident is being served at this desk."))
    return audit.record(
        actor=request.user, action=action, target=target, municipality=desk.municipality,
        details={**(details or {}), "desk_session": desk.pk, "resident": desk.resident_id},
    )  # fmt: skip


class DeskModeMiddleware:
    """Sets `request.desk` to the clerk's open, not idle desk session (or None), ending idle ones."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.desk = None
        desk_id = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
        if desk_id is not None and request.user.is_authenticated:
            request.desk = self._resolve(request, desk_id)
        return self.get_response(request)

    @staticmethod
    def _resolve(request, desk_id) -> DeskSession | None:
        desk = (
            DeskSession.objects.select_related("municipality", "resident")
            .filter(pk=desk_id, clerk=request.user)
            .first()
        )
        now = timezone.now()
        if desk is None or desk.ended_at is not None:
            request.session.pop(SESSION_KEY, None)
            return None
        if now - desk.last_activity_at > timedelta(seconds=settings.DESK_IDLE_SECONDS):
            _end(desk, DeskSession.EndReason.IDLE, request.user)
            request.session.pop(SESSION_KEY, None)
            messages.warning(
                request, _("The desk session ended because it was idle. Start again for the next resident.")
            )
            return None
        if now - desk.last_activity_at > _TOUCH_EVERY:
            DeskSession.objects.filter(pk=desk.pk).update(last_activity_at=now)
            desk.last_activity_at = now
        return desk


@receiver(user_logged_out)
def _end_desk_on_sign_out(sender, request, user, **kwargs):
    if user is None:
        return
    for desk in DeskSession.objects.filter(clerk=user, ended_at__isnull=True).select_related("municipality"):
        _end(desk, DeskSession.EndReason.SIGN_OUT, user)
