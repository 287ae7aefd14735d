"""Open an HTML file in headless Chromium over the DevTools protocol (CDP) and inspect it.

A real browser, no fakes: Chromium is started with a remote-debugging port, the
page target is driven over a websocket (tornado's client, which distributed
already depends on), and everything the page does is recorded — console
messages, uncaught exceptions, log entries and every network request. The
screenshot is decoded by the browser itself (a canvas), so no imaging library
is needed to count the pixels of each chart.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",  # software WebGL (parallel coordinates) without a warning
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
)

# In the page: the bounding box of every chart.
_CHART_BOXES = """
Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => {
  const r = el.getBoundingClientRect();
  return {id: el.id, x: r.left + window.scrollX, y: r.top + window.scrollY,
          w: r.width, h: r.height};
})
"""

# In the page: decode the screenshot on a canvas, count non-white pixels per chart box.
_COUNT_PIXELS = """
(async (png, boxes) => {
  const img = new Image();
  img.src = 'data:image/png;base64,' + png;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.width; canvas.height = img.height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  return boxes.map(b => {
    const w = Math.max(1, Math.floor(b.w)), h = Math.max(1, Math.floor(b.h));
    const d = ctx.getImageData(Math.floor(b.x), Math.floor(b.y), w, h).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i] < 235 || d[i + 1] < 235 || d[i + 2] < 235) n++;
    }
    return {id: b.id, ink: n, area: w * h};
  });
})
"""


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary on PATH, or None."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageReport:
    """What the page did while it loaded and rendered."""

    console: list[tuple[str, str]] = field(default_factory=list)  # (level, text)
    exceptions: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    charts: list[dict[str, Any]] = field(default_factory=list)  # id, ink, area
    screenshot: bytes = b""

    @property
    def errors(self) -> list[str]:
        """Console errors and uncaught exceptions."""
        return [t for level, t in self.console if level == "error"] + self.exceptions


class _Cdp:
    """A minimal CDP client on one page target."""

    def __init__(self, ws: Any, report: PageReport) -> None:
        self.ws, self.report, self.next_id = ws, report, 0
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        my_id = self.next_id
        await self.ws.write_message(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = await self._read()
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"CDP {method} failed: {msg['error']}")
                return msg.get("result", {})

    async def wait_event(self, method: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {method} within {timeout}s")
            await asyncio.wait_for(self._read(), left)

    async def evaluate(self, expression: str) -> Any:
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluation failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def _read(self) -> dict[str, Any]:
        raw = await self.ws.read_message()
        if raw is None:
            raise RuntimeError("the browser closed the DevTools connection")
        msg = json.loads(raw)
        if "method" in msg:
            self.events.append(msg)
            self._record(msg["method"], msg.get("params", {}))
        return msg

    def _record(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            self.report.console.append((params["type"], text))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            exc = details.get("exception", {}).get("description") or details.get("text")
            self.report.exceptions.append(str(exc))
        elif method == "Log.entryAdded":
            entry = params["entry"]
            self.report.console.append((entry["level"], entry.get("text", "")))
        elif method == "Network.requestWillBeSent":
            self.report.requests.append(params["request"]["url"])


async def _inspect(ws_url: str, url: str, width: int, settle_s: float) -> PageReport:
    from tornado.websocket import websocket_connect

    report = PageReport()
    ws = await websocket_connect(ws_url, max_message_size=512 * 1024 * 1024)
    try:
        cdp = _Cdp(ws, report)
        for domain in ("Page", "Runtime", "Log", "Network"):
            await cdp.call(f"{domain}.enable")
        await cdp.call("Emulation.setDeviceMetricsOverride", width=width, height=900,
                       deviceScaleFactor=1, mobile=False)  # fmt: skip
        await cdp.call("Page.navigate", url=url)
        await cdp.wait_event("Page.loadEventFired", timeout=60)
        await asyncio.sleep(settle_s)  # plotly draws after load; let every chart finish
        report.counts = await cdp.evaluate(
            "({plots: document.querySelectorAll('.js-plotly-plot').length,"
            " svgs: document.querySelectorAll('.js-plotly-plot svg.main-svg').length,"
            " sections: document.querySelectorAll('section').length})"
        )
        height = int(await cdp.evaluate("document.documentElement.scrollHeight"))
        await cdp.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                       deviceScaleFactor=1, mobile=False)  # fmt: skip
        await asyncio.sleep(settle_s)  # charts are responsive: let them redraw at the new size
        boxes = await cdp.evaluate(_CHART_BOXES)
        shot = await cdp.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        report.screenshot = base64.b64decode(shot["data"])
        report.charts = await cdp.evaluate(
            f"{_COUNT_PIXELS}({json.dumps(shot['data'])}, {json.dumps(boxes)})"
        )
        await asyncio.sleep(0.2)  # late console messages
    finally:
        ws.close()
    return report


def inspect_page(
    path: Path, *, chromium: str, width: int = 1400, settle_s: float = 2.0
) -> PageReport:
    """Load ``path`` in headless Chromium; return its console, requests, charts and screenshot."""
    profile = tempfile.mkdtemp(prefix="daskcloud-chromium-")
    proc = subprocess.Popen(
        [chromium, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = _devtools_port(proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            targets = json.load(resp)
        page = next(t for t in targets if t.get("type") == "page")
        return asyncio.run(
            _inspect(page["webSocketDebuggerUrl"], path.resolve().as_uri(), width, settle_s)
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


def _devtools_port(proc: subprocess.Popen[str], timeout: float = 60) -> int:
    """The port from Chromium's 'DevTools listening on ws://127.0.0.1:PORT/...' line."""
    deadline = time.monotonic() + timeout
    seen = []
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
        if match:
            # keep draining stderr, or Chromium blocks once the pipe is full
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return int(match.group(1))
    raise RuntimeError("Chromium did not start its DevTools server:\n" + "".join(seen[-20:]))
