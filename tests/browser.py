"""Headless Chromium for tests: Debian's `/usr/bin/chromium` (`make browser` installs it)
driven by playwright, which never downloads a browser of its own here.

A page is opened from a file and watched: console errors, uncaught page errors, and every
request for anything but the opened file itself (a report must make none; they are
blocked, so a test never waits on the closed network). Screenshots go to
`tests/artifacts/` (gitignored).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import (
        Browser,
        BrowserContext,
        ConsoleMessage,
        Page,
        Playwright,
        Request,
        Route,
        WebSocketRoute,
    )

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-default-apps")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
TIMEOUT_MS = 15_000
# Inline content, never a network request.
INLINE_SCHEMES = ("data:", "blob:", "about:")
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.is_file():
        return f"Chromium not found at {CHROMIUM}: `make browser` installs Debian's chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"playwright is not installed ({exc}): `make venv` installs it"
    return None


def _without_fragment(url: str) -> str:
    return url.split("#", 1)[0]


@dataclass
class OpenedPage:
    """A page opened from a file, with what it did so far (the lists grow while the page
    runs). `page` is playwright's Page. `requests` holds the URL of every request for
    anything but the file itself (other files, http(s), WebSockets), each blocked; a
    blocked request also shows as a console error (`net::ERR_BLOCKED_BY_CLIENT`)."""

    page: Page
    url: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        """Console errors and uncaught page errors, together."""
        return [*self.console_errors, *self.page_errors]

    def screenshot(self, name: str) -> Path:
        """Save a full-page PNG as `tests/artifacts/<name>.png`; returns its path."""
        stem = name.removesuffix(".png")
        if not _SAFE_NAME.fullmatch(stem):
            raise ValueError(f"screenshot name {name!r}: letters, digits, . _ - only")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{stem}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


class Chromium:
    """One headless Chromium; `open` gives each page a fresh context (its own storage)."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright: Playwright = sync_playwright().start()
        try:
            self.browser: Browser = self._playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS))
        except BaseException:
            self._playwright.stop()
            raise
        self._contexts: list[BrowserContext] = []

    def open(self, path: Path, *, width: int = 1280, height: int = 900) -> OpenedPage:
        """Open the file at `path` and wait for its load event."""
        url = Path(path).resolve().as_uri()
        context = self.browser.new_context(viewport={"width": width, "height": height},
                                           service_workers="block")
        self._contexts.append(context)
        context.set_default_timeout(TIMEOUT_MS)
        opened = OpenedPage(page=context.new_page(), url=url)

        def foreign(request_url: str) -> bool:
            return (_without_fragment(request_url) != _without_fragment(url)
                    and not request_url.startswith(INLINE_SCHEMES))

        def record(request: Request) -> None:
            if foreign(request.url):
                opened.requests.append(request.url)

        def route(route: Route, request: Request) -> None:
            if foreign(request.url):
                route.abort("blockedbyclient")
            else:
                route.continue_()

        def websocket(ws: WebSocketRoute) -> None:  # mocked: never connects anywhere
            opened.requests.append(ws.url)

        def console(message: ConsoleMessage) -> None:
            if message.type == "error":
                where = message.location  # lineNumber counts from 0
                opened.console_errors.append(f"{message.text} ({where.get('url', '')}:"
                                             f"{where.get('lineNumber', -1) + 1})")

        context.route("**/*", route)
        context.route_web_socket(re.compile(".*"), websocket)
        page = opened.page
        page.on("request", record)
        page.on("console", console)
        page.on("pageerror", lambda error: opened.page_errors.append(str(error)))
        page.goto(url, wait_until="load")
        return opened

    def close_pages(self) -> None:
        for context in self._contexts:
            context.close()
        self._contexts.clear()

    def close(self) -> None:
        try:
            self.close_pages()
            self.browser.close()
        finally:
            self._playwright.stop()
