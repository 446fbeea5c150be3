"""axe-core over every page state the browser tests reach.

Before each thing a test does in the browser (a click, a fill, a key press, a navigation) and
once more when the test ends, the state of each watched tab is checked with axe-core, if that
state was not checked already: a page state is its URL and its markup, so typing into a field
(a property, not markup) costs nothing, while a flash message, an error summary or results
fetched as one types are new states. Only Deskgate's own pages are checked (the tab's
origins), not the test OpenID Connect provider's login page or the demo app's.

Every violation of the default rule set (WCAG 2.x A and AA, and axe's best practices) fails
the test, with the rule, its impact, where, and what to do. axe-core is an npm package pinned
in tests/a11y/package-lock.json; `make setup` installs it, nothing downloads it at run time.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Keyboard, Locator, Page

AXE_DIR = Path(__file__).resolve().parents[1] / "a11y" / "node_modules" / "axe-core"
AXE_JS = AXE_DIR / "axe.min.js"

# The methods through which a test acts on a page, in Playwright's sync API. Reading
# (text_content, is_visible, expect(...)) is not acting and is not hooked.
ACTIONS: dict[type, tuple[str, ...]] = {
    Page: ("goto", "reload", "go_back", "go_forward", "click", "fill", "press", "check"),
    Locator: (
        "click",
        "dblclick",
        "tap",
        "fill",
        "clear",
        "press",
        "press_sequentially",
        "type",
        "check",
        "uncheck",
        "set_checked",
        "select_option",
        "set_input_files",
    ),
    Keyboard: ("press", "type", "insert_text", "down"),
}

# Waits for the document to finish loading, then names its state: its URL and a hash of
# its markup (values typed into fields are properties, not markup).
STATE_JS = """async () => {
  if (document.readyState !== "complete") {
    await new Promise((done) => {
      addEventListener("load", done, { once: true });
      setTimeout(done, 5000);
    });
  }
  const html = document.documentElement.outerHTML;
  let hash = 0;
  for (let i = 0; i < html.length; i++) hash = (Math.imul(31, hash) + html.charCodeAt(i)) | 0;
  return { url: location.href, key: location.href + " " + html.length + " " + hash,
           loaded: typeof window.axe === "object" };
}"""

RUN_JS = """async () => {
  const results = await axe.run(document, { resultTypes: ["violations"] });
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
  }));
}"""

ATTEMPTS = 5


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str
    target: str
    help: str
    help_url: str
    detail: str

    def line(self) -> str:
        detail = " ".join(self.detail.split())
        return (
            f"  {self.rule} ({self.impact}) at {self.target}: {self.help}\n"
            f"      {detail}\n      {self.help_url}"
        )


@dataclass
class Audit:
    """The accessibility checks of one test: the tabs watched and what was found."""

    axe_source: str
    version: str
    pages: list[tuple[Page, tuple[str, ...]]] = field(default_factory=list)
    checked: set[str] = field(default_factory=set)
    states: int = 0
    found: dict[str, dict[Violation, str]] = field(default_factory=dict)
    busy: bool = False

    def watch(self, page: Page, *origins: str) -> None:
        """Check this tab's states while it shows a page of one of these origins."""
        self.pages.append((page, tuple(o.rstrip("/") for o in origins)))

    def check(self, when: str) -> None:
        """Check each watched tab's current state, unless it was checked already."""
        if self.busy:  # a check's own calls to Playwright are not the test's actions
            return
        self.busy = True
        try:
            for page, origins in self.pages:
                if not page.is_closed():
                    self._check(page, origins, when)
        finally:
            self.busy = False

    def _check(self, page: Page, origins: tuple[str, ...], when: str) -> None:
        for attempt in range(ATTEMPTS):
            if not _ours(page.url, origins):
                return
            try:
                state = page.evaluate(STATE_JS)
                if state["key"] in self.checked or not _ours(state["url"], origins):
                    return
                if not state["loaded"]:
                    page.evaluate(self.axe_source)
                violations = page.evaluate(RUN_JS)
            except PlaywrightError:
                # The tab navigated meanwhile (the test's last click submitted a form): the
                # page this check started on is gone; check the one that replaced it.
                if attempt == ATTEMPTS - 1:
                    raise
                with suppress(PlaywrightError):
                    page.wait_for_load_state("load")
                continue
            self.checked.add(state["key"])
            self.states += 1
            self._record(state["url"], violations, when)
            return

    def _record(self, url: str, violations: list[dict[str, Any]], when: str) -> None:
        for v in violations:
            for node in v["nodes"]:
                found = Violation(
                    v["id"],
                    v["impact"] or "",
                    node["target"],
                    v["help"],
                    v["helpUrl"].split("?")[0],
                    node["summary"] or "",
                )
                self.found.setdefault(_path(url), {}).setdefault(found, when)

    def report(self) -> str:
        """The violations found, by page; empty if there are none."""
        if not self.found:
            return ""
        count = sum(len(v) for v in self.found.values())
        lines = [
            f"axe-core {self.version}: {count} accessibility violation(s) "
            f"in {self.states} page state(s) checked"
        ]
        for url, violations in self.found.items():
            lines.append(f"{url}")
            for violation, when in violations.items():
                lines.append(f"{violation.line()}\n      (seen {when})")
        return "\n".join(lines)

    def assert_clean(self) -> None:
        report = self.report()
        if report:
            pytest.fail(report, pytrace=False)


def _ours(url: str, origins: tuple[str, ...]) -> bool:
    return any(url == origin or url.startswith(origin + "/") for origin in origins)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _describe(target: Any, name: str, args: tuple[Any, ...]) -> str:
    if isinstance(target, Locator):
        selector = getattr(target._impl_obj, "_selector", "")  # for the report only
        return f"before {name} on {selector}"
    if args:
        return f"before {type(target).__name__.lower()}.{name}({args[0]!r})"
    return f"before {type(target).__name__.lower()}.{name}()"


def load() -> Audit:
    meta = json.loads((AXE_DIR / "package.json").read_text())
    return Audit(AXE_JS.read_text(encoding="utf-8"), meta["version"])


@contextmanager
def hooked(audit: Audit) -> Iterator[None]:
    """While inside, every action of the test on a page first checks the watched tabs."""
    saved: list[tuple[type, str, Callable[..., Any]]] = []

    def hook(cls: type, name: str) -> None:
        original = getattr(cls, name)

        @functools.wraps(original)
        def acting(self: Any, *args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True  # a failure shows the test's line, not this wrapper
            audit.check(_describe(self, name, args))
            return original(self, *args, **kwargs)

        saved.append((cls, name, original))
        setattr(cls, name, acting)

    for cls, names in ACTIONS.items():
        for name in names:
            hook(cls, name)
    try:
        yield
    finally:
        for cls, name, original in reversed(saved):
            setattr(cls, name, original)
