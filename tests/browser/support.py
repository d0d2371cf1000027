"""
What the browser tests share: the service in a process of its own (``al
start -w`` on a small project of script agents), and helpers for pages.

The service runs the Twisted reactor in its own process because
Playwright's synchronous calls block this one. Its output is read by a
thread, and waits on it are waits on a condition, never sleeps.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from attrs import define

from tests.helpers import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO / "artifacts" / "screenshots"
LISTENING = r"Gateway listening on (http://\S+)"
LOGIN_LINK = r"Dashboard login link \(single use, 10 minutes\): (http://\S+)"

#: A line of markup that must reach every page as text.
SCRIPT = "<script>alert(1)</script>"

#: Seconds a wait on the service may take before the test fails.
WAIT = 20.0


class Gate:
    """
    A FIFO that a hook waits on (``read -r _ < <gate>``) until the test
    lets it through, so the test decides when a run ends.

    The test holds the FIFO open for reading and writing, so a hook's open
    never blocks and a line written early waits in the pipe.
    """

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)

    def release(self) -> None:
        """
        Let one waiting (or future) hook through.
        """
        os.write(self._fd, b"go\n")

    def close(self) -> None:
        """
        Close the test's end; a hook still waiting reads end of file.
        """
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def write_project(root: Path, gate: Gate) -> Path:
    """
    Write the project the browser tests run: ``gated`` waits at ``gate``,
    ``chatty`` writes many lines, ``broken`` fails, ``pusher`` runs on
    GitHub pushes to an unsigned source.
    """
    agents: dict[str, dict[str, Any]] = {
        "gated": {
            "pre": [
                f"echo 'gated run begins {SCRIPT}'",
                f"al-status '{SCRIPT} waiting at the gate'",
                "echo 'careful now' >&2",
                f"read -r _ < {gate.path}",
                "echo 'gate opened'",
            ]
        },
        "chatty": {"pre": ['for i in $(seq 150); do echo "chatty line $i"; done']},
        "broken": {"pre": ["echo 'about to fail' >&2", "exit 3"]},
        "pusher": {
            "webhooks": 'source = "local-github"\nevents = ["push"]',
            "pre": ["echo 'push received'"],
        },
    }
    root.mkdir(parents=True)
    (root / "config.toml").write_text('[webhooks.local-github]\ntype = "github"\n')
    for name, settings in agents.items():
        directory = root / "agents" / name
        directory.mkdir(parents=True)
        (directory / "SKILL.md").write_text(f"---\ndescription: {name}\n---\nRun.\n")
        config = "timeout = 60\n"
        if "webhooks" in settings:
            config += f"\n[[webhooks]]\n{settings['webhooks']}\n"
        else:
            config += 'schedule = "0 0 1 1 *"\n'
        config += f"\n[hooks]\npre = {json.dumps(settings['pre'])}\n"
        (directory / "config.toml").write_text(config)
    return root


class ServiceProcess:
    """
    ``al start`` in a child process, its output collected line by line by
    a thread so that lines can be awaited.
    """

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.output: list[str] = []
        self._ended = False
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.output.append(line)
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def wait_for(self, pattern: str, timeout: float = WAIT) -> re.Match[str]:
        """
        The first match of ``pattern`` in a line of output, so far or to
        come.

        :raises AssertionError: if the process ends or ``timeout`` passes
            first.
        """
        compiled = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            seen = 0
            while True:
                for line in self.output[seen:]:
                    match = compiled.search(line)
                    if match:
                        return match
                seen = len(self.output)
                left = deadline - time.monotonic()
                if self._ended or left <= 0:
                    why = "the service ended" if self._ended else "timed out"
                    output = "".join(self.output)
                    raise AssertionError(f"{why} waiting for {pattern!r}:\n{output}")
                self._changed.wait(left)

    def stop(self) -> None:
        """
        Stop the service as systemd would (SIGTERM), and wait for it.
        """
        self.process.terminate()
        try:
            self.process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@define
class Served:
    """
    A running service and what a test needs to reach it.

    :ivar link: the one-time login link the service printed at start.
    """

    base: str
    key: str
    link: str
    gate: Gate
    process: ServiceProcess

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        bearer: bool = True,
    ) -> tuple[int, Any]:
        """
        Send a request to the gateway (with the key unless ``bearer`` is
        false).

        :returns: the status code and the decoded JSON body.
        """
        all_headers = dict(headers or {})
        if bearer:
            all_headers["Authorization"] = f"Bearer {self.key}"
        request = urllib.request.Request(
            self.base + path, data=body, method=method, headers=all_headers
        )
        try:
            with urllib.request.urlopen(request, timeout=WAIT) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, json.loads(raw) if raw.startswith(b"{") else raw

    def trigger(self, agent: str) -> str:
        """
        Run ``agent`` now through the control API.

        :returns: the new run's instance id.
        """
        code, answer = self.request("POST", f"/control/trigger/{agent}")
        assert code == 200 and answer["outcome"] == "started", answer
        return str(answer["instanceId"])


@define
class Tab:
    """
    A page in a fresh browser context, and the dialogs it tried to open
    (none should: a dialog means some text ran as script).
    """

    page: Any
    dialogs: list[str]


def log_in(tab: Tab, served: Served) -> None:
    """
    Log in by pasting the key into the login form, and wait for the
    dashboard to be live.
    """
    page = tab.page
    page.goto(served.base + "/login")
    page.fill("input[name=key]", served.key)
    page.press("input[name=key]", "Enter")
    page.wait_for_url(served.base + "/dashboard/")
    page.wait_for_selector("#conn.up")


def screenshot(tab: Tab, name: str) -> None:
    """
    Save the page as it looks on a desktop and on a 375 px phone, into
    ``artifacts/screenshots``.
    """
    page = tab.page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    page.screenshot(path=str(SCREENSHOTS / f"{name}-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 812})
    page.screenshot(path=str(SCREENSHOTS / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(size)


def expect(target: Any) -> Any:
    """
    Playwright's ``expect``, imported only once a browser fixture has made
    sure Playwright is there.
    """
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)
