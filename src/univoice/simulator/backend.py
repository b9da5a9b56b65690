"""The simulator's REST service: calls, recordings, transcriptions, conferences, flows and
webhook subscriptions, held in memory and served through ``httpx.MockTransport``.

Each created call is run at once by the engine (``simulate``); what a client sees then
depends on the simulator's clock: before the answer the call is ringing, then in
progress, then finished, and its recordings and conferences appear as their events pass.
``speed`` is virtual seconds per real second (0: everything has already happened).
"""

from __future__ import annotations

import io
import json
import math
import re
import struct
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from univoice.flow import Flow
from univoice.models import EndReason
from univoice.simulator.engine import TRANSCRIPTION, simulate
from univoice.simulator.script import CalleeScript
from univoice.simulator.trace import TraceEvent, TraceKind

BASE_URL = "https://simulator.univoice.invalid/v1"
MAX_MEDIA_SECONDS = 30.0  # generated audio is capped: it is a stand-in, not a recording
SAMPLE_RATE = 8000


class Clock:
    """Virtual seconds since the backend started: real time times ``speed``.

    ``speed=0`` means instant: calls are stamped at real time, but every call has
    already run to its end when it is looked at. Tests move the clock with ``advance``.
    """

    def __init__(self, speed: float = 0.0, now: Callable[[], float] = time.monotonic) -> None:
        self.speed, self._now, self._start = speed, now, now()
        self.offset = 0.0
        self.epoch = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> float:
        return (self._now() - self._start) * (self.speed or 1.0) + self.offset

    def seen_at(self) -> float:
        """The moment whose state a reader sees (the end of time when instant)."""
        return math.inf if self.speed == 0 else self()

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def at(self, virtual: float) -> datetime:
        return self.epoch + timedelta(seconds=virtual)


@dataclass
class SimCall:
    id: str
    to: str
    from_: str
    tag: str | None
    created: float  # virtual time of creation
    events: list[TraceEvent]  # times relative to ``created``
    end_reason: EndReason
    ended: float  # relative
    answered: float | None
    hung_up_by_api: bool = False

    def elapsed(self, now: float) -> float:
        return max(0.0, now - self.created)

    def seen(self, now: float) -> list[TraceEvent]:
        t = self.elapsed(now)
        return [e for e in self.events if e.at <= t]

    def status(self, now: float) -> str:
        t = self.elapsed(now)
        if t >= self.ended:
            if self.hung_up_by_api and self.answered is None:
                return "canceled"
            return {EndReason.BUSY: "busy", EndReason.NO_ANSWER: "no_answer",
                    EndReason.FAILED: "failed"}.get(self.end_reason, "completed")
        if self.answered is not None and t >= self.answered:
            return "in_progress"
        return "ringing" if t > 0 else "queued"


@dataclass
class Backend:
    """In-memory state plus the request handler. Thread-safe (one lock)."""

    clock: Clock = field(default_factory=Clock)
    callee: CalleeScript = field(default_factory=CalleeScript)
    callees: dict[str, CalleeScript] = field(default_factory=dict)
    api_key: str | None = None
    calls: dict[str, SimCall] = field(default_factory=dict)
    deleted_recordings: set[str] = field(default_factory=set)
    transcriptions: dict[str, str] = field(default_factory=dict)
    untranscribed: set[str] = field(default_factory=set)  # transcriptions deleted
    flows: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _ids: int = 0

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # Dispatch -------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.api_key is not None and request.headers.get("authorization") != (
                f"Bearer {self.api_key}"):
            return _error(401, "unauthorized", "missing or wrong API key")
        path = request.url.path.removeprefix(httpx.URL(BASE_URL).path)
        for method, pattern, handler in _ROUTES:
            if method == request.method and (match := pattern.fullmatch(path)):
                with self._lock:
                    try:
                        return handler(self, request, *match.groups())
                    except _Fail as fail:
                        return _error(fail.status, fail.code, fail.message)
        return _error(404, "not_found", f"no route for {request.method} {path}")

    def _next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}-{self._ids:06d}"

    # Calls --------------------------------------------------------------------------

    def create_call(self, request: httpx.Request) -> httpx.Response:
        body = _json(request)
        flow = Flow.from_dict(body["flow"]) if body.get("flow") else None
        call_id = self._next_id("sim")
        script = self.callees.get(body["to"], self.callee)
        now = self.clock()
        if flow is None:  # an answer URL the simulator cannot fetch: it hands over at once
            flow = Flow(steps=[{"redirect": {"url": body["answer_url"]}}])
        if body.get("record"):
            flow = flow.model_copy(update={"record": True})
        trace = simulate(flow, script, from_=body["from"], to=body["to"], call_id=call_id)
        self.calls[call_id] = SimCall(
            call_id, body["to"], body["from"], body.get("tag"), now, list(trace.events),
            trace.end_reason, trace.ended_at, trace.answered_at)
        # Like a provider's create response: the call as it is the moment it was queued.
        return _ok(self.call_json(self.calls[call_id], now), 201)

    def call_json(self, call: SimCall, now: float | None = None) -> dict[str, Any]:
        now = self._now() if now is None else now
        seen = call.seen(now)
        finished = call.elapsed(now) >= call.ended
        return {
            "id": call.id, "to": call.to, "from": call.from_, "tag": call.tag,
            "status": call.status(now),
            "created_at": self.clock.at(call.created).isoformat(),
            "answered_at": None if call.answered is None or call.elapsed(now) < call.answered
            else self.clock.at(call.created + call.answered).isoformat(),
            "ended_at": self.clock.at(call.created + call.ended).isoformat() if finished
            else None,
            "duration": round(call.ended - call.answered, 3)
            if finished and call.answered is not None else None,
            "end_reason": call.end_reason.value if finished else None,
            "events": [e.to_dict() for e in seen],
        }

    def get_call(self, request: httpx.Request, call_id: str) -> httpx.Response:
        return _ok(self.call_json(self._call(call_id)))

    def list_calls(self, request: httpx.Request) -> httpx.Response:
        q = request.url.params
        now = self._now()
        items = [c for c in self.calls.values()
                 if (not q.get("to") or c.to == q["to"])
                 and (not q.get("from") or c.from_ == q["from"])
                 and (not q.get("tag") or c.tag == q["tag"])
                 and (not q.get("status") or c.status(now) == q["status"])
                 and (not q.get("created_after")
                      or self.clock.at(c.created) >= _when(q["created_after"]))
                 and (not q.get("created_before")
                      or self.clock.at(c.created) < _when(q["created_before"]))]
        return _page(request, [self.call_json(c) for c in items])

    def update_call(self, request: httpx.Request, call_id: str) -> httpx.Response:
        call, body = self._call(call_id), _json(request)
        now = self._now()
        t = call.elapsed(now)
        if t >= call.ended:
            raise _Fail(409, "call_ended", f"call {call_id} has already ended")
        if call.answered is None or t < call.answered:
            raise _Fail(409, "not_answered", f"call {call_id} has not been answered yet")
        flow = (Flow.from_dict(body["flow"]) if body.get("flow")
                else Flow(steps=[{"redirect": {"url": body["redirect_url"]}}]))
        # The new flow runs from now on the answered call: its own ring and answer are cut.
        rest = simulate(flow, self.callees.get(call.to, self.callee).model_copy(
            update={"ring_seconds": 0.0}), from_=call.from_, to=call.to, call_id=call.id)
        shifted = [TraceEvent(round(t + e.at, 3), e.kind, e.path, e.data) for e in rest.events
                   if e.kind not in (TraceKind.INITIATED, TraceKind.RINGING,
                                     TraceKind.ANSWERED)]
        call.events = [e for e in call.events if e.at <= t] + shifted
        call.end_reason, call.ended = rest.end_reason, round(t + rest.ended_at, 3)
        return _ok(self.call_json(call))

    def hangup_call(self, request: httpx.Request, call_id: str) -> httpx.Response:
        call = self._call(call_id)
        t = call.elapsed(self._now())
        if t < call.ended:
            call.events = [e for e in call.events if e.at <= t] + [
                TraceEvent(t, TraceKind.HUNG_UP, None, {"by": "api"}),
                TraceEvent(t, TraceKind.COMPLETED, None, {"reason": "hangup"})]
            call.end_reason, call.ended, call.hung_up_by_api = EndReason.HANGUP, t, True
        return httpx.Response(204)

    # Recordings and transcriptions --------------------------------------------------

    def _recordings(self, call_id: str | None) -> list[dict[str, Any]]:
        now, out = self._now(), []
        for call in self.calls.values():
            if call_id is not None and call.id != call_id:
                continue
            for e in call.seen(now):
                rid = f"{call.id}-{e.data.get('recording_id', '')}"
                if e.kind == TraceKind.RECORDED and rid not in self.deleted_recordings:
                    out.append({"id": rid, "call_id": call.id, "status": "ready",
                                "duration": e.data.get("duration"), "format": "wav",
                                "media_url": f"{BASE_URL}/recordings/{rid}/media",
                                "created_at": self.clock.at(call.created + e.at).isoformat()})
        return out

    def list_recordings(self, request: httpx.Request, call_id: str | None = None
                        ) -> httpx.Response:
        call_id = call_id or request.url.params.get("call_id")
        if call_id:
            self._call(call_id)
        return _page(request, self._recordings(call_id))

    def _recording(self, rid: str) -> dict[str, Any]:
        for rec in self._recordings(None):
            if rec["id"] == rid:
                return rec
        raise _Fail(404, "not_found", f"no recording {rid}")

    def get_recording(self, request: httpx.Request, rid: str) -> httpx.Response:
        return _ok(self._recording(rid))

    def recording_media(self, request: httpx.Request, rid: str) -> httpx.Response:
        rec = self._recording(rid)
        return httpx.Response(200, content=tone_wav(float(rec["duration"] or 1.0)),
                              headers={"content-type": "audio/wav"})

    def delete_recording(self, request: httpx.Request, rid: str) -> httpx.Response:
        self._recording(rid)
        self.deleted_recordings.add(rid)
        return httpx.Response(204)

    def create_transcription(self, request: httpx.Request, rid: str) -> httpx.Response:
        self._recording(rid)
        self.transcriptions[rid] = TRANSCRIPTION
        self.untranscribed.discard(rid)
        return _ok(self._transcription(rid), 201)

    def get_transcription(self, request: httpx.Request, rid: str) -> httpx.Response:
        return _ok(self._transcription(rid))

    def delete_transcription(self, request: httpx.Request, rid: str) -> httpx.Response:
        self._transcription(rid)  # 404 when there is none
        self.transcriptions.pop(rid, None)
        self.untranscribed.add(rid)
        return httpx.Response(204)

    def _transcription(self, rid: str) -> dict[str, Any]:
        rec = self._recording(rid)
        text = self.transcriptions.get(rid)
        call = self.calls[rec["call_id"]]
        for e in call.seen(self._now()):
            if e.kind == TraceKind.TRANSCRIBED and rid == f"{call.id}-{e.data['recording_id']}":
                text = str(e.data.get("text", TRANSCRIPTION))
        if text is None or (rid in self.untranscribed and rid not in self.transcriptions):
            raise _Fail(404, "not_found", f"recording {rid} has no transcription")
        return {"id": f"{rid}-t", "recording_id": rid, "call_id": rec["call_id"],
                "status": "ready", "text": text}

    # Conferences ----------------------------------------------------------------------

    def _conferences(self) -> dict[str, dict[str, Any]]:
        now = self._now()
        rooms: dict[str, dict[str, Any]] = {}
        for call in self.calls.values():
            t = call.elapsed(now)
            for e in call.events:
                if e.kind != TraceKind.CONFERENCE_JOINED or e.at > t:
                    continue
                name = str(e.data.get("name"))
                room = rooms.setdefault(name, {"id": f"conf-{name}", "name": name,
                                               "created_at": self.clock.at(call.created + e.at),
                                               "members": []})
                room["created_at"] = min(room["created_at"],
                                         self.clock.at(call.created + e.at))
                left = next((x.at for x in call.events if x.at >= e.at and x.kind in (
                    TraceKind.CONFERENCE_LEFT, TraceKind.COMPLETED)), call.ended)
                if left > t:
                    room["members"].append({"call_id": call.id, "conference_id": room["id"],
                                            "muted": bool(e.data.get("muted")),
                                            "on_hold": False})
        for room in rooms.values():
            room["status"] = "active" if room["members"] else "completed"
            room["created_at"] = room["created_at"].isoformat()
        return {room["id"]: room for room in rooms.values()}

    def list_conferences(self, request: httpx.Request) -> httpx.Response:
        name = request.url.params.get("name")
        rooms = [r for r in self._conferences().values() if not name or r["name"] == name]
        return _page(request, rooms)

    def get_conference(self, request: httpx.Request, cid: str) -> httpx.Response:
        room = self._conferences().get(cid)
        if room is None:
            raise _Fail(404, "not_found", f"no conference {cid}")
        return _ok(room)

    def update_conference(self, request: httpx.Request, cid: str) -> httpx.Response:
        room = self._conferences().get(cid)
        if room is None:
            raise _Fail(404, "not_found", f"no conference {cid}")
        body = _json(request)
        for member in room["members"]:
            if body.get("status") == "completed":
                self.hangup_call(request, member["call_id"])
        return httpx.Response(204)

    def list_members(self, request: httpx.Request, cid: str) -> httpx.Response:
        room = self._conferences().get(cid)
        if room is None:
            raise _Fail(404, "not_found", f"no conference {cid}")
        return _page(request, room["members"])

    def update_member(self, request: httpx.Request, cid: str, call_id: str) -> httpx.Response:
        room = self._conferences().get(cid)
        if room is None or all(m["call_id"] != call_id for m in room["members"]):
            raise _Fail(404, "not_found", f"call {call_id} is not in conference {cid}")
        return httpx.Response(204)

    # Stored flows and webhook subscriptions ------------------------------------------

    def create_flow(self, request: httpx.Request) -> httpx.Response:
        body = _json(request)
        Flow.from_dict(body["flow"])
        fid = self._next_id("flow")
        self.flows[fid] = {"id": fid, "name": body.get("name"), "flow": body["flow"],
                           "created_at": self.clock.epoch.isoformat()}
        return _ok(self.flows[fid], 201)

    def list_flows(self, request: httpx.Request) -> httpx.Response:
        return _page(request, list(self.flows.values()))

    def get_flow(self, request: httpx.Request, fid: str) -> httpx.Response:
        return _ok(self._item(self.flows, fid, "flow"))

    def delete_flow(self, request: httpx.Request, fid: str) -> httpx.Response:
        self._item(self.flows, fid, "flow")
        del self.flows[fid]
        return httpx.Response(204)

    def create_webhook(self, request: httpx.Request) -> httpx.Response:
        body = _json(request)
        wid = self._next_id("wh")
        self.webhooks[wid] = {"id": wid, "url": body["url"], "events": body.get("events", []),
                              "created_at": self.clock.epoch.isoformat()}
        return _ok(self.webhooks[wid], 201)

    def list_webhooks(self, request: httpx.Request) -> httpx.Response:
        return _page(request, list(self.webhooks.values()))

    def delete_webhook(self, request: httpx.Request, wid: str) -> httpx.Response:
        self._item(self.webhooks, wid, "webhook")
        del self.webhooks[wid]
        return httpx.Response(204)

    # Helpers --------------------------------------------------------------------------

    def _now(self) -> float:
        return self.clock.seen_at()

    def _call(self, call_id: str) -> SimCall:
        call = self.calls.get(call_id)
        if call is None:
            raise _Fail(404, "not_found", f"no call {call_id}")
        return call

    @staticmethod
    def _item(items: dict[str, dict[str, Any]], key: str, what: str) -> dict[str, Any]:
        if key not in items:
            raise _Fail(404, "not_found", f"no {what} {key}")
        return items[key]


class _Fail(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message


def _ok(data: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=data)


def _error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})


def _json(request: httpx.Request) -> dict[str, Any]:
    try:
        body = json.loads(request.content or b"{}")
    except ValueError:
        raise _Fail(400, "invalid_json", "the body is not JSON") from None
    if not isinstance(body, dict):
        raise _Fail(400, "invalid_json", "the body must be a JSON object")
    return body


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _Fail(400, "invalid_filter", f"{text!r} is not an ISO-8601 time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _page(request: httpx.Request, items: list[dict[str, Any]]) -> httpx.Response:
    """Offset cursors: the cursor is the index of the next item."""
    q = request.url.params
    try:
        size = int(q.get("page_size", "50"))
        start = int(q.get("cursor", "0"))
    except ValueError:
        raise _Fail(400, "invalid_paging", "page_size and cursor are integers") from None
    end = start + max(1, size)
    return _ok({"items": items[start:end], "next_cursor": str(end) if end < len(items)
                else None})


def tone_wav(seconds: float) -> bytes:
    """A short real WAV file: a quiet 440 Hz tone, 8 kHz mono 16-bit."""
    frames = int(SAMPLE_RATE * min(max(seconds, 0.1), MAX_MEDIA_SECONDS))
    samples = struct.pack(f"<{frames}h", *(
        int(3000 * math.sin(2 * math.pi * 440 * i / SAMPLE_RATE)) for i in range(frames)))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(samples)
    return out.getvalue()


_H = Callable[..., httpx.Response]
_ROUTE_TABLE: list[tuple[str, str, _H]] = [
    ("POST", r"/calls", Backend.create_call),
    ("GET", r"/calls", Backend.list_calls),
    ("GET", r"/calls/([^/]+)", Backend.get_call),
    ("POST", r"/calls/([^/]+)", Backend.update_call),
    ("DELETE", r"/calls/([^/]+)", Backend.hangup_call),
    ("GET", r"/calls/([^/]+)/recordings", Backend.list_recordings),
    ("GET", r"/recordings", Backend.list_recordings),
    ("GET", r"/recordings/([^/]+)", Backend.get_recording),
    ("GET", r"/recordings/([^/]+)/media", Backend.recording_media),
    ("DELETE", r"/recordings/([^/]+)", Backend.delete_recording),
    ("POST", r"/recordings/([^/]+)/transcription", Backend.create_transcription),
    ("GET", r"/recordings/([^/]+)/transcription", Backend.get_transcription),
    ("DELETE", r"/recordings/([^/]+)/transcription", Backend.delete_transcription),
    ("GET", r"/conferences", Backend.list_conferences),
    ("GET", r"/conferences/([^/]+)", Backend.get_conference),
    ("POST", r"/conferences/([^/]+)", Backend.update_conference),
    ("GET", r"/conferences/([^/]+)/members", Backend.list_members),
    ("PUT", r"/conferences/([^/]+)/members/([^/]+)", Backend.update_member),
    ("POST", r"/flows", Backend.create_flow),
    ("GET", r"/flows", Backend.list_flows),
    ("GET", r"/flows/([^/]+)", Backend.get_flow),
    ("DELETE", r"/flows/([^/]+)", Backend.delete_flow),
    ("POST", r"/webhooks", Backend.create_webhook),
    ("GET", r"/webhooks", Backend.list_webhooks),
    ("DELETE", r"/webhooks/([^/]+)", Backend.delete_webhook),
]
_ROUTES = [(method, re.compile(path), handler) for method, path, handler in _ROUTE_TABLE]
