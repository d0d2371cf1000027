"""
The dashboard's one style sheet, inlined into every page.

Colours follow the login page (light, and dark when the system asks). Below
640 px the tables become one card per row, each cell labelled from its
``data-label``, so the pages read on a phone without sideways scrolling.
"""

STYLE = """
:root {
  color-scheme: light dark;
  --fg: #1b1f24; --bg: #f3f4f6; --card: #fff; --muted: #57606a;
  --line: #d0d7de; --accent: #0b5cad; --on-accent: #fff;
  --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e;
  --ok-bg: #dafbe1; --warn-bg: #fff8c5; --bad-bg: #ffebe9; --idle-bg: #eaeef2;
}
@media (prefers-color-scheme: dark) {
  :root {
    --fg: #e6edf3; --bg: #0d1117; --card: #161b22; --muted: #9da7b3;
    --line: #30363d; --accent: #79b8ff; --on-accent: #0d1117;
    --ok: #3fb950; --warn: #d29922; --bad: #f85149;
    --ok-bg: #12361f; --warn-bg: #3b2e0a; --bad-bg: #421a17; --idle-bg: #262c36;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--fg);
  font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
a { color: var(--accent); }
code, .mono, pre { font-family: ui-monospace, Menlo, Consolas, monospace; }
.bar {
  display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem;
  padding: .5rem 1rem; background: var(--card); border-bottom: 1px solid var(--line);
}
.brand { font-weight: 700; color: inherit; text-decoration: none; }
.bar nav { display: flex; gap: 1rem; flex: 1; }
.bar form { margin: 0; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.375rem; margin: .25rem 0 1rem; overflow-wrap: anywhere; }
h2 { font-size: 1.125rem; margin: 1.5rem 0 .5rem; }
button {
  font: inherit; font-size: .875rem; padding: .3rem .75rem; cursor: pointer;
  border: 1px solid var(--line); border-radius: .375rem;
  background: var(--card); color: var(--fg);
}
button.primary { background: var(--accent); color: var(--on-accent); border: 0; }
button:disabled { opacity: .5; cursor: wait; }
button:focus-visible, a:focus-visible, input:focus-visible {
  outline: 3px solid var(--accent); outline-offset: 2px;
}
.toolbar { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem; }
.pager { margin-top: .5rem; }
.card {
  background: var(--card); border: 1px solid var(--line); border-radius: .5rem;
  padding: .75rem 1rem; margin-bottom: 1rem;
}
.notice:empty { display: none; }
.notice { padding: .5rem .75rem; border-radius: .375rem; background: var(--idle-bg); }
.notice.error { background: var(--bad-bg); color: var(--bad); }
.badge {
  display: inline-block; padding: 0 .5rem; border-radius: 1rem;
  font-size: .8125rem; font-weight: 600; background: var(--idle-bg);
}
.state-running, .state-completed { background: var(--ok-bg); color: var(--ok); }
.state-paused, .state-queued, .state-skipped, .state-dropped, .state-killed,
.state-stopping { background: var(--warn-bg); color: var(--warn); }
.state-error, .state-timeout, .state-lost, .state-dead-letter {
  background: var(--bad-bg); color: var(--bad);
}
.state-disabled { color: var(--muted); }
.conn { font-size: .8125rem; color: var(--muted); }
.conn::before { content: "\\25CF  "; }
.conn.up::before { color: var(--ok); }
.conn.wait::before { color: var(--warn); }
.conn.down::before { color: var(--bad); }
.muted { color: var(--muted); }
table { width: 100%; border-collapse: collapse; background: var(--card); }
th, td {
  text-align: left; padding: .5rem; border-bottom: 1px solid var(--line);
  vertical-align: top; overflow-wrap: break-word;
}
th { font-size: .8125rem; color: var(--muted); font-weight: 600; }
td.actions { white-space: nowrap; }
td.actions button + button { margin-left: .25rem; }
.log {
  list-style: none; margin: 0; padding: .5rem; font-size: .8125rem;
  background: #0d1117; color: #e6edf3; border-radius: .5rem;
  font-family: ui-monospace, Menlo, Consolas, monospace;
}
.log li { white-space: pre-wrap; overflow-wrap: anywhere; padding: 1px 0; }
.log time, .log .instance { color: #8b949e; }
.log a { color: #79b8ff; }
.log .level { font-weight: 700; }
.level-debug .level { color: #8b949e; }
.level-info .level { color: #3fb950; }
.level-warn .level { color: #d29922; }
.level-error .level { color: #f85149; }
.log.scroll { min-height: 8rem; max-height: 70vh; overflow-y: auto; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
dl.facts pre { margin: 0; white-space: pre-wrap; }
@media (max-width: 640px) {
  main { padding: .5rem; }
  table.cards, .cards tbody, .cards tr, .cards td { display: block; }
  .cards thead { display: none; }
  .cards tr {
    border: 1px solid var(--line); border-radius: .5rem; margin-bottom: .5rem;
  }
  .cards td { border: 0; padding: .25rem .75rem; }
  .cards td[data-label]::before {
    content: attr(data-label); display: inline-block; min-width: 6.5rem;
    color: var(--muted); font-size: .8125rem;
  }
  .cards td.actions { padding-bottom: .5rem; }
}
"""
