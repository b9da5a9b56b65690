"""A simulated call the console runs step by step, as a caller presses keys.

The simulator (``univoice.simulator.simulate``) runs a whole call against a scripted
callee; it is deterministic, so a call in progress is just its script so far. Each
keypad entry the caller completes becomes the next entry of ``CalleeScript.keys``, and
the call is run again: it goes exactly as before up to the gather that ran out of keys,
which is where the caller is now (the first gather attempt whose entry the script does
not have yet). Each transfer reached is decided (target answers or not) when it is
reached, and stays decided. Hanging up is ``hang_up_after`` at the moment the caller has
heard so far.

``CallState`` is all there is to keep (the console keeps it in the app's flow store, so
any worker serves the next key); ``Progress`` is what running it gives; ``view`` is
what the page shows. Everything here is pure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from univoice.errors import UnivoiceError
from univoice.flow import Flow
from univoice.flow.steps import Gather
from univoice.graph import FlowGraph
from univoice.simulator import CalleeScript, simulate
from univoice.simulator.engine import collect
from univoice.simulator.trace import Trace, TraceKind, clock

KEYS = frozenset("0123456789*#")
INPUT = frozenset({TraceKind.GATHERED, TraceKind.NO_INPUT, TraceKind.INVALID_INPUT})
MAX_ENTRIES = 200  # gather attempts one console call may make (a flow has no loops)
ACTIONS = ("press", "wait", "step", "run", "hangup", "transfers")


class CallError(UnivoiceError):
    """An action the call cannot take (a key that is not on a keypad, say)."""


@dataclass(frozen=True)
class CallState:
    flow: str  # the catalog key of the flow
    call_id: str
    entries: tuple[str | None, ...] = ()  # completed keypad entries, one per attempt
    buffer: str = ""  # keys pressed at the waiting gather, not complete yet
    transfers: tuple[bool, ...] = ()  # decided, for the transfers reached so far
    answer: bool = True  # whether transfer targets reached from now on answer
    hang_up_after: float | None = None  # set when the caller hung up
    shown: int = 0  # events revealed so far (step by step)
    step_mode: bool = False
    note: str = ""  # what the last action could not do

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallState:
        return cls(**{**data, "entries": tuple(data.get("entries", ())),
                      "transfers": tuple(data.get("transfers", ()))})


@dataclass(frozen=True)
class Progress:
    trace: Trace
    cut: int  # events up to where the caller is now (all of them once the call ended)
    waiting: str | None  # the path of the gather waiting for keys, or None: ended
    transfers: tuple[bool, ...] = field(default=())  # decided up to ``cut``

    @property
    def ended(self) -> bool:
        return self.waiting is None


def start(flow: Flow, key: str, call_id: str, *, step_mode: bool = False,
          answer: bool = True) -> CallState:
    state = CallState(flow=key, call_id=call_id, step_mode=step_mode, answer=answer)
    return replace(state, shown=0 if step_mode else run(flow, state).cut)


def run(flow: Flow, state: CallState) -> Progress:
    transfers = sum(1 for _, step in flow.walk() if step.kind == "transfer")
    script = CalleeScript(keys=list(state.entries),
                          transfers=[*state.transfers, *[state.answer] * transfers],
                          hang_up_after=state.hang_up_after)
    trace = simulate(flow, script, call_id=state.call_id)
    attempts = 0
    cut, waiting = len(trace.events), None
    for index, event in enumerate(trace.events):
        if event.kind in INPUT:
            if attempts == len(state.entries):  # no entry for this attempt: waiting here
                cut, waiting = index, event.path
                break
            attempts += 1
    reached = sum(1 for e in trace.events[:cut] if e.kind == TraceKind.TRANSFER_STARTED)
    return Progress(trace, cut, waiting, tuple(script.transfers[:reached]))


def act(flow: Flow, state: CallState, action: str, value: str | bool | None = None
        ) -> CallState:
    """The call after ``action``: ``press`` a key, ``wait`` (the gather times out with
    what was pressed), ``step`` (reveal one more event), ``run`` (reveal up to where the
    caller is), ``hangup``, ``transfers`` (whether targets reached from now on answer)."""
    state = replace(state, note="")
    now = run(flow, state)
    if action == "step":
        return replace(state, shown=min(state.shown + 1, now.cut))
    if action == "run":
        return replace(state, shown=now.cut)
    if action == "transfers":
        return _settled(flow, replace(state, answer=bool(value), transfers=now.transfers),
                        state.shown)
    if action not in ("press", "wait", "hangup"):
        raise CallError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    if now.ended:
        return replace(state, shown=now.cut, note="The call has ended: start a new call.")
    if action == "hangup":
        heard = _heard(now, min(state.shown, now.cut))
        return _settled(flow, replace(state, buffer="", transfers=now.transfers,
                                      hang_up_after=heard), now.cut, reveal=True)
    state = replace(state, shown=now.cut)  # a key interrupts what is being said
    if action == "wait":
        return _entered(flow, state, now, state.buffer or None)
    if not isinstance(value, str) or len(value) != 1 or value not in KEYS:
        raise CallError("a key is one of 0-9, * and #")
    gather = _gather(flow, now.waiting)
    keys = state.buffer + value
    if not collect(keys, gather.max_digits, gather.finish_on_key)[2]:
        return replace(state, buffer=keys)  # more keys to come (or the timeout)
    return _entered(flow, state, now, keys)


def _entered(flow: Flow, state: CallState, now: Progress, entry: str | None) -> CallState:
    if len(state.entries) >= MAX_ENTRIES:
        raise CallError(f"a console call takes at most {MAX_ENTRIES} entries")
    return _settled(flow, replace(state, entries=(*state.entries, entry), buffer="",
                                  transfers=now.transfers), now.cut)


def _settled(flow: Flow, state: CallState, before: int, *, reveal: bool = False
             ) -> CallState:
    """Run the changed call: reveal up to where the caller now is, or (step by step)
    keep what was shown and let the caller step through the rest."""
    after = run(flow, state)
    shown = before if state.step_mode and not reveal else after.cut
    return replace(state, shown=min(shown, after.cut), transfers=after.transfers)


def _heard(now: Progress, shown: int) -> float:
    """Seconds from answer to the end of what the caller has heard (hang up then)."""
    trace = now.trace
    if trace.answered_at is None:
        return 0.0
    end = max((e.at + float(e.data.get("duration", 0) or 0)
               for e in trace.events[:shown]), default=0.0)
    return max(0.0, round(end - trace.answered_at, 3))


def _gather(flow: Flow, path: str | None) -> Gather:
    step = dict(flow.walk()).get(path or "")
    if not isinstance(step, Gather):
        raise CallError(f"no gather at {path!r}")
    return step


# What the page shows ----------------------------------------------------------------


class Nodes:
    """Step paths -> diagram node ids (a prompt's path belongs to its gather's node)."""

    def __init__(self, graph: FlowGraph) -> None:
        self._ids = {n.path: n.id for n in graph.nodes if n.path is not None}

    def of(self, path: str | None) -> str | None:
        while path:
            if path in self._ids:
                return self._ids[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return None


def view(flow: Flow, nodes: Nodes, state: CallState, now: Progress) -> dict[str, Any]:
    """The call as JSON for the page: every text in it is plain text (the page sets it
    with ``textContent``; flow texts are outside input)."""
    shown = min(state.shown, now.cut)
    events = now.trace.events[:shown]
    lines = [{"at": clock(e.at), "text": e.describe(), "kind": e.kind.value,
              "node": nodes.of(e.path), "path": e.path} for e in events]
    visited = list(dict.fromkeys(line["node"] for line in lines if line["node"]))
    caught_up = shown >= now.cut
    current = next((line["node"] for line in reversed(lines) if line["node"]), None)
    waiting: dict[str, Any] | None = None
    if caught_up and now.waiting is not None:
        current = nodes.of(now.waiting)
        gather = _gather(flow, now.waiting)
        attempt = 1 + sum(1 for e in events if e.kind in INPUT and e.path == now.waiting)
        waiting = {"node": current, "path": now.waiting, "max_digits": gather.max_digits,
                   "finish_on_key": gather.finish_on_key, "variable": gather.variable,
                   "options": sorted(gather.options or {}), "attempt": attempt,
                   "attempts": 1 + gather.retries}
    if current is None and shown:
        current = "call_start"
    status = "waiting" if waiting else "ended" if caught_up else "stepping"
    ended = None
    if status == "ended":
        trace = now.trace
        ended = {"reason": trace.end_reason.value, "duration": trace.duration,
                 "variables": dict(trace.variables)}
    return {"call": state.call_id, "flow": state.flow, "status": status,
            "current": current, "current_path": next(
                (line["path"] for line in reversed(lines) if line["path"]), None)
            if waiting is None else now.waiting,
            "visited": visited, "transcript": lines, "waiting": waiting,
            "buffer": state.buffer, "answer": state.answer, "step_mode": state.step_mode,
            "remaining": now.cut - shown, "ended": ended, "note": state.note}
