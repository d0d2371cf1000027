"""
The service as a user starts it: ``al start`` and ``twistd -n action-llama``
as real processes, and ``makeService`` on the real reactor, answering
``/health`` on an ephemeral port.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.logger import capturedLogs

from action_llama import __version__
from action_llama.config import load_project
from action_llama.credentials import CredentialStore
from action_llama.service import ServiceOptions, makeService
from tests.helpers import QUICKSTART, al_argv, copy_project, spawn, twistd_argv

LISTENING = r"Gateway listening on (http://127\.0\.0\.1:\d+)"


async def get_json(url: str) -> tuple[int, dict[str, object]]:
    """
    GET ``url`` and decode its JSON body.
    """
    response = await treq.get(url)
    body = await response.json()
    return response.code, body


@pytest_twisted.ensureDeferred
async def test_health_answers_from_make_service(
    tmp_path: Path, private_home: Path
) -> None:
    """
    The service built by makeService answers /health with status, version,
    uptime and agent count, and creates the API key 0600 under 0700 dirs.
    """
    project = load_project(copy_project(QUICKSTART, tmp_path / "p"))
    service = makeService(ServiceOptions(project, port=0), reactor)
    service.startService()
    try:
        port = await service.getServiceNamed("gateway").when_listening()
        code, body = await get_json(f"http://127.0.0.1:{port.getHost().port}/health")
    finally:
        await service.stopService()
    assert code == 200
    assert body["status"] == "ok"
    assert body["version"] == __version__
    assert body["agents"] == 3
    assert isinstance(body["uptime"], float)
    key_path = CredentialStore().gateway_key_path()
    assert key_path.is_relative_to(private_home)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(key_path.parent.parent.stat().st_mode) == 0o700


@pytest_twisted.ensureDeferred
async def test_api_key_is_reused_after_first_start(tmp_path: Path) -> None:
    """
    A second start keeps the key the first one created.
    """
    project = load_project(copy_project(QUICKSTART, tmp_path / "p"))
    makeService(ServiceOptions(project, port=0), reactor)
    first = CredentialStore().gateway_key()
    makeService(ServiceOptions(project, port=0), reactor)
    assert first and CredentialStore().gateway_key() == first


@pytest_twisted.ensureDeferred
async def test_unknown_route_is_a_json_404(tmp_path: Path) -> None:
    """
    A route the gateway does not have gets a JSON 404, not an HTML page.
    """
    project = load_project(copy_project(QUICKSTART, tmp_path / "p"))
    service = makeService(ServiceOptions(project, port=0), reactor)
    service.startService()
    try:
        port = await service.getServiceNamed("gateway").when_listening()
        base = f"http://127.0.0.1:{port.getHost().port}"
        code, body = await get_json(base + "/no/such/thing")
        response = await treq.post(base + "/health")
        allow = response.headers.getRawHeaders("allow")
        await response.content()
    finally:
        await service.stopService()
    assert code == 404 and "error" in body
    assert response.code == 405 and allow and "GET" in allow[0]


@pytest_twisted.ensureDeferred
async def test_deprecated_dashboard_secret_is_warned_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    AL_DASHBOARD_SECRET in the environment logs one warning naming al doctor.
    """
    monkeypatch.setenv("AL_DASHBOARD_SECRET", "old-secret")
    project = load_project(copy_project(QUICKSTART, tmp_path / "p"))
    service = makeService(ServiceOptions(project, port=0), reactor)
    with capturedLogs() as events:
        service.startService()
    try:
        await service.getServiceNamed("gateway").when_listening()
    finally:
        await service.stopService()
    warnings = [e for e in events if "AL_DASHBOARD_SECRET" in e.get("log_format", "")]
    assert len(warnings) == 1
    assert "al doctor" in warnings[0]["log_format"]


@pytest_twisted.ensureDeferred
async def test_al_start_serves_health_then_stops_on_sigterm(tmp_path: Path) -> None:
    """
    ``al start`` in a real process logs its facts, answers /health, writes
    JSON log lines, and exits 0 on SIGTERM.
    """
    root = copy_project(QUICKSTART, tmp_path / "p")
    process = spawn(reactor, al_argv("start", "-p", str(root), "--port", "0", "-w"))
    match = await process.wait_for(LISTENING, reactor)
    code, body = await get_json(match.group(1) + "/health")
    await process.wait_for(r"Dashboard at http://127\.0\.0\.1:\d+/dashboard", reactor)
    process.signal("TERM")
    exit_code = await process.ended
    assert code == 200 and body["status"] == "ok"
    assert exit_code == 0, process.output
    assert "3 agent(s) found: heartbeat, on-push, triage" in process.output
    assert f"Project {root}" in process.output
    [log_file] = (root / ".al" / "logs").glob("scheduler-*.log")
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert any("Gateway listening" in line["message"] for line in lines)
    assert all({"time", "level", "source", "message"} <= set(line) for line in lines)


@pytest_twisted.ensureDeferred
async def test_twistd_plugin_serves_health(tmp_path: Path) -> None:
    """
    ``twistd -n action-llama --project DIR`` is the same service.
    """
    root = copy_project(QUICKSTART, tmp_path / "p")
    process = spawn(
        reactor,
        twistd_argv(
            "-n", "--pidfile=", "action-llama", "--project", str(root), "--port", "0"
        ),
        cwd=tmp_path,
    )
    match = await process.wait_for(LISTENING, reactor)
    code, body = await get_json(match.group(1) + "/health")
    process.signal("TERM")
    await process.ended
    assert code == 200 and body["agents"] == 3


@pytest_twisted.ensureDeferred
async def test_al_start_refuses_a_busy_port(tmp_path: Path) -> None:
    """
    A port that is taken ends ``al start`` with code 1 and a clear line.
    """
    first_root = copy_project(QUICKSTART, tmp_path / "first")
    second_root = copy_project(QUICKSTART, tmp_path / "second")
    first = spawn(reactor, al_argv("start", "-p", str(first_root), "--port", "0"))
    match = await first.wait_for(LISTENING, reactor)
    port = match.group(1).rsplit(":", 1)[1]
    second = spawn(reactor, al_argv("start", "-p", str(second_root), "--port", port))
    second_code = await second.ended
    first.signal("TERM")
    await first.ended
    assert second_code == 1
    assert f"could not listen on 127.0.0.1:{port}" in second.output


@pytest_twisted.ensureDeferred
async def test_second_service_on_one_project_is_refused(tmp_path: Path) -> None:
    """
    A second ``al start`` on a project that is already running exits 1 and
    says which process holds it.
    """
    root = copy_project(QUICKSTART, tmp_path / "p")
    first = spawn(reactor, al_argv("start", "-p", str(root), "--port", "0"))
    await first.wait_for(LISTENING, reactor)
    second = spawn(reactor, al_argv("start", "-p", str(root), "--port", "0"))
    second_code = await second.ended
    first.signal("TERM")
    await first.ended
    assert second_code == 1
    assert "another action-llama service (pid" in second.output
