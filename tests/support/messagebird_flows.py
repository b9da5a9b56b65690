"""Generated flows brought inside MessageBird's capabilities, and an in-process MessageBird
call: the webhook app through starlette's TestClient, the interpreter calling it.

``fit`` changes only what MessageBird cannot run as written: steps it has no action for
become a say, and values outside its documented limits (whole-second pauses and windows,
one transfer target, its languages) move to the nearest it accepts.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

from starlette.testclient import TestClient

from univoice.flow import Flow
from univoice.flow.speech import spoken
from univoice.hosting import flow_id
from univoice.simulator.script import CalleeScript
from univoice.webhooks.app import VoiceApp
from univoice_messagebird import MessageBirdProvider
from univoice_messagebird.compile import LANGUAGES, TRANSCRIBE, Links, start
from univoice_messagebird.interpreter import CallRun, CallSetup, run_call

SIGNING_KEY = "mb-signing-key-3c1f"
_STAND_IN = {"say": {"text": "A step MessageBird has no action for."}}


def _pick(options: list[str] | tuple[str, ...], seed: str) -> str:
    return options[int(hashlib.sha256(seed.encode()).hexdigest(), 16) % len(options)]


def _whole(value: float, low: int = 1) -> int:
    return max(low, math.ceil(value))


def _branch(branch: Any) -> Any:
    if isinstance(branch, dict):
        branch = branch.get("steps")
    if isinstance(branch, list):
        _steps(branch)
    return branch


def _steps(steps: list[Any]) -> None:
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        (kind, body), = step.items()
        if kind in ("conference", "send_digits"):
            steps[index] = dict(_STAND_IN)
            continue
        if not isinstance(body, dict):
            if kind == "pause":
                steps[index] = {"pause": _whole(body)}
            elif kind == "transfer":
                steps[index] = {"transfer": body if isinstance(body, str) else body[0]}
            elif kind == "play" or kind == "say":
                pass
            continue
        if kind == "say":
            if "language" in body:
                body["language"] = _pick(LANGUAGES, body["language"])
            body.pop("voice", None)
            if not spoken(re.sub(r"\{[A-Za-z_]\w*\}", "", body["text"])):
                body["text"] += " okay"
        elif kind == "play":
            body.pop("loop", None)
        elif kind == "pause":
            body["seconds"] = _whole(body["seconds"])
        elif kind == "gather":
            body["timeout"] = _whole(body.get("timeout", 5))
            prompts = body.get("prompt", [])
            _steps(prompts)
            for branch in [*(body.get("options") or {}).values(), body.get("no_input"),
                           body.get("invalid")]:
                _branch(branch)
        elif kind == "record":
            body["max_length"] = _whole(body.get("max_length", 60))
            if "silence_timeout" in body:
                body["silence_timeout"] = _whole(body["silence_timeout"])
            if body.get("finish_on_key", "#") not in ("#", "*", None):
                body["finish_on_key"] = "#"
            if body.get("transcribe"):
                body["transcribe_language"] = _pick(sorted(TRANSCRIBE),
                                                    str(body.get("transcribe_language")))
        elif kind == "transfer":
            targets = body["targets"]
            steps[index] = {"transfer": {"targets": targets if isinstance(targets, str)
                                         else targets[0], "record": body.get("record", False)}}


def fit(flow: Flow) -> Flow:
    document = flow.to_dict()
    if "language" in document:
        document["language"] = _pick(LANGUAGES, document["language"])
    document.pop("voice", None)
    document.pop("machine_detection", None)
    _steps(document["steps"])
    if document.get("language") not in (None, *TRANSCRIBE):
        # a record step without its own language transcribes in the flow's
        for _, step in Flow.from_dict(document).walk():
            if step.kind == "record" and step.transcribe and not step.transcribe_language:
                document["language"] = "en-US"
                break
    return Flow.from_dict(document)


class InProcessMessageBird:
    """The webhook app and the interpreter in one process, without sockets."""

    def __init__(self, store: str = "sqlite://:memory:",
                 inbound: dict[str, Flow] | None = None) -> None:
        self.provider = MessageBirdProvider(signing_key=SIGNING_KEY)
        self.app = VoiceApp(public_url="http://testserver", store=store,
                            providers=[self.provider], inbound=inbound)
        self.client = TestClient(self.app)
        self.context = self.app.continuations("messagebird")
        self.calls = 0

    def http(self, method: str, url: str, body: bytes | None,
             headers: dict[str, str]) -> tuple[int, str]:
        response = self.client.request(method, url, content=body, headers=headers)
        return response.status_code, response.text

    def call(self, flow: Flow, script: CalleeScript, *, call_id: str | None = None,
             from_: str = "+31201234567", to: str = "+31612345678") -> CallRun:
        self.calls += 1
        self.provider.check_flow(flow)
        stored = self.context.save_flow(flow, flow_id(flow))
        links = Links(flow=self.context.flow_url(stored, ""), key=SIGNING_KEY)
        setup = CallSetup(call_id=call_id or f"mb-{self.calls:08d}", from_=from_, to=to,
                          call_flow=start(flow, links),
                          webhook_url=self.context.events_url())
        return run_call(setup, script, self.http)

    def inbound(self, script: CalleeScript, *, from_: str = "+31612345678",
                to: str = "+31201234567") -> CallRun:
        """An inbound call to ``to``, running the call flow univoice stores at MessageBird
        for its numbers (one fetchCallFlow to the app)."""
        self.calls += 1
        setup = CallSetup(call_id=f"mb-in-{self.calls:08d}", from_=from_, to=to,
                          call_flow=self.provider.inbound_call_flow("http://testserver"),
                          direction="incoming", webhook_url=self.context.events_url())
        return run_call(setup, script, self.http)

    def close(self) -> None:
        self.client.close()
        self.app.store.close()
