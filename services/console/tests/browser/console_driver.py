"""Drive the console in Debian's headless Chromium: sign in, screenshot, check with axe-core."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import axe_playwright_python
from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
ARTEFACTS = Path(__file__).resolve().parents[1] / "artefacts"
AXE_SOURCE = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()
SERIOUS = ("serious", "critical")


class Visitor:
    """One person in one browser context; every page they see is screenshotted and checked."""

    def __init__(self, browser: Browser, base: str, locale: str, folder: str) -> None:
        self.context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        self.page: Page = self.context.new_page()
        self.base = base
        self.folder = ARTEFACTS / folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.shots = 0
        self.csp_errors: list[str] = []
        self.violations: list[dict[str, Any]] = []
        self.page.on(
            "console",
            lambda m: (
                self.csp_errors.append(m.text) if "Content Security Policy" in m.text else None
            ),
        )

    def close(self) -> None:
        self.context.close()

    def go(self, path: str) -> Page:
        self.page.goto(self.base + path)
        return self.page

    def sign_in(self, who: str) -> None:
        self.context.clear_cookies()
        self.go("/sign-in")
        self.page.click(f'button[data-who="{who}"]')
        self.page.wait_for_url(re.compile(r"/programmes"))

    def submit(self, selector: str) -> None:
        """Click what submits a form or follows a link, and wait for the page it leads to."""
        with self.page.expect_navigation():
            self.page.click(selector)

    def check(self, name: str) -> None:
        """Screenshot the page and run axe-core in it (evaluated by the browser, CSP intact)."""
        self.shots += 1
        self.page.screenshot(path=str(self.folder / f"{self.shots:02d}-{name}.png"), full_page=True)
        self.page.evaluate(AXE_SOURCE)
        found = self.page.evaluate(
            """() => axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa',
                'best-practice']}).then(r => r.violations.map(v => ({id: v.id,
                impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)})))"""
        )
        for violation in found:
            if violation["impact"] in SERIOUS:
                self.violations.append({"page": name, **violation})

    def until(self, path: str, ready: str, timeout: float = 60.0, click: str | None = None) -> Page:
        """Open `path` (clicking `click`) until `ready` (a selector) shows: events take a moment."""
        deadline = time.monotonic() + timeout
        while True:
            self.go(path)
            if click:
                self.submit(click)
            if self.page.locator(ready).count() > 0:
                return self.page
            if time.monotonic() > deadline:
                body = self.page.inner_text("main")[:800]
                raise AssertionError(f"{path}: {ready} not shown within {timeout}s: {body}")
            time.sleep(0.5)
