"""Set-up for tests that talk to the development provider (its own tests and identity's GビズID tests)."""

import gc
import io
import threading
from dataclasses import dataclass

from django.conf import settings


@dataclass
class DevIdp:
    client_id: str
    client_secret: str
    redirect_uri: str
    accounts: dict  # demo key → DemoAccount

    def account(self, key: str):
        return self.accounts[key]


def dev_idp_setup() -> DevIdp:
    """The demo data (client + four accounts) plus the test server's callback as a redirect URI."""
    from madoguchi.devidp import demo, services
    from madoguchi.devidp.models import DemoAccount

    demo.load_demo(stdout=io.StringIO())
    redirect_uri = "http://testserver/business/callback/"
    services.client_register(
        client_id=settings.GBIZID_CLIENT_ID,
        secret=settings.GBIZID_CLIENT_SECRET,
        name=settings.MADOGUCHI_SITE_NAME,
        redirect_uris=[redirect_uri],
    )
    return DevIdp(
        client_id=settings.GBIZID_CLIENT_ID,
        client_secret=settings.GBIZID_CLIENT_SECRET,
        redirect_uri=redirect_uri,
        accounts={a.key: a for a in DemoAccount.objects.all()},
    )


def settle_live_server() -> None:
    """Call after a test that used the live server, once its HTTP clients are closed.

    Each kept-alive connection holds a live-server thread that closes the shared in-memory database connection
    when it ends, which is no longer allowed once the server has stopped at the end of the session. A failed
    request can leave its connection in a reference cycle (exception → traceback → frames), so collect it,
    then wait for the server's threads to see their connections close.
    """
    gc.collect()
    for thread in threading.enumerate():
        if thread.name.endswith("(process_request_thread)"):
            thread.join(timeout=5)
