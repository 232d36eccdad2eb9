"""The sandbox provider's side of the account-confirmation callback.

POST /sandbox-pay/<provider>/confirm with the platform's signed JSON; answers {"confirmed": true} when the
signature is right and the account exists with that security code. It speaks the real protocol, so the
platform's adapter is exercised exactly as against a real provider.
"""

import hmac
import json

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from madoguchi.points.models import PaymentProvider
from madoguchi.points.providers import SIGNATURE_HEADER, sign
from madoguchi.sandboxpay.models import SandboxAccount


@csrf_exempt  # a server-to-server call authenticated by its HMAC signature, not by a browser session
@require_POST
def confirm(request: HttpRequest, provider_code: str) -> JsonResponse:
    provider = PaymentProvider.objects.filter(code=provider_code).first()
    if provider is None:
        return JsonResponse({"confirmed": False, "reason": "unknown_provider"}, status=404)
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not hmac.compare_digest(signature, sign(request.body, provider.callback_secret)):
        return JsonResponse({"confirmed": False, "reason": "bad_signature"}, status=401)
    try:
        payload = json.loads(request.body)
        account, code = str(payload["account"]), str(payload["security_code"])
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"confirmed": False, "reason": "malformed"}, status=400)
    found = SandboxAccount.objects.filter(provider_code=provider_code, account=account).first()
    confirmed = found is not None and hmac.compare_digest(found.security_code, code)
    return JsonResponse({"confirmed": confirmed, "reason": "" if confirmed else "no_such_account"})
