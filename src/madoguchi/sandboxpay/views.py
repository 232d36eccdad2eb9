"""The sandbox provider's side of the account-confirmation callback.

POST /sandbox-pay/<provider>/confirm with the platform's signed JSON; answers {"confirmed": true} when the
signature is right and the account exists with that security code. It speaks the real protocol, so the
platform's adapter is exercised exactly as against a real provider.

The provider's secret and the account's security code are read with one plain SELECT (this view answers every
application of a launch rush); the checks keep their order: unknown provider, bad signature, malformed body,
no such account. Cookie-less calls take the short machine-API middleware stack (core/handlers.py), and the
signature header is read from the WSGI environ (`request.headers` builds a mapping of every header first).
"""

import hmac
import json

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from madoguchi.points.models import PaymentProvider
from madoguchi.points.providers import SIGNATURE_HEADER, sign
from madoguchi.sandboxpay.models import SandboxAccount

_SIGNATURE_META = "HTTP_" + SIGNATURE_HEADER.upper().replace("-", "_")
_quote = connection.ops.quote_name
_LOOKUP = (
    f"SELECT p.callback_secret, a.security_code FROM {_quote(PaymentProvider._meta.db_table)} p "  # noqa: S608
    f"LEFT JOIN {_quote(SandboxAccount._meta.db_table)} a ON a.provider_code = p.code AND a.account = %s "
    "WHERE p.code = %s"
)


def _lookup(provider_code: str, account: str | None) -> tuple[str, str | None] | None:
    """(the provider's callback secret, the account's security code or None), or None for no such provider."""
    with connection.cursor() as cursor:
        cursor.execute(_LOOKUP, [account, provider_code])  # account None: matches no row
        return cursor.fetchone()


@csrf_exempt  # a server-to-server call authenticated by its HMAC signature, not by a browser session
@require_POST
def confirm(request: HttpRequest, provider_code: str) -> JsonResponse:
    try:
        payload = json.loads(request.body)
        account, code = str(payload["account"]), str(payload["security_code"])
    except (ValueError, KeyError, TypeError):
        account = code = None
    found = _lookup(provider_code, account)
    if found is None:
        return JsonResponse({"confirmed": False, "reason": "unknown_provider"}, status=404)
    secret, security_code = found
    # Compared as bytes: compare_digest refuses a str with non-ASCII characters (a 500 instead of a 401).
    signature = request.META.get(_SIGNATURE_META, "").encode("latin-1")  # WSGI headers are latin-1 strs
    if not hmac.compare_digest(signature, sign(request.body, secret).encode()):
        return JsonResponse({"confirmed": False, "reason": "bad_signature"}, status=401)
    if account is None:
        return JsonResponse({"confirmed": False, "reason": "malformed"}, status=400)
    confirmed = security_code is not None and hmac.compare_digest(
        security_code.encode(), code.encode("utf-8", "surrogatepass")
    )
    return JsonResponse({"confirmed": confirmed, "reason": "" if confirmed else "no_such_account"})
