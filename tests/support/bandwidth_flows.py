"""Generated flows brought inside Bandwidth's capabilities, and an in-process Bandwidth
call: the webhook app served through starlette's TestClient, the interpreter calling it.

``fit`` changes only what Bandwidth cannot run as written (its documented limits, and the
options it lacks: hold music, end_on_exit, waiting for a moderator, languages and voices
it has no speaker for), so the differential test covers everything else as generated.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from starlette.testclient import TestClient

from univoice.flow import Flow
from univoice.flow.speech import spoken
from univoice.hosting import flow_id
from univoice.simulator.script import CalleeScript
from univoice.webhooks.app import VoiceApp
from univoice_bandwidth import BandwidthProvider
from univoice_bandwidth.interpreter import CallRun, CallSetup, run_call
from univoice_bandwidth.voices import LANGUAGES, VOICES

USER, PASSWORD = "univoice-cb", "cb-secret-0f9e"


def _pick(options: list[str] | tuple[str, ...], seed: str) -> str:
    # Deterministic: the same generated value always maps to the same supported one.
    return options[int(hashlib.sha256(seed.encode()).hexdigest(), 16) % len(options)]


def _say(body: dict[str, Any]) -> None:
    if "language" in body:
        body["language"] = _pick(LANGUAGES, body["language"])
    if "voice" in body:
        body["voice"] = _pick(sorted(VOICES), body["voice"])
    body["loop"] = min(body.get("loop", 1), 3)
    if not spoken(re.sub(r"\{[A-Za-z_]\w*\}", "", body["text"])):
        body["text"] += " okay"  # speech left blank (control characters, empty variables)


def _steps(steps: list[Any], flow_record: bool) -> None:
    for step in steps:
        if not isinstance(step, dict):
            continue
        (kind, body), = step.items()
        if not isinstance(body, dict):
            continue
        if kind == "say":
            _say(body)
        elif kind == "pause":
            body["seconds"] = max(body["seconds"], 0.1)
        elif kind == "play":
            body["loop"] = min(body.get("loop", 1), 3)
        elif kind == "gather":
            body["timeout"] = min(max(body.get("timeout", 5), 1), 60)
            body["max_digits"] = min(body.get("max_digits", 1), 50)
            prompts = body.get("prompt", [])
            _steps(prompts, flow_record)
            for prompt in prompts:  # at most 20 verbs in a Gather
                (_, p), = prompt.items()
                if isinstance(p, dict) and "loop" in p:
                    p["loop"] = 1
            body["prompt"] = prompts[:20]
            for branch in [*(body.get("options") or {}).values(), body.get("no_input"),
                           body.get("invalid")]:
                _branch(branch, flow_record)
        elif kind == "record":
            body["max_length"] = max(body.get("max_length", 60), 1)
            if "silence_timeout" in body:
                body["silence_timeout"] = max(body["silence_timeout"], 0.1)
            if body.get("transcribe"):
                body["transcribe_language"] = "en-US"
        elif kind == "transfer":
            body["targets"] = body["targets"][:8]
            body["timeout"] = max(body.get("timeout", 30), 1)
            _branch(body.get("no_answer"), flow_record)
        elif kind == "conference":
            for option in ("hold_music", "end_on_exit", "start_on_enter"):
                body.pop(option, None)
            if flow_record:
                body.pop("record", None)
        elif kind == "send_digits":
            body["digits"] = body["digits"][:50]


def _branch(branch: Any, flow_record: bool) -> None:
    if isinstance(branch, dict):
        branch = branch.get("steps")
    if isinstance(branch, list):
        _steps(branch, flow_record)


def fit(flow: Flow) -> Flow:
    """``flow`` with what Bandwidth cannot run replaced by the nearest thing it can."""
    document = flow.to_dict()
    if "language" in document:
        document["language"] = _pick(LANGUAGES, document["language"])
    if "voice" in document:
        document["voice"] = _pick(sorted(VOICES), document["voice"])
    record = bool(document.get("record"))
    _steps(document["steps"], record)
    detection = document.get("machine_detection")
    if isinstance(detection, dict):
        _branch(detection.get("on_machine"), record)
    return Flow.from_dict(document)


class InProcessBandwidth:
    """The webhook app and the interpreter in one process, without sockets."""

    def __init__(self, store: str = "sqlite://:memory:") -> None:
        self.provider = BandwidthProvider(account_id="9900000", callback_username=USER,
                                          callback_password=PASSWORD)
        self.app = VoiceApp(public_url="http://testserver", store=store,
                            providers=[self.provider])
        self.client = TestClient(self.app)
        self.context = self.app.continuations("bandwidth")
        self.calls = 0

    def http(self, method: str, url: str, payload: dict[str, Any],
             creds: tuple[str, str] | None) -> tuple[int, str]:
        headers = {}
        if creds is not None:
            token = base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
            headers["authorization"] = f"Basic {token}"
        if method == "GET":
            response = self.client.get(url, params=payload, headers=headers)
        else:
            response = self.client.request(method, url, json=payload, headers=headers)
        return response.status_code, response.text

    def call(self, flow: Flow, script: CalleeScript, *, call_id: str | None = None,
             from_: str = "+31201234567", to: str = "+31612345678") -> CallRun:
        self.calls += 1
        self.provider.check_flow(flow)  # as the client does before placing a call
        stored = self.context.save_flow(flow, flow_id(flow))
        setup = CallSetup(
            call_id=call_id or f"c-{self.calls:08d}", from_=from_, to=to,
            answer_url=self.context.flow_url(stored, "start"), username=USER,
            password=PASSWORD, disconnect_url=self.context.events_url(),
            machine_detection={"mode": "sync"} if flow.machine_detection else None)
        return run_call(setup, script, self.http)

    def close(self) -> None:
        self.client.close()
        self.app.store.close()
