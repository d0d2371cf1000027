"""
The dashboard's JavaScript, inlined into the pages: ``COMMON`` on every
page, then the script of the page itself.

Data from outside (agent names, log lines, status text, webhook fields) only
ever reaches the page as text: elements are built with ``el``, whose string
children become text nodes, and nothing is assigned to ``innerHTML``.
"""

COMMON = """
"use strict";

/* An element with attributes; string children become text nodes. */
function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value !== null && value !== undefined) node.setAttribute(name, value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

const logsUrl = (agent) => `/dashboard/agents/${encodeURIComponent(agent)}/logs`;
const runUrl = (id) => `/dashboard/runs/${encodeURIComponent(id)}`;
const missing = (value) => value === null || value === undefined || value === "";

function fmtTime(value, clockOnly) {
  const date = new Date(value);
  if (isNaN(date)) return String(value);
  return clockOnly ? date.toLocaleTimeString() : date.toLocaleString();
}

/* A <time> for an ISO string or epoch milliseconds, in local time. */
function timeEl(value, clockOnly) {
  if (missing(value) || isNaN(new Date(value))) return "\\u2014";
  const iso = new Date(value).toISOString();
  return el("time", {datetime: iso, class: clockOnly ? "clock" : null},
    fmtTime(value, clockOnly));
}

function fmtDuration(seconds) {
  if (missing(seconds)) return "\\u2014";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.floor(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function badge(state) {
  return el("span", {class: `badge state-${state}`}, String(state));
}

function notify(...parts) {
  const notice = document.getElementById("notice");
  notice.className = "notice";
  notice.replaceChildren(...parts);
}

function fail(message) {
  notify(message);
  document.getElementById("notice").className = "notice error";
}

/* Call the gateway's API; fails with the reason the gateway gave. */
async function callApi(url, method) {
  const response = await fetch(url, {
    method, credentials: "same-origin", headers: {Accept: "application/json"},
  });
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) {
    throw new Error("Your session has ended: log in again.");
  }
  if (!response.ok) {
    throw new Error(body.error || `The gateway answered ${response.status}.`);
  }
  return body;
}

/*
 * Every action button names the route it posts to in data-post. The answer
 * is sent to the document as a "done" event, a failure as a "failed" event
 * that is shown at the top of the page unless a listener handles it. (The
 * document, not the button: the stream may have replaced the button since.)
 */
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-post]");
  if (!button) return;
  button.disabled = true;
  try {
    const answer = await callApi(button.dataset.post, "POST");
    document.dispatchEvent(new CustomEvent("done", {detail: {button, answer}}));
  } catch (error) {
    const failed = new CustomEvent(
      "failed", {cancelable: true, detail: {button, message: error.message}});
    if (document.dispatchEvent(failed)) fail(error.message);
  } finally {
    button.disabled = false;
  }
});

function watchConnection(source, indicator) {
  const show = (state, text) => {
    indicator.className = `conn ${state}`;
    indicator.textContent = text;
  };
  source.addEventListener("open", () => show("up", "connected"));
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) {
      show("down", "disconnected: reload the page");
    } else {
      show("wait", "reconnecting\\u2026");
    }
  });
}

/* One log record as a line: time, level, [agent], [instance], message. */
function logLine(record, showAgent, showInstance) {
  const level = String(record.level || "info");
  const parts = [timeEl(record.time, true), " ",
    el("span", {class: "level"}, level.toUpperCase().padEnd(5)), " "];
  if (showAgent) parts.push(el("a", {href: logsUrl(record.agent)}, record.agent), " ");
  if (showInstance && record.instance) {
    parts.push(el("a", {class: "instance", href: runUrl(record.instance)},
      record.instance), " ");
  }
  parts.push(el("span", {class: "message"}, String(record.message)));
  return el("li", {class: `level-${level}`}, parts);
}

for (const time of document.querySelectorAll("time[datetime]")) {
  time.textContent = fmtTime(time.dateTime, time.classList.contains("clock"));
}
"""

OVERVIEW = """
const agentsBody = document.getElementById("agents-body");

function agentRow(agent) {
  const name = encodeURIComponent(agent.name);
  const state = [badge(agent.state)];
  if (agent.queueDepth) {
    state.push(el("span", {class: "muted"}, ` ${agent.queueDepth} queued`));
  }
  const last = [timeEl(agent.lastRunAt)];
  if (agent.lastResult) last.push(` (${agent.lastResult})`);
  const toggle = agent.enabled ? "disable" : "enable";
  return el("tr", {"data-agent": agent.name},
    el("td", {"data-label": "Agent"}, el("a", {href: logsUrl(agent.name)}, agent.name)),
    el("td", {"data-label": "State"}, state),
    el("td", {"data-label": "Status", class: "status"}, agent.statusText || ""),
    el("td", {"data-label": "Last run"}, last),
    el("td", {"data-label": "Duration"}, fmtDuration(agent.lastRunDuration)),
    el("td", {"data-label": "Next run"}, timeEl(agent.nextRunAt)),
    el("td", {class: "actions"},
      el("button", {type: "button", "data-post": `/control/trigger/${name}`}, "Run"),
      el("button", {type: "button", "data-post": `/control/agents/${name}/${toggle}`},
        agent.enabled ? "Disable" : "Enable")));
}

function render(snapshot) {
  const info = snapshot.schedulerInfo;
  const state = info.stopping ? "stopping" : info.paused ? "paused" : "running";
  const badgeEl = document.getElementById("scheduler-state");
  badgeEl.className = `badge state-${state}`;
  badgeEl.textContent = state;
  const toggle = document.getElementById("scheduler-toggle");
  toggle.textContent = info.paused ? "Resume" : "Pause";
  toggle.dataset.post = info.paused ? "/control/resume" : "/control/pause";
  agentsBody.replaceChildren(...snapshot.agents.map(agentRow));
  const lines = snapshot.recentLogs.map((r) => logLine(r, true, false)).reverse();
  document.getElementById("activity").replaceChildren(
    ...(lines.length ? lines : [el("li", {class: "muted"}, "Nothing yet.")]));
}

const source = new EventSource("/dashboard/api/status-stream");
watchConnection(source, document.getElementById("conn"));
for (const kind of ["status", "reset"]) {
  source.addEventListener(kind, (event) => render(JSON.parse(event.data)));
}

document.addEventListener("done", (event) => {
  const answer = event.detail.answer;
  if (answer.outcome === "started") {
    notify(`${answer.agent} started: `,
      el("a", {href: runUrl(answer.instanceId)}, answer.instanceId));
  } else if (answer.outcome === "queued") {
    notify(`${answer.agent} is busy: the run is queued.`);
  }
});
"""

LOGS = """
const logMain = document.querySelector("main");
const view = document.getElementById("log");
const followState = document.getElementById("follow");
const onePage = logMain.dataset.instance;
const logQuery = onePage ? `?instance=${encodeURIComponent(onePage)}` : "";
const MAX_LINES = 5000;
let following = true;
let last = null;

const logSource = new EventSource(
  `/dashboard/api/logs/${encodeURIComponent(logMain.dataset.agent)}/stream${logQuery}`);
watchConnection(logSource, document.getElementById("conn"));

logSource.addEventListener("log", (event) => {
  const record = JSON.parse(event.data);
  // After a reconnect the stream sends its backlog again: skip what we have.
  if (last && (record.ts < last.ts ||
      (record.ts === last.ts && record.message === last.message))) return;
  last = record;
  view.append(logLine(record, false, !onePage));
  while (view.childElementCount > MAX_LINES) view.firstElementChild.remove();
  if (following) view.scrollTop = view.scrollHeight;
});

view.addEventListener("scroll", () => {
  const atBottom = view.scrollHeight - view.scrollTop - view.clientHeight < 8;
  if (atBottom === following) return;
  following = atBottom;
  followState.textContent = following
    ? "following" : "paused: scroll to the bottom to follow";
});

document.getElementById("clear").addEventListener("click", () => {
  view.replaceChildren();
});
"""

RUN = """
const facts = document.getElementById("facts");

function formatFact(format, value) {
  if (missing(value)) return "\\u2014";
  if (format === "time") return timeEl(value);
  if (format === "duration") return fmtDuration(value / 1000);
  if (format === "json") return el("pre", {}, JSON.stringify(value, null, 2));
  if (format === "outcome") return badge(value);
  return String(value);
}

function fill(run) {
  for (const fact of facts.querySelectorAll("dd[data-field]")) {
    if (fact.dataset.field in run) {
      fact.replaceChildren(formatFact(fact.dataset.format, run[fact.dataset.field]));
    }
  }
}

/* While the run goes on, follow its status; once it ends, show its record. */
if (facts.dataset.running === "true") {
  const instanceId = logMain.dataset.instance;
  const status = new EventSource("/dashboard/api/status-stream");
  let fetching = false;
  const changed = async (event) => {
    const live = JSON.parse(event.data).instances.find((i) => i.id === instanceId);
    if (live) {
      fill({statusText: live.statusText});
      return;
    }
    if (fetching) return;
    fetching = true;
    try {
      const url = `/dashboard/api/runs/${encodeURIComponent(instanceId)}`;
      const run = await callApi(url, "GET");
      if (run.result !== "running") {
        status.close();
        fill(run);
        document.getElementById("kill")?.remove();
      }
    } catch (error) {
      fail(error.message);
    } finally {
      fetching = false;
    }
  };
  status.addEventListener("status", changed);
  status.addEventListener("reset", changed);
}
"""

TRIGGERS = """
const LIMIT = 50;
const rows = document.getElementById("triggers-body");
const deadOnly = document.getElementById("dead-letter");
const pageInfo = document.getElementById("page-info");
const newer = document.getElementById("newer");
const older = document.getElementById("older");
const params = new URLSearchParams(location.search);
let page = Math.max(1, Number.parseInt(params.get("page"), 10) || 1);
deadOnly.checked = params.get("deadLetter") === "true";

function triggerRow(entry) {
  const dash = "\\u2014";
  const result = [badge(entry.result)];
  if (entry.deadLetterReason) {
    result.push(" ", el("span", {class: "muted"}, entry.deadLetterReason));
  }
  const receiptId = entry.webhookReceiptId;
  const replay = `/api/webhooks/${encodeURIComponent(receiptId)}/replay`;
  const receipt = receiptId ? [
    el("span", {class: "mono"}, receiptId), " ",
    el("button", {type: "button", class: "replay", "data-post": replay}, "Replay"),
    " ",
    el("span", {class: "replayed", role: "status"}),
  ] : dash;
  const source = entry.triggerSource
    ? el("span", {class: "muted"}, ` from ${entry.triggerSource}`) : "";
  const agent = entry.agentName
    ? el("a", {href: logsUrl(entry.agentName)}, entry.agentName) : dash;
  const run = entry.instanceId
    ? el("a", {class: "mono", href: runUrl(entry.instanceId)}, entry.instanceId) : dash;
  return el("tr", {},
    el("td", {"data-label": "Time"}, timeEl(entry.ts)),
    el("td", {"data-label": "Trigger"}, entry.triggerType, source),
    el("td", {"data-label": "Agent"}, agent),
    el("td", {"data-label": "Run"}, run),
    el("td", {"data-label": "Result"}, result),
    el("td", {"data-label": "Receipt"}, receipt));
}

async function load() {
  const query = new URLSearchParams({page: String(page), limit: String(LIMIT)});
  if (deadOnly.checked) query.set("deadLetter", "true");
  let body;
  try {
    body = await callApi(`/api/stats/triggers?${query}`, "GET");
  } catch (error) {
    fail(error.message);
    return;
  }
  notify();
  query.delete("limit");
  history.replaceState(null, "", `?${query}`);
  const pages = Math.max(1, Math.ceil(body.total / body.limit));
  const empty = el("tr", {}, el("td", {colspan: "6", class: "muted"}, "No entries."));
  const entries = body.triggers.map(triggerRow);
  rows.replaceChildren(...(entries.length ? entries : [empty]));
  pageInfo.textContent = `Page ${body.page} of ${pages} \\u00b7 ${body.total} in all`;
  newer.disabled = body.page <= 1;
  older.disabled = body.page >= pages;
}

function replayed(answer) {
  if (!answer.matched.length) return "Replayed: it matched no agent.";
  const parts = [`matched ${answer.matched.join(", ")}`];
  if (answer.started.length) parts.push(`started ${answer.started.join(", ")}`);
  if (answer.queued.length) parts.push(`queued ${answer.queued.join(", ")}`);
  return `Replayed: ${parts.join("; ")}.`;
}

const replayResult = (button) => button.parentElement.querySelector(".replayed");
document.addEventListener("done", (event) => {
  const {button, answer} = event.detail;
  if (button.classList.contains("replay")) {
    replayResult(button).textContent = replayed(answer);
  }
});
document.addEventListener("failed", (event) => {
  const {button, message} = event.detail;
  if (!button.classList.contains("replay")) return;
  event.preventDefault();
  replayResult(button).textContent = message;
});
deadOnly.addEventListener("change", () => { page = 1; load(); });
newer.addEventListener("click", () => { page -= 1; load(); });
older.addEventListener("click", () => { page += 1; load(); });
document.getElementById("refresh").addEventListener("click", load);
load();
"""
