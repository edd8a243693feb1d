"""Headless Chromium from Debian's `chromium` package (`make browser` installs it), driven by
Playwright, kept off the network: every host but loopback is unresolvable and sent to a proxy
that is not there, so only loopback, file:// and data: URLs load. `PageWatch` collects what a
user's console would show going wrong, and any request for a page outside the machine.

No Playwright request routing: with interception on, Chromium skips the favicon request, whose
error a user's console does show."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request, Response, sync_playwright

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# Without these Chromium reaches out to Google's hosts (updates, field trials, sync, QUIC probes).
# The last three keep everything else in: other host names do not resolve, and any request not
# for loopback (an IP literal too) goes to the discard port, where nothing listens.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1;localhost",
)
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
LOCAL_SCHEMES = frozenset({"file", "data", "about", "blob"})


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        return parts.hostname in LOCAL_HOSTS
    return parts.scheme in LOCAL_SCHEMES


@dataclass
class PageWatch:
    """Console errors, uncaught exceptions, failed or refused requests and HTTP errors of one page."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    http_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)

    @classmethod
    def attach(cls, page: Page) -> PageWatch:
        watch = cls()
        page.on("console", watch._console)
        page.on("pageerror", lambda error: watch.page_errors.append(f"{error.name}: {error.message}"))
        page.on("requestfailed", watch._request_failed)
        page.on("response", watch._response)
        page.on("request", watch._request)
        return watch

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url") or "?"
            self.console_errors.append(f"{message.text} ({where})")

    def _request(self, request: Request) -> None:
        if not is_local(request.url):
            self.outside_requests.append(f"{request.method} {request.url}")

    def _request_failed(self, request: Request) -> None:
        self.failed_requests.append(f"{request.method} {request.url}: {request.failure}")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.http_errors.append(f"{response.status} {response.request.method} {response.url}")

    def clear(self) -> None:
        """Forget what was seen (a module's next test starts from nothing)."""
        for seen in (
            self.console_errors,
            self.page_errors,
            self.failed_requests,
            self.http_errors,
            self.outside_requests,
        ):
            seen.clear()

    @property
    def problems(self) -> list[str]:
        return [
            *self.console_errors,
            *self.page_errors,
            *self.failed_requests,
            *self.http_errors,
            *self.outside_requests,
        ]


@contextmanager
def chromium(profile_dir: Path) -> Iterator[BrowserContext]:
    """One headless Chromium with a fresh profile in `profile_dir`, kept off the network."""
    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium package")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile_dir),
            executable_path=str(CHROMIUM),
            headless=True,
            args=list(CHROMIUM_ARGS),
        )
        try:
            yield context
        finally:
            context.close()


@contextmanager
def signed_in_console(
    base_url: str, token: str, user: str, profile_dir: Path
) -> Iterator[tuple[Page, PageWatch]]:
    """The console in one Chromium page, signed in with `token` (whose user is `user`), watched."""
    from playwright.sync_api import expect

    with chromium(profile_dir) as browser:
        page = browser.new_page()
        page.set_viewport_size({"width": 1360, "height": 900})
        watch = PageWatch.attach(page)
        page.goto(base_url + "/", wait_until="load")
        page.get_by_test_id("signin-token").fill(token)
        page.get_by_test_id("signin-submit").click()
        expect(page.get_by_test_id("user-name")).to_have_text(user)
        yield page, watch
