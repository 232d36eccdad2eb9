"""End-to-end fixtures: a real headless browser (Debian's chromium driven by Playwright) against pytest-django's
live server, and axe-core accessibility checks.

`make test` installs what these need (Makefile target `e2e-deps`): chromium with Japanese fonts from Debian and
axe-core from npm (package-lock.json). Nothing is downloaded while the tests run: Playwright never fetches a
browser of its own. Where the browser or axe-core is missing the tests skip with the reason, except under CI
(CI set), where they fail.

    def test_something(page, axe_check, public_bodies):
        page.goto("/131016/")            # relative to the live server
        axe_check(page)                  # fails on serious or critical WCAG 2.1 A/AA violations
"""

import os
from collections.abc import Iterable
from pathlib import Path

import pytest

from madoguchi.devidp.tests.fixtures import settle_live_server
from madoguchi.identity.tests.conftest import _session_ca, jpki  # noqa: F401  (the JPKI test CA and demo cards)
from madoguchi.points.tests.conftest import campaign, provider  # noqa: F401  (a campaign open now, its provider)

REPO_ROOT = Path(__file__).resolve().parents[5]
AXE_JS = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"width": 390, "height": 844}
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Each browser action waits at most this long (ms) before it fails: a broken page fails fast, it never hangs.
ACTION_TIMEOUT_MS = 15_000


def _unavailable(reason: str) -> None:
    """Skip on a developer's machine without the browser; fail in CI, where `make test` must have installed it."""
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{reason} — CI must run the e2e tests (make test installs it)", pytrace=False)
    pytest.skip(f"{reason}; `make test` installs it where it can (chromium: root and apt-get; axe-core: npm)")


@pytest.fixture(scope="package")
def browser():
    """One headless chromium for the e2e tests.

    Package-scoped, not session-scoped: Playwright's sync API keeps an asyncio loop running in this thread while
    it is started, so Django's async-safety check would refuse every later test's database access. It stops
    after the last e2e test; until then, test code's own ORM calls are allowed (DJANGO_ALLOW_ASYNC_UNSAFE).
    """
    if not CHROMIUM.is_file():
        _unavailable(f"{CHROMIUM} is missing (Debian package chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the Python package playwright is not installed (the dev extras)")

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context per test (no cookies carried over): Japanese, phone-sized, with the live server
    as base URL, so that `page.goto("/sign-in/")` works. Using it makes the test's database transactional."""
    context = browser.new_context(locale="ja-JP", viewport=PHONE, base_url=live_server.url)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()
        settle_live_server()


def axe_violations(page, *, impact: Iterable[str] = ("serious", "critical")) -> list[dict]:
    """Run axe-core (WCAG 2.0/2.1 A and AA rules) on the page as it is now; its violations of these impacts."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    results = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        WCAG_TAGS,
    )
    wanted = set(impact)
    return [v for v in results["violations"] if v.get("impact") in wanted]


def axe_report(violations: list[dict], *, url: str = "", targets: int = 3) -> str:
    lines = [f"{len(violations)} accessibility violation(s) on {url}:"]
    for violation in violations:
        nodes = violation["nodes"]
        shown = ", ".join(" ".join(map(str, node["target"])) for node in nodes[:targets])
        more = f" (+{len(nodes) - targets} more)" if len(nodes) > targets else ""
        lines.append(f"- {violation['id']} [{violation['impact']}]: {violation['help']}")
        lines.append(f"    {shown}{more}")
        lines.append(f"    {violation['helpUrl']}")
    return "\n".join(lines)


def axe_check(page, *, impact: Iterable[str] = ("serious", "critical")) -> list[dict]:
    """Fail the test, with each rule, its impact, help and first targets, if axe finds violations of `impact`."""
    violations = axe_violations(page, impact=impact)
    if violations:
        pytest.fail(axe_report(violations, url=page.url), pytrace=False)
    return violations


@pytest.fixture(name="axe_check")
def axe_check_fixture():
    """`axe_check(page, impact=("serious", "critical"))`, once axe-core is known to be installed."""
    if not AXE_JS.is_file():
        _unavailable(f"{AXE_JS.relative_to(REPO_ROOT)} is missing (npm ci)")
    return axe_check
