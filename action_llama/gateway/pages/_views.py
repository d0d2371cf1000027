"""
The dashboard pages as HTML strings.

Every value that came from outside (agent names, status text, log lines,
run fields) goes through ``_e`` (``html.escape``) before it is written into
the page; the scripts then keep the page up to date without ever parsing
data as HTML.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from typing import Any
from urllib.parse import quote

from ...logs import iso_time
from ._script import COMMON, LOGS, OVERVIEW, RUN, TRIGGERS
from ._style import STYLE

_DASH = "\u2014"

#: The facts of the run page: label, field of the run's JSON, format.
_RUN_FACTS = (
    ("Outcome", "result", "outcome"),
    ("Trigger", "triggerType", "text"),
    ("Source", "triggerSource", "text"),
    ("Started", "startedAt", "time"),
    ("Ended", "endedAt", "time"),
    ("Duration", "durationMs", "duration"),
    ("Exit code", "exitCode", "text"),
    ("Status", "statusText", "text"),
    ("Return value", "returnValue", "text"),
    ("Error", "errorMessage", "text"),
    ("Context", "context", "json"),
)


def content_security_policy(nonce: str) -> bytes:
    """
    The ``Content-Security-Policy`` of a page whose inline style and script
    carry ``nonce``: nothing else runs, even if some text escaped escaping.
    """
    return (
        f"default-src 'none'; script-src 'nonce-{nonce}'; "
        f"style-src 'nonce-{nonce}'; connect-src 'self'; img-src data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ).encode("ascii")


def _e(value: object) -> str:
    """
    ``value`` as text that is safe in HTML content and quoted attributes.
    """
    return escape(str(value))


def _agent_href(agent: str) -> str:
    """
    The address of ``agent``'s logs page, escaped for an attribute.
    """
    return _e(f"/dashboard/agents/{quote(agent, safe='')}/logs")


def _time(iso: str | None, clock_only: bool = False) -> str:
    """
    A ``<time>`` in UTC; the page's script shows it in local time.
    """
    if not iso:
        return _DASH
    shown = iso[11:19] if clock_only else iso[:19].replace("T", " ") + " UTC"
    cls = ' class="clock"' if clock_only else ""
    return f'<time datetime="{_e(iso)}"{cls}>{_e(shown)}</time>'


def _duration(seconds: float | None) -> str:
    """
    A duration as the pages show it (the script's ``fmtDuration``).
    """
    if seconds is None:
        return _DASH
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min {int(seconds % 60)} s"
    return f"{minutes // 60} h {minutes % 60} min"


def _badge(state: object) -> str:
    """
    A state as a coloured label (the script's ``badge``).
    """
    return f'<span class="badge state-{_e(state)}">{_e(state)}</span>'


def _log_line(record: Mapping[str, Any]) -> str:
    """
    One line of "Recent activity" (the script's ``logLine``).
    """
    level = str(record.get("level") or "info")
    agent = str(record.get("agent", ""))
    return (
        f'<li class="level-{_e(level)}">{_time(record.get("time"), True)} '
        f'<span class="level">{_e(level.upper().ljust(5))}</span> '
        f'<a href="{_agent_href(agent)}">{_e(agent)}</a> '
        f'<span class="message">{_e(record.get("message", ""))}</span></li>'
    )


def _layout(
    title: str,
    nonce: str,
    main: str,
    script: str = "",
    bar: str = "",
    main_attributes: str = "",
) -> str:
    """
    A whole page: the bar (with Logout), the notice line, ``main``, and the
    common script followed by ``script``.

    :param bar: more of the bar, between the links and Logout.
    :param main_attributes: attributes of ``<main>``, already escaped.
    """
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<link rel="icon" href="data:,">
<title>{_e(title)} · action-llama</title>
<style nonce="{nonce}">{STYLE}</style>
</head>
<body>
<header class="bar">
<a class="brand" href="/dashboard/">action-llama</a>
<nav><a href="/dashboard/">Agents</a><a href="/dashboard/triggers">Triggers</a></nav>
{bar}
<form method="post" action="/logout"><button type="submit">Log out</button></form>
</header>
<main{main_attributes}>
<p id="notice" class="notice" role="status" aria-live="polite"></p>
{main}
</main>
<script nonce="{nonce}">{COMMON}{script}</script>
</body>
</html>
"""


def _agent_row(agent: Mapping[str, Any]) -> str:
    """
    One row of the agents table (the script's ``agentRow``).
    """
    name = str(agent["name"])
    path = quote(name, safe="")
    state = _badge(agent["state"])
    if agent.get("queueDepth"):
        state += f' <span class="muted">{_e(agent["queueDepth"])} queued</span>'
    last = _time(agent.get("lastRunAt"))
    if agent.get("lastResult"):
        last += f" ({_e(agent['lastResult'])})"
    toggle = "disable" if agent["enabled"] else "enable"
    return f"""<tr data-agent="{_e(name)}">
<td data-label="Agent"><a href="{_agent_href(name)}">{_e(name)}</a></td>
<td data-label="State">{state}</td>
<td data-label="Status" class="status">{_e(agent.get("statusText") or "")}</td>
<td data-label="Last run">{last}</td>
<td data-label="Duration">{_duration(agent.get("lastRunDuration"))}</td>
<td data-label="Next run">{_time(agent.get("nextRunAt"))}</td>
<td class="actions"><button type="button" data-post="/control/trigger/{_e(path)}">Run\
</button><button type="button" data-post="/control/agents/{_e(path)}/{toggle}">\
{toggle.capitalize()}</button></td>
</tr>"""


def overview_page(snapshot: Mapping[str, Any], nonce: str) -> str:
    """
    ``/dashboard``: the scheduler, the agents and the recent activity, from
    ``snapshot``; the status stream keeps it current.
    """
    info = snapshot["schedulerInfo"]
    paused = bool(info["paused"])
    state = "stopping" if info.get("stopping") else "paused" if paused else "running"
    action, label = ("resume", "Resume") if paused else ("pause", "Pause")
    bar = f"""<span>Scheduler <span id="scheduler-state" class="badge state-{state}">\
{state}</span></span>
<button type="button" id="scheduler-toggle" class="primary" \
data-post="/control/{action}">{label}</button>
<span id="conn" class="conn">connecting</span>"""
    rows = "\n".join(_agent_row(agent) for agent in snapshot["agents"])
    lines = [_log_line(record) for record in reversed(snapshot["recentLogs"])]
    activity = "\n".join(lines) or '<li class="muted">Nothing yet.</li>'
    main = f"""<h1>Agents</h1>
<table class="cards">
<thead><tr><th>Agent</th><th>State</th><th>Status</th><th>Last run</th>\
<th>Duration</th><th>Next run</th><th>Actions</th></tr></thead>
<tbody id="agents-body">
{rows}
</tbody>
</table>
<h2>Recent activity</h2>
<ol id="activity" class="log">
{activity}
</ol>"""
    return _layout("Agents", nonce, main, OVERVIEW, bar)


def triggers_page(nonce: str) -> str:
    """
    ``/dashboard/triggers``: the trigger history, filled in by the script
    from ``/api/stats/triggers``.
    """
    main = """<h1>Trigger history</h1>
<div class="toolbar card">
<label><input type="checkbox" id="dead-letter"> Dead letters only</label>
<button type="button" id="refresh">Refresh</button>
</div>
<table class="cards">
<thead><tr><th>Time</th><th>Trigger</th><th>Agent</th><th>Run</th><th>Result</th>\
<th>Receipt</th></tr></thead>
<tbody id="triggers-body"><tr><td colspan="6" class="muted">Loading</td></tr></tbody>
</table>
<div class="toolbar pager">
<button type="button" id="newer" disabled>Newer</button>
<span id="page-info" class="muted"></span>
<button type="button" id="older" disabled>Older</button>
</div>"""
    return _layout("Triggers", nonce, main, TRIGGERS)


def _log_view() -> str:
    """
    The live log box with its controls (the script ``LOGS`` drives it).
    """
    return """<div class="toolbar">
<span id="conn" class="conn">connecting</span>
<span id="follow" class="muted">following</span>
<button type="button" id="clear">Clear</button>
</div>
<ol id="log" class="log scroll" aria-live="off"></ol>"""


def logs_page(agent: str, nonce: str) -> str:
    """
    ``/dashboard/agents/<agent>/logs``: the agent's log, live.
    """
    main = f"<h1>Logs of {_e(agent)}</h1>\n{_log_view()}"
    return _layout(
        f"Logs of {agent}",
        nonce,
        main,
        LOGS,
        main_attributes=f' data-agent="{_e(agent)}"',
    )


def _fact(value: Any, kind: str) -> str:
    """
    One fact of a run as HTML (the script's ``formatFact``).
    """
    if value is None or value == "":
        return _DASH
    if kind == "time":
        return _time(iso_time(value / 1000))
    if kind == "duration":
        return _duration(value / 1000)
    if kind == "json":
        return f"<pre>{_e(json.dumps(value, indent=2))}</pre>"
    if kind == "outcome":
        return _badge(value)
    return _e(value)


def run_page(run: Mapping[str, Any], nonce: str) -> str:
    """
    ``/dashboard/runs/<instanceId>``: one run's facts and its log.

    :param run: the run as ``/dashboard/api/runs/<instanceId>`` gives it.
    """
    instance_id = str(run["instanceId"])
    agent = str(run["agentName"])
    running = run["result"] == "running"
    facts = "\n".join(
        f'<dt>{label}</dt><dd data-field="{field}" data-format="{kind}">'
        f"{_fact(run.get(field), kind)}</dd>"
        for label, field, kind in _RUN_FACTS
    )
    kill = (
        f'<button type="button" id="kill" data-post="/control/kill/'
        f'{_e(quote(instance_id, safe=""))}">Kill</button>'
        if running
        else ""
    )
    main = f"""<h1>Run <span class="mono">{_e(instance_id)}</span> of \
<a href="{_agent_href(agent)}">{_e(agent)}</a> {kill}</h1>
<dl id="facts" class="facts card" data-running="{"true" if running else "false"}">
{facts}
</dl>
<h2>Log</h2>
{_log_view()}"""
    attributes = f' data-agent="{_e(agent)}" data-instance="{_e(instance_id)}"'
    return _layout(f"Run {instance_id}", nonce, main, LOGS + RUN, "", attributes)


def not_found_page(title: str, detail: str, nonce: str) -> str:
    """
    A dashboard page for something that does not exist.
    """
    main = f"""<h1>{_e(title)}</h1>
<p>{_e(detail)}</p>
<p><a href="/dashboard/">Back to the agents</a></p>"""
    return _layout(title, nonce, main)
