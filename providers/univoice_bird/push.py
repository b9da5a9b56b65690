"""What the webhook app pushes to a Bird call, decided from a callback. Pure: the call's
state comes in and the new state goes out with the document (``Push.state``); the app
sends it (``PATCH``) and stores the state once Bird has accepted it.

A hosted call's state: ``flow`` (the stored flow's id), ``waits_at`` ([gather path,
attempt] its current call flow ends with, or None), ``vars`` (free input gathered so far),
``done`` (the call flow ids whose keys were used: a late or repeated callback about one of
them changes nothing) and ``pushes`` (how many were made). A push's key is the call and
the call flow whose gather it resolves (without that id, the call and the push's number),
so each wait is resolved once however often and wherever its callback arrives.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from univoice.flow.positions import Positions, Reprompt
from univoice.provider import Document, Push
from univoice_bird import compile
from univoice_bird.events import GatherResult

if TYPE_CHECKING:
    from univoice.flow import Flow

PROVIDER = "bird"
KEEP_DONE = 32  # call flow ids remembered per call (each is one resolved gather)


def _document(commands: list[dict[str, Any]], push: Push) -> Document:
    return Document(provider=PROVIDER, media_type="application/json",
                    body=json.dumps(commands, separators=(",", ":")), native=commands,
                    push=push)


def _fresh(flow_id: str, segment: compile.Segment) -> dict[str, Any]:
    waits_at = segment.waits_at
    return {"flow": flow_id, "waits_at": list(waits_at) if waits_at else None, "vars": {},
            "done": [], "pushes": 0}


def first_state(flow: Flow, flow_id: str) -> dict[str, Any]:
    """The state of a call that started with ``compile.start_segment(flow)``."""
    return _fresh(flow_id, compile.start_segment(flow))


def answer(flow: Flow, flow_id: str, call_id: str) -> Document:
    """An inbound call's first call flow: ``answer``, then the flow's start (hosted when
    the whole flow leaves no room for the answer; ``UnsupportedFeature`` when even its
    first segment leaves none)."""
    first = compile.start_segment(flow)
    if len(first.commands) >= compile.MAX_COMMANDS:
        first = compile.segment(flow, Positions(flow).start(), {}, reserve=1)
    commands = [{"command": "answer"}, *first.commands]
    return _document(commands, Push(call_id, f"{call_id}:answer", _fresh(flow_id, first)))


def next_flow(flow: Flow, call_id: str, state: dict[str, Any], result: GatherResult
              ) -> Document | None:
    """The call flow that follows the keys ``result`` reports, or None when the callback
    resolves nothing (no wait, or a call flow already resolved)."""
    waits_at = state.get("waits_at")
    done = [d for d in state.get("done") or [] if isinstance(d, str)]
    if not (isinstance(waits_at, list) and len(waits_at) == 2):
        return None
    if result.call_flow_id is not None and result.call_flow_id in done:
        return None
    path, attempt = str(waits_at[0]), int(waits_at[1])
    variables = {str(k): str(v) for k, v in (state.get("vars") or {}).items()}
    positions = Positions(flow)
    try:
        outcome, sets = positions.after_gather(path, attempt, result.keys)
    except KeyError:  # the flow no longer has that gather: nothing sensible to push
        return None
    variables.update(sets)
    if isinstance(outcome, Reprompt):
        segment = compile.reprompt(flow, path, outcome.attempt, variables)
    else:
        segment = compile.segment(flow, outcome, variables)
    pushes = int(state.get("pushes") or 0)
    if result.call_flow_id is not None:
        done = [*done, result.call_flow_id][-KEEP_DONE:]
        key = f"{call_id}:{result.call_flow_id}"
    else:
        key = f"{call_id}:push-{pushes + 1}"
    new_state = {"flow": state.get("flow"),
                 "waits_at": list(segment.waits_at) if segment.waits_at else None,
                 "vars": variables, "done": done, "pushes": pushes + 1}
    return _document(segment.commands, Push(call_id, key, new_state))
