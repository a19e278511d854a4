#!/usr/bin/env python3
"""Check the built HTML book in a real headless Chromium.

For each page it asserts that
  (a) every plotly figure rendered: each div.plotly-graph-div holds an svg.main-svg, and the number of
      figure containers matches what the page source (and its source notebook) says to expect;
  (b) MathJax rendered: every .math element holds an mjx-container, no formula has a TeX error
      (merror, or an undefined macro shown in red) and no raw $$, \\[, \\( or \\begin{ is left in
      the visible text outside code;
  (c) nothing failed to load: no failed request (script, css, font, image, ...), no request to a
      remote host (the book must work offline: remote requests are blocked and counted as failures;
      file:// URLs must stay inside the book folder), no JavaScript exception or console error.
It prints one line per page, writes full-page screenshots of chosen pages (default: chapter 3, to
docs/screenshots/03_bias_evidence.png, overwritten each run) and exits 1 when any page fails.

    python scripts/check_book_browser.py                     # _build/html, chapter 3
    python scripts/check_book_browser.py --all               # every page of the book's toc
    python scripts/check_book_browser.py 02_data executed/04_group_dro.html
    python scripts/check_book_browser.py --http --all        # serve from 127.0.0.1 instead of file://

Standard library only: Chromium is driven over the DevTools protocol through --remote-debugging-pipe
(JSON messages, NUL-terminated, on file descriptors 3 and 4), so no websocket client is needed.
Browser: --chromium PATH, else $CHROMIUM, else chromium / chromium-browser / google-chrome on PATH.
Exit codes: 0 all pages pass, 1 a page failed, 2 usage error or the browser could not be used.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import functools
import http.server
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BOOK = ROOT / "_build" / "html"
DEFAULT_PAGES = ["executed/03_bias_evidence.html"]
DEFAULT_SCREENSHOT_DIR = ROOT / "docs" / "screenshots"
DEFAULT_SCREENSHOT_PAGES = ["03_bias_evidence"]
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
# Pages Sphinx makes that are not part of the table of contents.
NON_TOC_PAGES = {"genindex", "search", "py-modindex"}
LOCAL_SCHEMES = {"file", "data", "blob", "about", "chrome-error"}


class BrowserError(RuntimeError):
    pass


class UsageError(ValueError):
    pass


# --------------------------------------------------------------------------- browser and protocol
def find_browser(explicit: str | None) -> str | None:
    for candidate in (explicit, os.environ.get("CHROMIUM")):
        if candidate:
            path = shutil.which(candidate) or (candidate if os.access(candidate, os.X_OK) else None)
            if path:
                return path
            if explicit:
                return None
    for name in BROWSER_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Chromium:
    """A headless Chromium driven over the DevTools protocol on a pipe (single-threaded)."""

    def __init__(self, binary: str, width: int, height: int, extra_flags: list[str] = ()):
        self.profile = Path(tempfile.mkdtemp(prefix="check-book-chromium-"))
        self.log_path = self.profile / "chromium.log"
        cmd_r, self._cmd_w = os.pipe()   # we write commands; Chromium reads them on fd 3
        self._out_r, out_w = os.pipe()   # Chromium writes replies and events on fd 4; we read
        # Move the child's ends above 9 so that the redirections below cannot clobber them.
        child_r = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
        child_w = fcntl.fcntl(out_w, fcntl.F_DUPFD, 10)
        os.close(cmd_r)
        os.close(out_w)
        flags = [
            "--headless", "--remote-debugging-pipe", f"--user-data-dir={self.profile}",
            f"--window-size={width},{height}", "--hide-scrollbars", "--mute-audio",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-breakpad", "--disable-dev-shm-usage",
            "--disable-gpu", "--password-store=basic", "--use-mock-keychain",
            "--disable-features=Translate,MediaRouter,OptimizationHints",
            "--force-color-profile=srgb", "about:blank",
        ]
        if os.geteuid() == 0:
            flags.insert(0, "--no-sandbox")   # Chromium refuses to run its sandbox as root
        flags[-1:-1] = list(extra_flags)
        # bash (not sh: dash only knows fds 0-9) puts the pipe ends on fds 3 and 4 and execs Chromium.
        launcher = f'exec "$0" "$@" 3<&{child_r} 4>&{child_w} {child_r}<&- {child_w}>&-'
        self._log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(
                ["bash", "-c", launcher, binary, *flags], pass_fds=(child_r, child_w),
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                start_new_session=True)
        finally:
            os.close(child_r)
            os.close(child_w)
        self._buf = b""
        self._next_id = 0
        self._handlers: dict[str | None, callable] = {}
        try:
            self.version = self.call("Browser.getVersion", timeout=30)["product"]
        except BrowserError:
            self.close()
            raise

    # -- low level
    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._cmd_w, data):]
        except OSError as exc:
            raise BrowserError(f"cannot write to Chromium: {exc}{self._log_tail()}") from exc
        return self._next_id

    def _read_message(self, timeout: float) -> dict | None:
        end = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = end - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self._out_r], [], [], left)
            if not ready:
                return None
            chunk = os.read(self._out_r, 1 << 20)
            if not chunk:
                raise BrowserError("Chromium closed the DevTools pipe (it exited)" + self._log_tail())
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def _dispatch(self, msg: dict) -> None:
        handler = self._handlers.get(msg.get("sessionId"))
        if handler and "method" in msg:
            handler(msg["method"], msg.get("params", {}))

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict:
        """Send a command and wait for its reply, dispatching the events that arrive meanwhile."""
        want = self._send(method, params, session)
        end = time.monotonic() + timeout
        while True:
            msg = self._read_message(max(0.0, end - time.monotonic()))
            if msg is None:
                raise BrowserError(f"no reply to {method} within {timeout:.0f} s")
            if msg.get("id") == want:
                if "error" in msg:
                    raise BrowserError(f"{method}: {msg['error'].get('message')}")
                return msg.get("result", {})
            self._dispatch(msg)   # replies to fire-and-forget commands have no handler

    def notify(self, method: str, params: dict | None = None, session: str | None = None) -> None:
        """Send a command without waiting for its reply."""
        self._send(method, params, session)

    def pump(self, seconds: float) -> None:
        """Dispatch events for this long."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            msg = self._read_message(left)
            if msg is not None:
                self._dispatch(msg)

    def on_session(self, session: str, handler) -> None:
        self._handlers[session] = handler

    def _log_tail(self) -> str:
        try:
            self._log.flush()
            lines = self.log_path.read_text(errors="replace").strip().splitlines()[-8:]
        except OSError:
            return ""
        return ("\n  chromium log:\n    " + "\n    ".join(lines)) if lines else ""

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.notify("Browser.close")
                self.proc.wait(timeout=5)
            except (BrowserError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)   # the session started with Chromium
                self.proc.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for fd in (self._cmd_w, self._out_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()
        shutil.rmtree(self.profile, ignore_errors=True)


# --------------------------------------------------------------------------- pages of the book
def toc_pages(book: Path) -> list[str]:
    """Every page of the book's table of contents: the docnames Sphinx lists in searchindex.js."""
    index = book / "searchindex.js"
    names: list[str] = []
    if index.is_file():
        m = re.search(r'"docnames"\s*:\s*(\[[^\]]*\])', index.read_text(errors="replace"))
        if m:
            names = [n for n in json.loads(m.group(1)) if n not in NON_TOC_PAGES]
    pages = [f"{n}.html" for n in names if (book / f"{n}.html").is_file()]
    if not pages:   # not a Sphinx build: every HTML page but Sphinx's own
        pages = sorted(p.relative_to(book).as_posix() for p in book.rglob("*.html")
                       if not p.relative_to(book).parts[0].startswith("_")
                       and p.stem not in NON_TOC_PAGES and p.name != "index.html")
    return pages


def resolve_page(book: Path, spec: str) -> str:
    """A page argument: a path under the book (with or without .html), or a bare page name."""
    path = Path(spec)
    if path.is_absolute():
        try:
            return path.resolve().relative_to(book).as_posix()
        except ValueError:
            raise UsageError(f"{spec} is not inside the book {book}") from None
    for candidate in (spec, spec + ".html"):
        if (book / candidate).is_file():
            return Path(candidate).as_posix()
    stem = Path(spec).name.removesuffix(".html")
    matches = sorted(p.relative_to(book).as_posix() for p in book.rglob(f"{stem}.html")
                     if not p.relative_to(book).parts[0].startswith("_"))
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UsageError(f"no page {spec!r} in {book}")
    raise UsageError(f"{spec!r} is ambiguous: {', '.join(matches)}")


def expected_figures(book: Path, page: str) -> tuple[int, str]:
    """Figure containers the page should show: the most of (plotly-graph-div containers in the page's
    HTML source, plotly outputs in its source notebook under _sources/). The notebook count catches a
    figure that never reached the page at all (e.g. a plotly mime bundle the builder dropped)."""
    html = (book / page).read_text(errors="replace")
    in_html = len(re.findall(r'class="[^"]*\bplotly-graph-div\b', html))
    in_notebook = 0
    source = book / "_sources" / (page.removesuffix(".html") + ".ipynb")
    if source.is_file():
        try:
            nb = json.loads(source.read_text())
        except ValueError:
            nb = {}
        for cell in nb.get("cells", []):
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                html_out = "".join(v if isinstance(v, str) else "".join(v)
                                   for k, v in data.items() if k.endswith("text/html"))
                divs = len(re.findall(r'class="[^"]*\bplotly-graph-div\b', html_out))
                plotly_mime = any("vnd.plotly" in k for k in data)
                in_notebook += max(divs, 1 if plotly_mime else 0)
    where = "page source" if in_html >= in_notebook else "source notebook"
    return max(in_html, in_notebook), where


# What the page shows once its scripts ran. Text nodes are searched for raw TeX outside code.
STATE_JS = r"""
(() => {
  const figs = Array.from(document.querySelectorAll('div.plotly-graph-div'));
  const unrendered = figs.filter(d => !d.querySelector('svg.main-svg'));
  const maths = Array.from(document.querySelectorAll('.math'));
  const mathLeft = maths.filter(e => !e.querySelector('mjx-container'));
  const skip = 'pre, code, script, style, textarea, kbd, samp, svg, mjx-container, ' +
               '.highlight, .js-plotly-plot, .plotly-graph-div';
  const raw = [];
  if (document.body) {
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const re = /\$\$|\\\[|\\\(|\\begin\{/;
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      if (re.test(n.nodeValue) && !(n.parentElement && n.parentElement.closest(skip)))
        raw.push(n.nodeValue.trim().slice(0, 80));
    }
  }
  const mj = window.MathJax;
  return {
    ready: document.readyState,
    figures: figs.length,
    rendered: figs.length - unrendered.length,
    unrendered: unrendered.slice(0, 5).map(d => (d.id || '(no id)') + ': ' +
                                           (d.textContent || '').trim().slice(0, 100)),
    math: maths.length,
    mathRendered: maths.length - mathLeft.length,
    mjx: document.querySelectorAll('mjx-container').length,
    merror: Array.from(document.querySelectorAll('mjx-merror')).slice(0, 5)
                 .map(e => (e.getAttribute('data-mjx-error') || e.textContent || '').slice(0, 80)),
    mathjaxLoaded: !!(mj && mj.startup && mj.startup.promise),
    mathjax: window.__bookCheckMathJax || null,
    raw: raw.slice(0, 5),
    height: Math.ceil(Math.max(document.documentElement.scrollHeight,
                               document.body ? document.body.scrollHeight : 0)),
  };
})()
"""
# TeX that MathJax could not typeset: an merror node, or the red text the noundefined package puts
# in place of an undefined macro (neither shows as an error anywhere else). Run once, when settled.
TEX_ERRORS_JS = r"""
(() => {
  const out = [];
  try {
    const s = window.MathJax && MathJax.startup;
    if (!s || !s.document || !s.document.math || !s.toMML) return out;
    for (const item of s.document.math) {
      const mml = s.toMML(item.root);
      if (/<merror/.test(mml) || /mathcolor="red"/.test(mml)) out.push(String(item.math).slice(0, 80));
    }
  } catch (e) { out.push('(could not inspect the typeset math: ' + e + ')'); }
  return out;
})()
"""
# Resolves after the next two animation frames (layout and resize observers have run).
FRAMES_JS = "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"
WATCH_MATHJAX_JS = """
window.MathJax.startup.promise.then(
  () => { window.__bookCheckMathJax = 'done'; },
  e => { window.__bookCheckMathJax = 'error: ' + e; });
"""


class PageCheck:
    """Loads one page in a fresh tab and records everything that goes wrong."""

    def __init__(self, browser: Chromium, book: Path, page: str, base_url: str, http_host: str | None):
        self.browser, self.book, self.page = browser, book, page
        self.url = base_url + page
        self.http_host = http_host
        self.failed: dict[str, str] = {}       # requestId (or url) -> "url: reason"
        self.console: list[str] = []
        self.inflight: dict[str, float] = {}
        self.request_urls: dict[str, str] = {}
        self.last_activity = time.monotonic()
        self.loaded = False
        self.session = None

    # -- what counts as local
    def local_reason(self, url: str) -> str | None:
        """None when the URL is allowed, else why not."""
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss"):
            if self.http_host and parts.netloc == self.http_host:
                return None
            return "remote host (the book must work offline)"
        if parts.scheme == "file":
            # normpath, not resolve(): a symlink inside the book is fine (the URL stays inside it)
            path = Path(os.path.normpath(unquote(parts.path)))
            try:
                path.relative_to(self.book)
            except ValueError:
                return "file outside the book folder"
            return None
        if parts.scheme in LOCAL_SCHEMES:
            return None
        return f"unexpected scheme {parts.scheme!r}"

    def fail(self, key: str, url: str, reason: str) -> None:
        self.failed.setdefault(key, f"{shorten(url)}: {reason}")

    # -- protocol events
    def on_event(self, method: str, p: dict) -> None:
        now = time.monotonic()
        if method == "Fetch.requestPaused":
            url = p["request"]["url"]
            reason = self.local_reason(url)
            if reason is None:
                self.browser.notify("Fetch.continueRequest", {"requestId": p["requestId"]}, self.session)
            else:
                self.fail(p.get("networkId") or url, url, reason)
                self.browser.notify("Fetch.failRequest", {"requestId": p["requestId"],
                                    "errorReason": "BlockedByClient"}, self.session)
        elif method == "Network.requestWillBeSent":
            url = p["request"]["url"]
            self.request_urls[p["requestId"]] = url
            self.last_activity = now
            if not url.startswith("data:"):
                self.inflight[p["requestId"]] = now
            reason = self.local_reason(url)
            if reason:
                self.fail(p["requestId"], url, reason)
        elif method == "Network.webSocketCreated":
            reason = self.local_reason(p["url"])
            if reason:
                self.fail(p["requestId"], p["url"], reason)
        elif method == "Network.responseReceived":
            status = p["response"].get("status") or 0
            url = p["response"].get("url", "")
            # Over http the browser asks for /favicon.ico on its own when a page names no icon.
            implicit_icon = p.get("type") == "Other" and urlsplit(url).path == "/favicon.ico"
            if url.startswith("http") and status >= 400 and not implicit_icon:
                self.fail(p["requestId"], url, f"HTTP {status}")
        elif method in ("Network.loadingFinished", "Network.loadingFailed"):
            self.last_activity = now
            self.inflight.pop(p["requestId"], None)
            if method == "Network.loadingFailed":
                why = p.get("errorText", "failed")
                for extra in ("blockedReason", "corsErrorStatus"):
                    if p.get(extra):
                        why += f" ({extra}: {json.dumps(p[extra])})"
                if p.get("canceled"):
                    why += " (canceled)"
                self.fail(p["requestId"], self.request_urls.get(p["requestId"], "?"), why)
        elif method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            text = (d.get("exception") or {}).get("description") or d.get("text", "exception")
            where = f" at {shorten(d['url'])}:{d.get('lineNumber', 0) + 1}" if d.get("url") else ""
            self.console.append(f"uncaught {text.splitlines()[0][:200]}{where}")
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", a.get("type"))))
                            for a in p.get("args", []))
            self.console.append(f"console.{p['type']}: {args[:200]}")
        elif method == "Log.entryAdded":
            e = p["entry"]
            # Network entries ("Failed to load resource") duplicate the failed requests above.
            if e.get("level") == "error" and e.get("source") != "network":
                where = f" ({shorten(e['url'])})" if e.get("url") else ""
                self.console.append(f"{e.get('source', 'log')}: {e.get('text', '')[:200]}{where}")
        elif method == "Page.loadEventFired":
            self.loaded = True

    def run(self, timeout: float, settle: float, grace: float, screenshot: Path | None, width: int,
            max_height: int) -> dict:
        b = self.browser
        start = time.monotonic()
        # A fresh browser context per page: no cache, cookies or localStorage from pages checked
        # before, so each page is checked as a first visit.
        context = b.call("Target.createBrowserContext", {"disposeOnDetach": True})["browserContextId"]
        target = b.call("Target.createTarget", {"url": "about:blank",
                                                "browserContextId": context})["targetId"]
        self.session = b.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        b.on_session(self.session, self.on_event)
        s = self.session
        try:
            for method, params in (("Network.enable", {}), ("Runtime.enable", {}), ("Log.enable", {}),
                                   ("Page.enable", {}),
                                   ("Network.setCacheDisabled", {"cacheDisabled": True}),
                                   ("Fetch.enable", {"patterns": [{"urlPattern": "*"}]})):
                b.call(method, params, s)
            b.call("Emulation.setDeviceMetricsOverride",
                   {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, s)
            nav = b.call("Page.navigate", {"url": self.url}, s)
            if nav.get("errorText"):
                self.fail("navigate", self.url, nav["errorText"])
            state = self.settle(start + timeout, settle, grace)
            if state.get("mathjax") == "done":
                state["texErrors"] = self.evaluate(TEX_ERRORS_JS)
            result = self.result(state, time.monotonic() - start)
            if screenshot is not None:
                result["screenshot"] = self.screenshot(screenshot, width, max_height)
            return result
        finally:
            for method, params in (("Target.closeTarget", {"targetId": target}),
                                   ("Target.disposeBrowserContext", {"browserContextId": context})):
                try:
                    b.call(method, params, timeout=10)
                except BrowserError:
                    pass
            b.on_session(self.session, None)

    def evaluate(self, expression: str) -> dict:
        r = self.browser.call("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                              self.session)
        if "exceptionDetails" in r:
            raise BrowserError("check script failed: " + json.dumps(r["exceptionDetails"])[:300])
        value = r.get("result", {}).get("value")
        return {} if value is None else value

    def settle(self, deadline: float, quiet: float, grace: float) -> dict:
        """Poll until the page loaded, MathJax finished, the network was quiet for `quiet` seconds
        and every figure rendered; a figure still missing then gets `grace` seconds without any
        change on the page before the page counts as settled. Past the deadline the page counts as
        not settled, and the state says what is missing."""
        watching = False
        state: dict = {}
        last_key, last_change = None, time.monotonic()
        while True:
            self.browser.pump(0.2)
            now = time.monotonic()
            if not self.loaded and now < deadline:
                continue
            state = self.evaluate(STATE_JS)
            if state.get("mathjaxLoaded") and not watching:
                self.evaluate(WATCH_MATHJAX_JS)
                watching = True
                continue
            key = (state.get("rendered"), state.get("figures"), state.get("mjx"), state.get("mathjax"),
                   len(self.request_urls))
            if key != last_key:
                last_key, last_change = key, now
            net_quiet = (not [t for t in self.inflight.values() if now - t < 10]
                         and now - self.last_activity >= quiet)
            math_done = not state.get("mathjaxLoaded") or state.get("mathjax") is not None
            loaded = state.get("ready") == "complete" and net_quiet and math_done
            figures_done = state.get("rendered") == state.get("figures")
            if loaded and (figures_done or now - last_change >= grace):
                state["timed_out"] = False
                return state
            if now >= deadline:
                state["timed_out"] = True
                return state

    def result(self, state: dict, seconds: float) -> dict:
        expected, where = expected_figures(self.book, self.page)
        expected = max(expected, state.get("figures", 0))
        problems: list[str] = []
        rendered = state.get("rendered", 0)
        if rendered < expected:
            problems.append(f"{expected - rendered} of {expected} figures not rendered"
                            + (f" (expected from the {where})" if state.get("figures", 0) < expected else ""))
            problems += [f"  figure {u}" for u in state.get("unrendered", [])]
        math, math_rendered = state.get("math", 0), state.get("mathRendered", 0)
        math_ok = True
        if math and not state.get("mathjaxLoaded"):
            math_ok = False
            problems.append(f"MathJax did not load, {math} math elements left as raw TeX")
        elif math and math_rendered < math:
            math_ok = False
            problems.append(f"{math - math_rendered} of {math} math elements not typeset by MathJax")
        if str(state.get("mathjax") or "").startswith("error"):
            math_ok = False
            problems.append(f"MathJax startup failed: {state['mathjax']}")
        tex_errors = state.get("texErrors") or state.get("merror")
        if tex_errors:
            math_ok = False
            problems.append(f"{len(tex_errors)} TeX error(s) (merror or undefined macro): "
                            + " | ".join(tex_errors[:5]))
        if state.get("raw"):
            math_ok = False
            problems.append("raw TeX left in the text: " + " | ".join(state["raw"]))
        if state.get("timed_out"):
            problems.append("the page did not settle before the timeout")
        failed = sorted(set(self.failed.values()))
        problems += [f"request failed: {f}" for f in failed]
        problems += [f"console error: {c}" for c in self.console]
        return {
            "page": self.page, "url": self.url, "ok": not problems, "problems": problems,
            "figures_rendered": rendered, "figures_expected": expected,
            "math_elements": math, "math_rendered": math_rendered, "mathjax_containers": state.get("mjx", 0),
            "math_ok": math_ok, "failed_requests": failed, "console_errors": list(self.console),
            "seconds": round(seconds, 2), "height": state.get("height"),
        }

    def screenshot(self, path: Path, width: int, max_height: int) -> str:
        """Full page: the viewport is made as tall as the page (then the page settles: plotly redraws
        on resize) and captured whole. Capturing beyond a short viewport instead (captureBeyondViewport)
        sometimes caught the page mid-relayout, its main column shifted off the left edge."""
        b, s = self.browser, self.session
        height = 0
        for _ in range(3):   # the page can grow a little once the viewport is taller
            self.evaluate("window.scrollTo(0, 0)")
            metrics = b.call("Page.getLayoutMetrics", {}, s)
            size = metrics.get("cssContentSize") or metrics.get("contentSize") or {}
            new_height = int(min(max(size.get("height", 900), 1), max_height))
            if new_height == height:
                break
            height = new_height
            b.call("Emulation.setDeviceMetricsOverride",
                   {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, s)
            b.call("Runtime.evaluate", {"expression": FRAMES_JS, "awaitPromise": True}, s)
            b.pump(0.3)
        shot = b.call("Page.captureScreenshot", {
            "format": "png", "fromSurface": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}}, s, timeout=60)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(base64.b64decode(shot["data"]))
        _shrink_png(tmp)
        tmp.replace(path)
        return str(path)


def _shrink_png(path: Path) -> None:
    """A 256-colour palette PNG (a page of text and flat plots: about a quarter of the bytes, no
    visible change), where Pillow is installed; otherwise the file stays as Chromium wrote it."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as im:
        small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, format="PNG", optimize=True)


def shorten(url: str, keep: int = 120) -> str:
    if url.startswith("data:"):
        return url[:40] + "..."
    return url if len(url) <= keep else url[:keep - 3] + "..."


# --------------------------------------------------------------------------- local web server
class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def start_server(book: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(book)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"127.0.0.1:{server.server_address[1]}"


# --------------------------------------------------------------------------- main
def summary_line(r: dict) -> str:
    math = (f"math {r['math_rendered']}/{r['math_elements']} {'ok' if r['math_ok'] else 'FAILED'}"
            if r["math_elements"] else f"math {'none' if r['math_ok'] else 'FAILED'}")
    line = (f"{'PASS' if r['ok'] else 'FAIL'} {r['page']}: figures {r['figures_rendered']}/"
            f"{r['figures_expected']} rendered, {math}, failed requests {len(r['failed_requests'])}, "
            f"console errors {len(r['console_errors'])} ({r['seconds']:.1f} s)")
    if r.get("screenshot"):
        line += f"; screenshot {display_path(r['screenshot'])}"
    return line


def display_path(path: str) -> str:
    try:
        return Path(path).resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pages", nargs="*", help="pages to check: paths under the book (executed/"
                    "03_bias_evidence.html) or page names (03_bias_evidence); default: chapter 3")
    ap.add_argument("--book", type=Path, default=DEFAULT_BOOK, help="built HTML book (default _build/html)")
    ap.add_argument("--all", action="store_true", help="check every page of the book's table of contents")
    ap.add_argument("--http", action="store_true",
                    help="serve the book from 127.0.0.1 instead of opening it over file://")
    ap.add_argument("--chromium", help="browser binary (default: $CHROMIUM, else chromium on PATH)")
    ap.add_argument("--browser-arg", action="append", default=[], metavar="FLAG",
                    help="extra Chromium flag, e.g. --browser-arg=--no-sandbox (repeatable)")
    ap.add_argument("--skip-if-no-browser", action="store_true",
                    help="exit 0 with a note when no Chromium is installed or it cannot start")
    ap.add_argument("--screenshot-dir", type=Path, default=DEFAULT_SCREENSHOT_DIR,
                    help="where screenshots go, as PAGE_NAME.png (default docs/screenshots)")
    ap.add_argument("--screenshot", action="append", metavar="PAGE_NAME",
                    help="page name to screenshot (repeatable; 'all' for every page checked; "
                         "default 03_bias_evidence)")
    ap.add_argument("--no-screenshots", action="store_true", help="write no screenshot")
    ap.add_argument("--width", type=int, default=1280, help="viewport width (default 1280)")
    ap.add_argument("--max-height", type=int, default=30000,
                    help="cap on a screenshot's height in pixels (default 30000)")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per page (default 60)")
    ap.add_argument("--settle", type=float, default=0.5,
                    help="seconds without network activity before a page counts as loaded")
    ap.add_argument("--grace", type=float, default=2.0,
                    help="seconds a loaded page may take to draw a missing figure (default 2)")
    ap.add_argument("--json", type=Path, help="also write the full results as JSON here")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every problem, not only the first 20")
    args = ap.parse_args(argv)

    book = args.book.resolve()
    if not (book / "index.html").is_file() and not any(book.glob("*.html")):
        print(f"check_book_browser: no built book at {book} (run scripts/build_book.sh)", file=sys.stderr)
        return 2
    if args.all and args.pages:
        ap.error("give pages or --all, not both")
    try:
        pages = toc_pages(book) if args.all else [resolve_page(book, p) for p in args.pages or DEFAULT_PAGES]
    except UsageError as exc:
        print(f"check_book_browser: {exc}", file=sys.stderr)
        return 2
    if not pages:
        print(f"check_book_browser: no pages found in {book}", file=sys.stderr)
        return 2

    binary = find_browser(args.chromium)
    if binary is None:
        msg = ("check_book_browser: no Chromium found (install it: apt-get install chromium, or set "
               "CHROMIUM / --chromium)")
        if args.skip_if_no_browser:
            print(msg + "; skipping the browser check")
            return 0
        print(msg, file=sys.stderr)
        return 2

    shots = set(args.screenshot or DEFAULT_SCREENSHOT_PAGES)
    started = time.monotonic()
    try:
        browser = Chromium(binary, args.width, 900, args.browser_arg)
    except BrowserError as exc:
        msg = f"check_book_browser: cannot start {binary}: {exc}"
        if args.skip_if_no_browser:  # installed but unusable (no sandbox, missing libraries): same as absent
            print(msg + "; skipping the browser check")
            return 0
        print(msg, file=sys.stderr)
        return 2
    server, host = start_server(book) if args.http else (None, None)
    base = f"http://{host}/" if host else book.as_uri() + "/"
    results: list[dict] = []
    try:
        print(f"check_book_browser: {browser.version}, {len(pages)} page(s) of {display_path(str(book))}"
              f" over {'http://' + host if host else 'file://'}", flush=True)
        for page in pages:
            name = Path(page).stem
            shot = None
            if not args.no_screenshots and ("all" in shots or name in shots or page in shots):
                shot = args.screenshot_dir.resolve() / f"{name}.png"
            try:
                r = PageCheck(browser, book, page, base, host).run(
                    args.timeout, args.settle, args.grace, shot, args.width, args.max_height)
            except BrowserError as exc:
                r = {"page": page, "ok": False, "problems": [f"browser: {exc}"], "figures_rendered": 0,
                     "figures_expected": expected_figures(book, page)[0], "math_elements": 0,
                     "math_rendered": 0, "math_ok": False, "failed_requests": [], "console_errors": [],
                     "seconds": 0.0}
            results.append(r)
            print(summary_line(r), flush=True)
            limit = None if args.verbose else 20
            for problem in r["problems"][:limit]:
                print(f"    {problem}")
            if limit and len(r["problems"]) > limit:
                print(f"    ... and {len(r['problems']) - limit} more (-v lists them all)")
            if browser.proc.poll() is not None:
                print("check_book_browser: Chromium exited; the remaining pages are not checked")
                break
    finally:
        browser.close()
        if server:
            server.shutdown()
    bad = [r for r in results if not r["ok"]]
    print(f"check_book_browser: {len(results) - len(bad)}/{len(pages)} page(s) passed in "
          f"{time.monotonic() - started:.1f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"book": str(book), "browser": browser.version,
                                         "pages": results}, indent=2) + "\n")
    return 1 if bad or len(results) < len(pages) else 0


if __name__ == "__main__":
    sys.exit(main())
