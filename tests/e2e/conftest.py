"""End-to-end fixtures: a live stack per test worker, Debian's Chromium, and a staff member's browser.

``stack`` starts the provider and the three demo apps as real processes (see
:mod:`tests.e2e.launcher`) once per xdist worker, on that worker's own loopback
addresses (``127.0.1<n>.x``) and free ports, on SQLite, or on a fresh PostgreSQL
database ``<db>_e2e_<worker>`` when ``IDP_TEST_DATABASE_URL`` is set.

``staff`` is one browser context (its own cookie jar) with helpers that read like
what a member of staff does; it records every page the browser lands on and
saves a screenshot of the last one under ``tests/artifacts/e2e/<test>.png``.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest

from idp.demo import DEMO_PASSWORD, TOTP_SECRETS
from tests.e2e.launcher import ROOT, Stack, StackError, e2e_database_url

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "tests" / "artifacts"
SCREENSHOTS = ARTIFACTS / "e2e"
TIMEOUT_MS = 20_000


def _subnet(worker_id: str) -> str:
    """gw0 -> 127.0.10, gw1 -> 127.0.11 ...; a run without xdist uses 127.0.20."""
    match = re.fullmatch(r"gw(\d+)", worker_id)
    return f"127.0.{10 + int(match.group(1))}" if match else "127.0.20"


@pytest.fixture(scope="session")
def stack(worker_id: str):
    """The provider and the three demo apps, started once per worker and stopped at the end."""
    base = os.environ.get("IDP_TEST_DATABASE_URL")
    database_url = e2e_database_url(base, f"e2e_{worker_id}") if base else None
    live = Stack(ARTIFACTS / f"e2e-run-{worker_id}", _subnet(worker_id), database_url)
    try:
        live.start()
    except StackError as exc:
        live.stop()
        pytest.fail(f"the end-to-end stack did not start: {exc}", pytrace=False)
    yield live
    live.stop()


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium; skipped when missing, except under CI=true where that is a failure."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    message = (f"{CHROMIUM} is missing and was not installed (run scripts/setup --browser as root): "
               "browser tests skipped")
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser(chromium: Path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS,
                                              headless=True)
        yield launched
        launched.close()


class Staff:
    """A member of staff at a browser: what they open, type and see."""

    def __init__(self, page, stack: Stack, name: str = "page") -> None:
        self.page = page
        self.stack = stack
        self.name = name  # the test's, for screenshot file names
        self.landed: list[str] = []  # every URL the main frame committed to, in order
        self.console_errors: list[str] = []  # e.g. a Content-Security-Policy violation
        page.on("framenavigated", lambda frame: frame == page.main_frame and self.landed.append(frame.url))
        page.on("console", lambda msg: msg.type == "error" and self.console_errors.append(
            f"{page.url}: {msg.text}"))

    # --- where the browser is ------------------------------------------------------------

    def on_provider(self, path: str | None = None) -> bool:
        parts = urlsplit(self.page.url)
        here = f"{parts.scheme}://{parts.netloc}" == self.stack.provider
        return here and (path is None or parts.path == path)

    def provider_pages(self, path: str) -> list[str]:
        """The URLs of the provider's ``path`` the browser landed on."""
        return [url for url in self.landed
                if url.startswith(self.stack.provider + "/") and urlsplit(url).path == path]

    def text(self) -> str:
        return self.page.inner_text("body")

    def snapshot(self, label: str) -> Path:
        """Save a screenshot of the page now: tests/artifacts/e2e/<test>--<label>.png."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / f"{self.name}--{label}.png"
        self.page.screenshot(path=str(shot), full_page=True)
        return shot

    # --- what staff do -------------------------------------------------------------------

    def open(self, url: str) -> None:
        self.page.goto(url)

    def open_app(self, client_id: str, path: str = "/") -> None:
        self.open(self.stack.apps[client_id] + path)

    def click_sign_in(self) -> None:
        """On an app's landing page: the "Đăng nhập" / "Sign in" button."""
        self.page.locator("a.button[href*='/auth/login']").click()
        self.page.wait_for_load_state()

    def sign_in(self, username: str, password: str = DEMO_PASSWORD) -> None:
        """Fill the provider's sign-in form and send it."""
        self.page.wait_for_url(f"{self.stack.provider}/login**")
        self.page.fill("#username", username)
        self.page.fill("#password", password)
        self.page.locator("form button[type=submit]").first.click()
        self.page.wait_for_load_state()

    def enter_code(self, code: str) -> None:
        """The second-factor page: type the six digits and verify."""
        self.page.wait_for_url(f"{self.stack.provider}/login/otp**")
        self.page.fill("#code", code)
        self.page.locator("#code").press("Enter")
        self.page.wait_for_load_state()

    def totp(self, username: str) -> str:
        """The code the staff member's authenticator app shows now (RFC 6238)."""
        return pyotp.TOTP(TOTP_SECRETS[username]).now()

    def sign_out(self) -> None:
        """An app's "Đăng xuất" button, then the provider's confirmation if it asks one."""
        self.page.locator("section.who form button[type=submit]").click()
        self.page.wait_for_load_state()
        if self.on_provider("/end_session") and self.page.locator("button[value=yes]").count():
            self.page.locator("button[value=yes]").click()
            self.page.wait_for_load_state()

    def signed_in_name(self) -> str | None:
        """The name an app shows in its "signed in as" box, or None when signed out."""
        who = self.page.locator(".who-name")
        return who.inner_text() if who.count() else None

    def wait_signed_out(self, client_id: str, timeout: float = 15.0) -> bool:
        """Reload an app until it shows its landing page (back-channel logout is asynchronous)."""
        deadline = time.monotonic() + timeout
        while True:
            self.open_app(client_id)
            if self.signed_in_name() is None:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)


def _artifact_name(node_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", node_name).strip("_")


def _browse(browser, stack: Stack, request, **context_options):
    """A fresh browser context (no cookies) for one test; screenshot of its last page at the end."""
    context = browser.new_context(**context_options)
    context.set_default_timeout(TIMEOUT_MS)
    person = Staff(context.new_page(), stack, _artifact_name(request.node.name))
    yield person
    if person.console_errors:
        print("\nbrowser console errors:\n  " + "\n  ".join(person.console_errors))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{person.name}.png"
    try:
        person.page.screenshot(path=str(shot), full_page=True)
        print(f"\nscreenshot of the last page: {shot}")
    except Exception as exc:  # a crashed page must not hide the test's own failure
        print(f"\nno screenshot ({exc.__class__.__name__}: {exc})")
    context.close()


@pytest.fixture
def staff(browser, stack: Stack, request):
    """A member of staff at a desktop browser."""
    yield from _browse(browser, stack, request, viewport={"width": 1280, "height": 900})


@pytest.fixture
def phone(browser, stack: Stack, request):
    """A member of staff on a phone-sized screen."""
    yield from _browse(browser, stack, request, viewport={"width": 390, "height": 844},
                       is_mobile=True, has_touch=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, name the stack's logs and the screenshot beside the error."""
    outcome = yield
    report = outcome.get_result()
    live = item.funcargs.get("stack") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(live, Stack):
        lines = [f"logs of the live stack: {live.log_dir}"]
        lines += [f"  {proc.name}: {proc.url} -> {proc.log}" for proc in live.processes]
        lines.append(f"screenshot: {SCREENSHOTS / (_artifact_name(item.name) + '.png')}")
        for person in (item.funcargs.get("staff"), item.funcargs.get("phone")):
            if isinstance(person, Staff):
                lines.append(f"last page: {person.page.url}")
                lines += [f"browser console: {line}" for line in person.console_errors]
        report.sections.append(("e2e artifacts", "\n".join(lines)))
