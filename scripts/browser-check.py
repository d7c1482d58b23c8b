#!/usr/bin/env python3
"""Open an HTML report in headless Chromium, as a person would, at several widths.

    scripts/browser-check.py REPORT.html OUT_DIR [WIDTH ...]

First it parses the page as the HTML standard says (html5lib) and lists every parse error.
Then, for each width (default 1280 and 390, a desktop and a phone), it loads the page, takes a
full-page screenshot (OUT_DIR/NAME-WIDTH.png) and one of the first screen (NAME-WIDTH-top.png) and measures what a test asserts on: messages
on the console (errors, CSP refusals), every request the page made, the page's own width
against the window's (a phone must not scroll sideways), and each SVG figure's drawn size.
It prints one JSON document on stdout and exits 0; it exits 2 when Chromium is missing or
does not answer.

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: commands on
fd 3, answers on fd 4, each a JSON text ending in NUL), so no port is opened and no Python
package beyond html5lib is needed.
"""

import base64
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import html5lib

TIMEOUT_S = 60
MAX_CAPTURE_PX = 12_000
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

MEASURE = """(() => {
  const box = (element) => { const r = element.getBoundingClientRect();
                             return { width: r.width, height: r.height }; };
  return JSON.stringify({
    title: document.title,
    window_width: window.innerWidth,
    page_width: document.documentElement.scrollWidth,
    page_height: document.documentElement.scrollHeight,
    figures: [...document.querySelectorAll('svg')].map((svg) => ({
      class: svg.getAttribute('class'), viewbox: svg.getAttribute('viewBox'), ...box(svg) })),
  });
})()"""


class Browser:
    def __init__(self, executable, profile):
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def wire_fds():
            # Chromium reads fd 3 and writes fd 4. Copied high first, so that neither copy
            # overwrites the other's source; the fds kept open are listed in pass_fds.
            reading, writing = os.dup(to_browser_r) + 100, os.dup(from_browser_w) + 100
            os.dup2(to_browser_r, reading)
            os.dup2(from_browser_w, writing)
            os.dup2(reading, 3)
            os.dup2(writing, 4)

        self.process = subprocess.Popen(
            [executable, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--disable-background-networking", "--disable-sync",
             f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(3, 4),
            preexec_fn=wire_fds)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.next_id = 0
        self.buffer = b""
        self.events = []

    def read_message(self, deadline):
        while b"\0" not in self.buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self.from_browser, 65536)
            if not chunk:
                raise ConnectionError("Chromium closed the pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            reply = self.read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method):
        deadline = time.monotonic() + TIMEOUT_S
        for index, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(index)
        while True:
            event = self.read_message(deadline)
            if event.get("method") == method:
                return event
            self.events.append(event)

    def close(self):
        try:
            self.send("Browser.close")
        except (ConnectionError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def problems_on_console(events):
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
            found.append(" ".join(str(arg.get("value", arg.get("description"))) for arg in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            found.append(params.get("exceptionDetails", {}).get("text", "exception"))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
            found.append(params["entry"].get("text", ""))
    return found


def check(browser, url, width, screenshot):
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        browser.send(f"{domain}.enable", session=session)
    browser.send("Emulation.setDeviceMetricsOverride",
                 {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600}, session)
    browser.events.clear()
    browser.send("Page.navigate", {"url": url}, session)
    browser.wait_for("Page.loadEventFired")
    measured = json.loads(browser.send("Runtime.evaluate", {"expression": MEASURE, "returnByValue": True},
                                       session)["result"]["value"])
    # Chromium refuses a capture past about 16,000 px: a long page is cut there.
    height = min(measured["page_height"], MAX_CAPTURE_PX)
    clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
    shot = browser.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip},
                        session)
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    # The first screen alone, as a person sees it on opening the page (for documentation).
    top = browser.send("Page.captureScreenshot", {"format": "png"}, session)
    screenshot.with_name(f"{screenshot.stem}-top.png").write_bytes(base64.b64decode(top["data"]))
    requests = [event["params"]["request"]["url"] for event in browser.events
                if event.get("method") == "Network.requestWillBeSent"]
    measured.update({"width": width, "console": problems_on_console(browser.events), "requests": requests,
                     "screenshot": str(screenshot)})
    browser.send("Target.closeTarget", {"targetId": target})
    return measured


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    report = pathlib.Path(sys.argv[1]).resolve()
    out_dir = pathlib.Path(sys.argv[2])
    widths = [int(width) for width in sys.argv[3:]] or [1280, 390]
    executable = next(filter(None, map(shutil.which, BROWSERS)), None)
    if executable is None:
        print("browser-check: no Chromium on PATH (scripts/test installs Debian's `chromium`)", file=sys.stderr)
        return 2
    parser = html5lib.HTMLParser(strict=False)
    parser.parse(report.read_bytes())
    html_errors = [f"line {line}, column {column}: {code} {data or ''}".strip()
                   for (line, column), code, data in parser.errors]
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        browser = Browser(executable, profile)
        try:
            results = [check(browser, report.as_uri(), width, out_dir / f"{report.stem}-{width}.png")
                       for width in widths]
        except (TimeoutError, ConnectionError, RuntimeError) as error:
            print(f"browser-check: {executable}: {error}", file=sys.stderr)
            return 2
        finally:
            browser.close()
    json.dump({"browser": executable, "html_errors": html_errors, "pages": results}, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
