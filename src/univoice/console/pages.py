"""The console's pages, rendered on the server. Every value from outside (flow texts,
file names, provider names) goes through ``esc``; the scripts they load (``static/``)
set texts with ``textContent`` only, and the pages hold no inline script."""

from __future__ import annotations

from collections.abc import Iterable

from univoice.console.catalog import Catalog, FlowEntry
from univoice.graph.svg import esc

STATUSES = ("claimed", "done", "failed")


def layout(base: str, title: str, body: str, *, active: str, script: str | None = None
           ) -> str:
    current = ' aria-current="page"'
    nav = "".join(
        f'<a href="{esc(base)}/{href}"{current if name == active else ""}>{label}</a>'
        for name, href, label in (("flows", "", "Flows"), ("events", "events", "Live events")))
    tag = (f'<script src="{esc(base)}/static/{script}" defer></script>' if script else "")
    return ("<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)} · univoice console</title>"
            '<link rel="icon" href="data:,">'
            f'<link rel="stylesheet" href="{esc(base)}/static/console.css">{tag}</head>'
            f'<body><header class="top"><span class="brand">univoice console</span>'
            f"<nav>{nav}</nav></header>{body}</body></html>\n")


def index_page(base: str, catalog: Catalog) -> str:
    rows = "".join(_flow_row(base, entry) for entry in catalog)
    table = ('<table class="flows"><thead><tr><th>flow</th><th>file</th><th>steps</th>'
             f"<th>why it is listed</th></tr></thead><tbody>{rows}</tbody></table>"
             if rows else "<p>No flows: start <code>univoice serve --flow FILE</code>, or "
             "list inbound flows in the <code>[inbound]</code> table.</p>")
    body = ('<main class="narrow"><h1>Flows</h1><p class="note">The flows this app answers '
            "calls with, and univoice's examples. Open one to see its diagram, call it on "
            "the simulator with a keypad, and read each step as a provider's document."
            f"</p>{table}</main>")
    return layout(base, "Flows", body, active="flows")


def _flow_row(base: str, entry: FlowEntry) -> str:
    steps = sum(1 for _ in entry.flow.walk())
    return (f'<tr><td><a href="{esc(base)}/flows/{esc(entry.key)}">{esc(entry.title)}</a></td>'
            f"<td><code>{esc(entry.file)}</code></td><td>{steps}</td>"
            f"<td>{esc('; '.join(entry.uses))}</td></tr>")


def flow_page(base: str, entry: FlowEntry, svg: str, providers: Iterable[str],
              chosen: str) -> str:
    options = "".join(
        f'<option value="{esc(name)}"{" selected" if name == chosen else ""}>{esc(name)}'
        "</option>" for name in providers)
    keys = "".join(f'<button type="button" class="key" data-key="{k}">{k}</button>'
                   for k in "123456789*0#")
    body = f"""
<main class="flow-page" id="uv-sim" data-base="{esc(base)}" data-flow="{esc(entry.key)}">
<div class="flow-head"><h1>{esc(entry.title)}</h1>
<p class="note"><code>{esc(entry.file)}</code> · {esc('; '.join(entry.uses))}</p></div>
<div class="workspace">
<section class="diagram-pane">
<div class="toolbar"><label>Provider <select id="uv-provider">{options}</select></label>
<label><input type="checkbox" id="uv-fit"> Fit to width</label>
<span class="hint">marks where it calls the app back (↻) and what it cannot run (✖)</span>
</div>
<div id="uv-diagram" class="diagram">{svg}</div>
<section class="documents" aria-live="polite">
<h2>Native documents: <span id="uv-doc-provider">{esc(chosen)}</span></h2>
<div class="doc-grid">
<div><h3>The call's first document</h3><pre id="uv-doc-first" class="doc"></pre></div>
<div><h3>This step: <code id="uv-doc-path">(start a call)</code></h3>
<pre id="uv-doc-step" class="doc"></pre></div>
</div>
<p class="note">Compiled with no settings (no credentials). The step is compiled alone,
its branches included; <code>{{variables}}</code> are filled in by the app when it serves
the call's document.</p>
</section>
</section>
<aside class="phone-pane">
<div class="phone">
<div class="display"><div id="uv-status" role="status">Press Call to start.</div>
<div id="uv-entry" class="entry"></div></div>
<div class="call-buttons"><button type="button" id="uv-call" class="call">Call</button>
<button type="button" id="uv-hangup" class="hangup" disabled>Hang up</button></div>
<div id="uv-keypad" class="keypad">{keys}</div>
<div class="controls">
<button type="button" id="uv-wait" disabled>Wait (time out)</button>
<button type="button" id="uv-step" disabled>Next step</button>
<button type="button" id="uv-run" disabled>Run to input</button></div>
<label><input type="checkbox" id="uv-step-mode"> Step by step</label>
<label><input type="checkbox" id="uv-answer" checked> Transfer targets answer</label>
</div>
<section class="transcript-box"><h2>Transcript</h2>
<ol id="uv-transcript" class="transcript"></ol></section>
</aside>
</div>
</main>"""
    return layout(base, entry.title, body, active="flows", script="simulator.js")


def events_page(base: str, providers: Iterable[str]) -> str:
    options = "".join(f'<option value="{esc(p)}">{esc(p)}</option>' for p in providers)
    statuses = "".join(f'<option value="{s}">{s}</option>' for s in STATUSES)
    body = f"""
<main class="wide" id="uv-events" data-stream="{esc(base)}/events/stream">
<h1>Live events</h1>
<p class="note">Neutral events as the webhook app records them in its store, from every
worker sharing it: received, then done or failed once the handlers ran. Newest first.</p>
<div class="filters">
<label>Provider <select id="uv-f-provider"><option value="">any</option>{options}</select>
</label>
<label>Type <input id="uv-f-type" list="uv-types" placeholder="call.completed"></label>
<datalist id="uv-types"></datalist>
<label>Call id <input id="uv-f-call" placeholder="any"></label>
<label>Status <select id="uv-f-status"><option value="">any</option>{statuses}</select>
</label>
<span id="uv-conn" class="conn">connecting…</span><span id="uv-count" class="count"></span>
</div>
<h2>Calls</h2>
<table id="uv-calls" class="events"><thead><tr><th>call id</th><th>provider</th>
<th>events</th><th>last event</th><th>last received</th></tr></thead><tbody></tbody></table>
<h2>Events</h2>
<table id="uv-event-table" class="events"><thead><tr><th>received</th><th>provider</th>
<th>type</th><th>call id</th><th>status</th><th>details</th></tr></thead><tbody></tbody>
</table>
</main>"""
    return layout(base, "Live events", body, active="events", script="events.js")
