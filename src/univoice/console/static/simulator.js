// univoice console: the simulator keypad of a flow page. Every text from the server is
// set with textContent (flow texts are outside input); no HTML is ever built from it,
// except the diagram, which the server renders and escapes.
(function () {
  "use strict";
  const root = document.getElementById("uv-sim");
  if (!root) return;
  const base = root.dataset.base;
  const flow = root.dataset.flow;
  const $ = (id) => document.getElementById(id);
  const ui = {
    diagram: $("uv-diagram"), provider: $("uv-provider"), status: $("uv-status"),
    entry: $("uv-entry"), call: $("uv-call"), hangup: $("uv-hangup"), wait: $("uv-wait"),
    step: $("uv-step"), run: $("uv-run"), stepMode: $("uv-step-mode"),
    answer: $("uv-answer"), transcript: $("uv-transcript"), docProvider: $("uv-doc-provider"),
    docFirst: $("uv-doc-first"), docPath: $("uv-doc-path"), docStep: $("uv-doc-step"),
  };
  let call = null;   // the call's id
  let view = null;   // the last state the server sent
  let busy = false;

  async function send(url, body) {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({ error: response.statusText }));
    if (!response.ok) throw new Error(data.error || String(response.status));
    return data;
  }

  async function act(action, value) {
    if (busy) return;
    if (!call) {
      if (action !== "press") return;
      await startCall();
      if (!call) return;
    }
    busy = true;
    try {
      show(await send(`${base}/api/calls/${call}`,
                      { action: action, value: value, step_mode: ui.stepMode.checked }));
    } catch (err) {
      ui.status.textContent = `Error: ${err.message}`;
    } finally {
      busy = false;
    }
  }

  async function startCall() {
    if (busy) return;
    busy = true;
    try {
      const data = await send(`${base}/api/calls`, {
        flow: flow, step_mode: ui.stepMode.checked, answer: ui.answer.checked,
      });
      call = data.call;
      show(data);
    } catch (err) {
      ui.status.textContent = `Error: ${err.message}`;
    } finally {
      busy = false;
    }
  }

  function describeStatus(v) {
    if (v.note) return v.note;
    if (v.status === "waiting") {
      const w = v.waiting;
      const what = w.variable ? `enter keys for "${w.variable}"` :
        `press ${w.options.join(", ")}`;
      const finish = w.finish_on_key ? `, then ${w.finish_on_key}` : "";
      const attempt = w.attempts > 1 ? ` (attempt ${w.attempt} of ${w.attempts})` : "";
      return `Waiting for keys: ${what}${finish}${attempt}.`;
    }
    if (v.status === "stepping") return `${v.remaining} more event(s): Next step or Run.`;
    const e = v.ended || {};
    return `Call ended: ${e.reason} after ${e.duration} s.`;
  }

  function show(v) {
    view = v;
    ui.status.textContent = describeStatus(v);
    ui.entry.textContent = v.buffer;
    root.dataset.status = v.status;
    root.dataset.current = v.current || "";
    const live = v.status !== "ended";
    ui.hangup.disabled = !live;
    ui.wait.disabled = v.status !== "waiting";
    ui.step.disabled = ui.run.disabled = v.status !== "stepping";
    ui.call.textContent = live ? "New call" : "Call again";
    renderTranscript(v);
    highlight();
    loadDocuments();
  }

  function renderTranscript(v) {
    const items = v.transcript.map((line, index) => {
      const li = document.createElement("li");
      const at = document.createElement("span");
      at.className = "at";
      at.textContent = line.at;
      li.append(at, document.createTextNode(` ${line.text}`));
      li.dataset.kind = line.kind;
      if (line.node) {
        li.classList.add("step");
        li.dataset.node = line.node;
        li.title = line.path || "";
      }
      if (index === v.transcript.length - 1) li.classList.add("last");
      return li;
    });
    ui.transcript.replaceChildren(...items);
    ui.transcript.scrollTop = ui.transcript.scrollHeight;
  }

  function nodeElement(id) {
    const found = id ? document.getElementById(id) : null;
    return found && ui.diagram.contains(found) ? found : null;
  }

  function highlight() {
    ui.diagram.querySelectorAll("g.node").forEach((g) => {
      g.classList.remove("uv-visited", "uv-current");
      g.removeAttribute("aria-current");
    });
    if (!view) return;
    view.visited.forEach((id) => {
      const g = nodeElement(id);
      if (g) g.classList.add("uv-visited");
    });
    const current = nodeElement(view.current);
    if (current) {
      current.classList.add("uv-current");
      current.setAttribute("aria-current", "step");
      const box = current.getBoundingClientRect();
      const pane = ui.diagram.getBoundingClientRect();
      if (box.top < pane.top || box.bottom > pane.bottom ||
          box.left < pane.left || box.right > pane.right) {
        ui.diagram.scrollTop += box.top - pane.top - pane.height / 3;
        ui.diagram.scrollLeft += box.left - pane.left - pane.width / 3;
      }
    }
  }

  const documentCache = new Map();

  function fillDocument(pre, part) {
    pre.classList.toggle("error", Boolean(part && part.error));
    pre.textContent = !part ? "" : (part.error || part.body);
  }

  async function loadDocuments() {
    const provider = ui.provider.value;
    const stepPath = view && view.current && view.current !== "call_start" ?
      nodePath(view.current) : "";
    const key = `${provider}\n${stepPath}`;
    ui.docProvider.textContent = provider;
    ui.docPath.textContent = stepPath || "(start a call)";
    try {
      let data = documentCache.get(key);
      if (!data) {
        const query = new URLSearchParams({ provider: provider, path: stepPath });
        const response = await fetch(`${base}/api/flows/${flow}/documents?${query}`,
                                     { credentials: "same-origin" });
        if (!response.ok) throw new Error(String(response.status));
        data = await response.json();
        documentCache.set(key, data);
      }
      if (ui.provider.value !== provider) return;  // changed meanwhile
      fillDocument(ui.docFirst, data.first);
      fillDocument(ui.docStep, data.step);
    } catch (err) {
      ui.docFirst.textContent = `Error: ${err.message}`;
    }
  }

  function nodePath(id) {
    const g = nodeElement(id);
    return g ? (g.getAttribute("data-path") || "") : "";
  }

  async function changeProvider() {
    const query = new URLSearchParams({ provider: ui.provider.value });
    try {
      const response = await fetch(`${base}/flows/${flow}/diagram.svg?${query}`,
                                   { credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      // The server's own rendering, every flow text escaped in it (univoice.graph.svg).
      ui.diagram.innerHTML = await response.text();
    } catch (err) {
      ui.status.textContent = `Error: ${err.message}`;
    }
    highlight();
    loadDocuments();
  }

  ui.call.addEventListener("click", startCall);
  ui.hangup.addEventListener("click", () => act("hangup"));
  ui.wait.addEventListener("click", () => act("wait"));
  ui.step.addEventListener("click", () => act("step"));
  ui.run.addEventListener("click", () => act("run"));
  ui.answer.addEventListener("change", () => { if (call) act("transfers", ui.answer.checked); });
  ui.provider.addEventListener("change", changeProvider);
  $("uv-fit").addEventListener("change", (event) => {
    ui.diagram.classList.toggle("fit", event.target.checked);
  });
  document.querySelectorAll("#uv-keypad .key").forEach((button) => {
    button.addEventListener("click", () => act("press", button.dataset.key));
  });
  document.addEventListener("keydown", (event) => {
    if (event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement) {
      return;
    }
    if ("0123456789*#".includes(event.key) && event.key.length === 1) {
      act("press", event.key);
    }
  });
  ui.transcript.addEventListener("mouseover", (event) => {
    const li = event.target.closest("li.step");
    ui.diagram.querySelectorAll("g.node.uv-hover").forEach((g) => g.classList.remove("uv-hover"));
    const g = li ? nodeElement(li.dataset.node) : null;
    if (g) g.classList.add("uv-hover");
  });
  loadDocuments();
})();
