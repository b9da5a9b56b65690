"""Generated flows brought inside what univoice runs on Bird: steps Bird has no command for
become a say, values move to the nearest it accepts; ``hosted=False`` also keeps to what
runs natively (menus at the top level, no re-prompts, no free input). ``run_hosted`` plays
a call with the webhook app's decisions standing in for its pushes."""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

from univoice.flow import Flow
from univoice.flow.speech import spoken
from univoice.simulator.script import CalleeScript
from univoice_bird import compile, push
from univoice_bird.compile import LOCALES
from univoice_bird.events import GatherResult
from univoice_bird.interpreter import CallRun, CallSetup, run_call

_STAND_IN = {"say": {"text": "A step Bird has no command for."}}
_LOCALES = sorted(LOCALES)


def _pick(options: list[str], seed: str) -> str:
    return options[int(hashlib.sha256(seed.encode()).hexdigest(), 16) % len(options)]


def _whole(value: float, low: int = 1, high: int | None = None) -> int:
    out = max(low, math.ceil(value))
    return min(out, high) if high is not None else out


def _steps(steps: list[Any], depth: int, hosted: bool = False) -> None:
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        (kind, body), = step.items()
        if kind in ("conference", "send_digits", "redirect"):
            steps[index] = dict(_STAND_IN)
            continue
        if kind == "gather" and not hosted and (depth > 0 or not isinstance(body, dict)
                                                or body.get("options") is None):
            steps[index] = dict(_STAND_IN)  # free input and nested menus need the app
            continue
        if not isinstance(body, dict):
            if kind == "pause":
                steps[index] = {"pause": _whole(body)}
            elif kind == "transfer":
                target = body if isinstance(body, str) else body[0]
                steps[index] = {"transfer": {"targets": target, "timeout": 30}}
            continue
        if kind == "say":
            if "language" in body:
                body["language"] = _pick(_LOCALES, body["language"])
            body.pop("voice", None)
            if not hosted:  # natively, no variable can be read
                body["text"] = re.sub(r"\{[A-Za-z_]\w*\}", "x", body["text"])
            # Never only variables: a provider skips a say that fills in to nothing.
            bare = re.sub(r"\{[A-Za-z_]\w*\}", "", body["text"])
            if not spoken(bare.replace("{{", "{").replace("}}", "}")):
                body["text"] += " okay"
        elif kind == "pause":
            body["seconds"] = _whole(body["seconds"])
        elif kind == "gather":
            if not hosted:
                body["retries"] = 0
            body["timeout"] = _whole(body.get("timeout", 5))
            _steps(body.get("prompt", []), depth + 1, hosted)
            for branch in [*(body.get("options") or {}).values(), body.get("no_input"),
                           body.get("invalid")]:
                if isinstance(branch, dict):
                    branch = branch.get("steps")
                if isinstance(branch, list):
                    _steps(branch, depth + 1, hosted)
        elif kind == "record":
            body["max_length"] = _whole(body.get("max_length", 60))
            if "silence_timeout" in body:
                body["silence_timeout"] = _whole(body["silence_timeout"])
            if body.get("transcribe"):
                body["transcribe_language"] = "en-US"
        elif kind == "transfer":
            targets = body["targets"]
            steps[index] = {"transfer": {
                "targets": targets if isinstance(targets, str) else targets[0],
                "timeout": _whole(body.get("timeout", 30), 3, 120),
                **({"caller_id": body["caller_id"]} if body.get("caller_id") else {}),
                **({"record": True} if body.get("record") else {})}}


def fit(flow: Flow, *, hosted: bool = False) -> Flow:
    document = flow.to_dict()
    if "language" in document:
        document["language"] = _pick(_LOCALES, document["language"])
    document.pop("voice", None)
    document.pop("machine_detection", None)
    _steps(document["steps"], 0, hosted)
    return Flow.from_dict(document)


def run_hosted(flow: Flow, script: CalleeScript, call_id: str = "b1",
               **setup: Any) -> tuple[CallRun, int]:
    """Run ``flow`` as a Bird call whose pushes the webhook app's logic decides (state kept
    here as the store would); returns the run and the number of pushes."""
    state = push.first_state(flow, "flow-1")
    pushes = 0

    def on_gather(call_flow_id: str, command_id: str, keys: str) -> list[Any] | None:
        nonlocal state, pushes
        document = push.next_flow(flow, call_id, state,
                                  GatherResult(keys, call_flow_id, command_id))
        if document is None or document.push is None:
            return None
        state = {**state, **document.push.state}
        pushes += 1
        commands: list[Any] = document.native
        return commands

    run = run_call(CallSetup(call_id=call_id, from_=setup.pop("from_", "+31201234567"),
                             to=setup.pop("to", "+31612345678"),
                             call_flow=compile.start(flow), record=flow.record, **setup),
                   script, on_gather=on_gather)
    return run, pushes
