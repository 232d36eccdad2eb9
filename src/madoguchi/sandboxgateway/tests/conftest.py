import pytest
from django.conf import settings

from madoguchi.sandboxgateway.tests.helpers import API_KEY, WEBHOOK_SECRET

# The gateway is installed only in development (SANDBOX_GATEWAY_ENABLED); without it there is nothing to test.
if "madoguchi.sandboxgateway" not in settings.INSTALLED_APPS:
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(autouse=True)
def gateway_keys(settings):
    """Known keys for each test (the development ones live under var/ and must not leak into assertions)."""
    settings.FEE_GATEWAY_API_KEY = API_KEY
    settings.FEE_GATEWAY_WEBHOOK_SECRET = WEBHOOK_SECRET
    return settings


@pytest.fixture
def sent_callbacks(monkeypatch):
    """Callbacks the gateway would POST, captured instead of sent: a list of (url, body, headers).

    Tests that need the real HTTP delivery use the live server instead (test_live_callbacks.py).
    """
    from madoguchi.sandboxgateway import services

    sent = []

    def capture(url, body, headers):
        sent.append((url, body, headers))
        return 200

    monkeypatch.setattr(services, "callback_post", capture)
    return sent
