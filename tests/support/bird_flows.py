"""Generated flows brought inside what univoice runs on Bird today (one call flow of at
most 20 commands, menus without re-prompts): steps Bird has no command for become a say,
values move to the nearest it accepts."""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

from univoice.flow import Flow
from univoice.flow.speech import spoken
from univoice_bird.compile import LOCALES

_STAND_IN = {"say": {"text": "A step Bird has no command for."}}
_LOCALES = sorted(LOCALES)


def _pick(options: list[str], seed: str) -> str:
    return options[int(hashlib.sha256(seed.encode()).hexdigest(), 16) % len(options)]


def _whole(value: float, low: int = 1, high: int | None = None) -> int:
    out = max(low, math.ceil(value))
    return min(out, high) if high is not None else out


def _steps(steps: list[Any], depth: int) -> None:
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        (kind, body), = step.items()
        if kind in ("conference", "send_digits", "redirect"):
            steps[index] = dict(_STAND_IN)
            continue
        if kind == "gather" and (depth > 0 or not isinstance(body, dict)
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
            body["text"] = re.sub(r"\{[A-Za-z_]\w*\}", "x", body["text"])
            if not spoken(body["text"].replace("{{", "{").replace("}}", "}")):
                body["text"] += " okay"
        elif kind == "pause":
            body["seconds"] = _whole(body["seconds"])
        elif kind == "gather":
            body["retries"] = 0
            body["timeout"] = _whole(body.get("timeout", 5))
            _steps(body.get("prompt", []), depth + 1)
            for branch in [*(body.get("options") or {}).values(), body.get("no_input"),
                           body.get("invalid")]:
                if isinstance(branch, dict):
                    branch = branch.get("steps")
                if isinstance(branch, list):
                    _steps(branch, depth + 1)
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


def fit(flow: Flow) -> Flow:
    document = flow.to_dict()
    if "language" in document:
        document["language"] = _pick(_LOCALES, document["language"])
    document.pop("voice", None)
    document.pop("machine_detection", None)
    _steps(document["steps"], 0)
    return Flow.from_dict(document)
