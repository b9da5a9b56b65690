// univoice console: the live list of events (server-sent events from /events/stream).
// Callback payloads are outside input: every value is set with textContent, never HTML.
(function () {
  "use strict";
  const root = document.getElementById("uv-events");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const ui = {
    provider: $("uv-f-provider"), type: $("uv-f-type"), call: $("uv-f-call"),
    status: $("uv-f-status"), conn: $("uv-conn"), count: $("uv-count"),
    types: $("uv-types"), events: document.querySelector("#uv-event-table tbody"),
    calls: document.querySelector("#uv-calls tbody"),
  };
  const MAX_ROWS = 1000;
  const rows = new Map();   // event key -> { tr, data }
  const calls = new Map();  // call id -> { tr, provider, count, last, at }
  const types = new Set();
  const providers = new Set(Array.from(ui.provider.options, (o) => o.value));

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    if (className) td.className = className;
    return td;
  }

  function callCell(callId) {
    const td = cell(callId);
    if (callId) {
      td.classList.add("call-link");
      td.title = "Show only this call";
      td.addEventListener("click", () => { ui.call.value = callId; applyFilters(); });
    }
    return td;
  }

  function details(data) {
    const td = document.createElement("td");
    const summary = document.createElement("span");
    summary.textContent = data.summary || "";
    td.append(summary);
    if (data.error) {
      const error = document.createElement("div");
      error.textContent = `error: ${data.error}`;
      td.append(error);
    }
    const more = document.createElement("details");
    const label = document.createElement("summary");
    label.textContent = "event";
    const pre = document.createElement("pre");
    pre.textContent = data.detail;
    more.append(label, pre);
    td.append(more);
    return td;
  }

  function rowOf(data) {
    const tr = document.createElement("tr");
    tr.className = "fresh";
    tr.dataset.provider = data.provider;
    tr.dataset.type = data.type;
    tr.dataset.status = data.status;
    tr.dataset.call = data.call_id || "";
    tr.append(cell(data.received_at), cell(data.provider), cell(data.type),
              callCell(data.call_id), cell(data.status, `status-${data.status}`),
              details(data));
    return tr;
  }

  function matches(data) {
    const type = ui.type.value.trim();
    const callId = ui.call.value.trim();
    return (!ui.provider.value || data.provider === ui.provider.value) &&
      (!type || data.type.includes(type)) &&
      (!callId || (data.call_id || "").includes(callId)) &&
      (!ui.status.value || data.status === ui.status.value);
  }

  function applyFilters() {
    let shown = 0;
    rows.forEach(({ tr, data }) => {
      tr.hidden = !matches(data);
      if (!tr.hidden) shown += 1;
    });
    calls.forEach((c) => {
      c.tr.hidden = Boolean(ui.provider.value && c.provider !== ui.provider.value) ||
        Boolean(ui.call.value.trim() && !c.id.includes(ui.call.value.trim()));
    });
    ui.count.textContent = `${shown} of ${rows.size} events`;
  }

  function remember(data) {
    if (!types.has(data.type)) {
      types.add(data.type);
      const option = document.createElement("option");
      option.value = data.type;
      ui.types.append(option);
    }
    if (!providers.has(data.provider)) {
      providers.add(data.provider);
      const option = document.createElement("option");
      option.value = option.textContent = data.provider;
      ui.provider.append(option);
    }
  }

  function updateCall(data, isNew) {
    if (!data.call_id) return;
    let c = calls.get(data.call_id);
    if (!c) {
      c = { id: data.call_id, provider: data.provider, count: 0, tr: document.createElement("tr") };
      calls.set(data.call_id, c);
    }
    if (isNew) c.count += 1;
    c.last = data.type;
    c.at = data.received_at;
    c.tr.replaceChildren(callCell(c.id), cell(c.provider), cell(c.count), cell(c.last),
                         cell(c.at));
    ui.calls.prepend(c.tr);
  }

  function receive(data) {
    const known = rows.get(data.key);
    const tr = rowOf(data);
    if (known) {
      known.tr.replaceWith(tr);
    } else {
      ui.events.prepend(tr);
    }
    rows.set(data.key, { tr: tr, data: data });
    remember(data);
    updateCall(data, !known);
    tr.hidden = !matches(data);
    if (rows.size > MAX_ROWS) {
      const oldest = rows.keys().next().value;
      rows.get(oldest).tr.remove();
      rows.delete(oldest);
    }
    applyFilters();
  }

  function connect() {
    const source = new EventSource(root.dataset.stream);
    source.addEventListener("open", () => {
      ui.conn.textContent = "live";
      ui.conn.className = "conn live";
    });
    source.addEventListener("event", (message) => receive(JSON.parse(message.data)));
    source.addEventListener("problem", (message) => {
      const data = JSON.parse(message.data);
      ui.conn.textContent = data.error ? data.error : "live";
      ui.conn.className = data.error ? "conn down" : "conn live";
    });
    source.addEventListener("error", () => {
      ui.conn.textContent = "reconnecting…";
      ui.conn.className = "conn";
    });
  }

  [ui.provider, ui.status].forEach((el) => el.addEventListener("change", applyFilters));
  [ui.type, ui.call].forEach((el) => el.addEventListener("input", applyFilters));
  applyFilters();
  connect();
})();
