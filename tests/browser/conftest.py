"""
Fixtures of the browser tests: a running service per test, and Debian's
Chromium driven by Playwright's synchronous API, shared by the session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from action_llama.credentials import CredentialStore
from tests.browser.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LISTENING,
    LOGIN_LINK,
    WAIT,
    Gate,
    Served,
    ServiceProcess,
    Tab,
    write_project,
)
from tests.helpers import al_argv


@pytest.fixture
def served(tmp_path: Path, private_home: Path) -> Iterator[Served]:
    """
    ``al start -w`` on the browser tests' project, on a free port, with the
    test's private home.
    """
    gate = Gate(tmp_path / "gate")
    root = write_project(tmp_path / "project", gate)
    env = dict(os.environ, HOME=str(private_home))
    process = ServiceProcess(
        al_argv("start", "-p", str(root), "--port", "0", "-w"), env
    )
    try:
        base = process.wait_for(LISTENING).group(1)
        link = process.wait_for(LOGIN_LINK).group(1)
        key = CredentialStore().gateway_key()
        assert key, "the service created no API key"
        yield Served(base, key, link, gate, process)
    finally:
        gate.close()
        process.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """
    Chromium, headless, from Debian's package; the tests are skipped without
    it, except on CI where its absence fails them.
    """
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "Playwright is not installed (pip install playwright)"
    if reason is None and not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run on CI: {reason}")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    """
    A fresh page at desktop size, with no cookies.
    """
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT * 1000)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    dialogs: list[str] = []

    def dialog_opened(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dialog_opened)
    yield Tab(page, dialogs)
    context.close()
