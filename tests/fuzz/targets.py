"""What the fuzzer feeds, and to what: every parser of outside input, called in-process.

Each target is built once (``Target.make()``: providers with planted keys, a webhook app
with an in-memory store, a stored flow) and then called with one input (bytes) at a time.

Requests (callbacks, continuation pulls, REST answers) are fuzzed as an *envelope*: a first
line of JSON (``{"method", "path", "query", "headers", "sign"}``, or ``{"op", "status",
"headers"}`` for a REST answer), then the body's bytes, so that mutations reach the query,
the headers and the body alike; an input without such a first line is used whole as the
body. With ``"sign": true`` the request is signed (MessageBird JWT or continuation token,
Bird HMAC, Bandwidth's Basic credentials) after mutation, so a hostile body gets past
verification to the parser, as one from a provider bug or a leaked key would; without it
the verification itself is fuzzed. Webhook requests go through ``VoiceApp._read`` (the app's
own size, content-type and URL handling, on a Starlette request), then the provider's
``verify_webhook``, ``parse_events`` and ``respond_to_callback`` or
``render_continuation``, and every event must be storable (as ``VoiceApp._handle`` stores
it). REST answers go through the transport's parse and error mapping
(``univoice.transport``), as ``Voice`` runs them.
"""

from __future__ import annotations

import atexit
import base64
import json
import re
import shutil
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import httpx
import yaml
from starlette.requests import Request

from univoice.config import Config
from univoice.errors import UnivoiceError
from univoice.flow import Flow
from univoice.hosting import flow_id as digest_of
from univoice.models import Recording
from univoice.params import (
    CallFilters,
    ConferenceFilters,
    CreateCall,
    MemberUpdate,
    UpdateCall,
    UpdateConference,
)
from univoice.provider import Provider
from univoice.retry import parse_retry_after
from univoice.simulator.script import CalleeScript
from univoice.store.base import dump
from univoice.transport import HttpSettings, _Core
from univoice.webhooks import VoiceApp
from univoice.webhooks.app import INBOUND
from univoice.webhooks.request import WebhookRejected

from .mutate import Seed, split_envelope

ROOT = Path(__file__).resolve().parents[2]
CASSETTES = ROOT / "cassettes"
EXAMPLES = ROOT / "examples"
SAMPLES = ROOT.parent / "shared" / "reference" / "samples"
PUBLIC = "https://voice.example.com"
PREFIX = "/univoice"
# The credentials the fuzzer signs requests with (tests/security/test_webhook_auth.py too).
BW_USER, BW_PASSWORD = "cb-fuzz-user", "cb-fuzz-password"
MB_ACCESS, MB_SIGNING = "mb-fuzz-access-key", "mb-fuzz-signing-key"
BIRD_ACCESS, BIRD_SIGNING = "bird-fuzz-access-key", "bird-fuzz-signing-key"
WS = "00000000-0000-4000-8000-000000000001"
CH = "00000000-0000-4000-8000-000000000002"

Run = Callable[[bytes], object]


@dataclass(frozen=True)
class Target:
    name: str
    what: str
    make: Callable[[], Run]
    corpus: Callable[[], list[Seed]]
    ci_inputs: int = 100_000
    # An outcome label that must show up in at least 5% of the inputs: proof that the
    # inputs get past the first checks to the parser behind them.
    reach: str = "ok"
    cost: float = 200.0  # CPU microseconds per input, as measured (to share the work)


# Helpers --------------------------------------------------------------------------------


def text_of(data: bytes) -> str:
    """Input bytes as the str an API user would pass (lone surrogates kept, else Latin-1)."""
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def body_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if value is None:
        return b""
    try:
        return json.dumps(value).encode()
    except (ValueError, RecursionError):
        return repr(value).encode()


def as_text(value: Any, default: str = "") -> str:
    if value is None:
        return default
    return value if isinstance(value, str) else json.dumps(value)[:1000]


def header_pairs(value: Any) -> list[tuple[bytes, bytes]]:
    """Header lines as a server hands them to an ASGI app: lower-case names, raw bytes, no
    CR, LF or NUL (a server refuses those)."""
    if not isinstance(value, dict):
        return []
    out = []
    for name, item in value.items():
        clean_name = re.sub(r"[\r\n\x00:\s]", "", str(name)).lower()
        if not clean_name:
            continue
        text = re.sub(r"[\r\n\x00]", "", as_text(item))
        out.append((clean_name.encode("utf-8", "surrogatepass"),
                    text.encode("utf-8", "surrogatepass")))
    return out


def drive(coroutine: Any) -> Any:
    """Run a coroutine that never waits (the app's ``_read`` on a request in memory)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise AssertionError("the coroutine waited for something")


def load_flow(name: str) -> Flow:
    return Flow.from_yaml(EXAMPLES / name)


# Webhooks ---------------------------------------------------------------------------------

_ROUTE = re.compile(rf"{PREFIX}/(?P<provider>[^/]+)/(?:(?P<events>events)|flow/"
                    rf"(?P<flow_id>[^/]+)/(?P<node>[^/]+))")


def make_provider(name: str) -> Provider:
    from univoice.plugins import get_provider

    if name == "bandwidth":
        return get_provider(name, account_id="9900000", username="api-user",
                            password="api-password", callback_username=BW_USER,
                            callback_password=BW_PASSWORD)
    if name == "messagebird":
        return get_provider(name, access_key=MB_ACCESS, signing_key=MB_SIGNING)
    return get_provider(name, workspace_id=WS, channel_id=CH, access_key=BIRD_ACCESS,
                        signing_key=BIRD_SIGNING)


FLOWS = {"bandwidth": "support_ivr.yaml", "messagebird": "support_ivr_portable.yaml",
         "bird": "support_ivr_portable.yaml"}


class Webhooks:
    """A webhook app for one provider, driven a request at a time without a server."""

    def __init__(self, provider: str) -> None:
        self.name = provider
        self.provider = make_provider(provider)
        self.flow = load_flow(FLOWS[provider])
        self.app = VoiceApp(public_url=PUBLIC, store="sqlite://:memory:",
                            providers=[self.provider], default_flow=self.flow)
        self.context = self.app.continuations(provider)
        self.flow_id = self.context.save_flow(self.flow, digest_of(self.flow))
        self.context.load_flow(self.flow_id)  # parsed once, as the app does

    def close(self) -> None:
        self.app.store.close()

    # One request -----------------------------------------------------------------------

    def fuzz(self, data: bytes) -> object:
        head, body = split_envelope(data)
        if head is None:
            head = {"method": "POST", "path": f"{PREFIX}/{self.name}/events",
                    "headers": {"content-type": "application/json"}, "sign": True}
        return f"HTTP {self.handle(head, body)[0]}"

    def handle(self, env: dict[str, Any], body: bytes) -> tuple[int, str]:
        """The app's answer to one request: (status, body)."""
        method = as_text(env.get("method"), "POST").upper()[:10] or "POST"
        raw_path = as_text(env.get("path"), f"{PREFIX}/{self.name}/events").encode(
            "utf-8", "surrogatepass")
        query = as_text(env.get("query")).encode("utf-8", "surrogatepass")
        headers = header_pairs(env.get("headers"))
        if not raw_path.isascii() or b" " in raw_path or b"?" in raw_path:
            return 400, "the server refuses such a request line"
        if env.get("sign") is True:
            query, headers = self.sign(method, raw_path, query, headers, body)
        path = unquote(raw_path.decode("ascii"))  # as uvicorn decodes it
        route = _ROUTE.fullmatch(path)
        if route is None or route["provider"] != self.name:
            return 404, "no route"
        try:
            return self._route(route, method, raw_path, path, query, headers, body)
        except WebhookRejected as exc:
            return exc.status, exc.reason

    def _request(self, method: str, raw_path: bytes, path: str, query: bytes,
                 headers: list[tuple[bytes, bytes]], body: bytes) -> Request:
        # The envelope's own headers first: a fuzzed Content-Length is the one read.
        sent = [*headers, (b"content-length", str(len(body)).encode())] if body else headers
        scope = {"type": "http", "method": method, "path": path, "raw_path": raw_path,
                 "query_string": query, "headers": sent,
                 "http_version": "1.1", "scheme": "https", "server": ("127.0.0.1", 443),
                 "root_path": ""}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        return Request(scope, receive)

    def _route(self, route: re.Match[str], method: str, raw_path: bytes, path: str,
               query: bytes, headers: list[tuple[bytes, bytes]], body: bytes
               ) -> tuple[int, str]:
        request = self._request(method, raw_path, path, query, headers, body)
        provider = self.provider
        if route["events"]:
            if method != "POST":
                return 405, "method not allowed"
            hook = drive(self.app._read(request, provider))
            provider.verify_webhook(hook)
            events = provider.parse_events(hook)
            document = provider.respond_to_callback(hook, events, self.context)
        else:
            if method not in ("GET", "POST"):
                return 405, "method not allowed"
            hook = drive(self.app._read(request, provider, body_optional=True))
            provider.verify_webhook(hook)
            events = provider.parse_events(hook) if hook.body or hook.query else []
            flow_id, node = route["flow_id"], route["node"]
            if flow_id == INBOUND:
                flow_id = self.app._inbound_id(provider, hook, self.context)
            flow = self.context.load_flow(flow_id)
            if flow is None:
                return 404, "no flow"
            document = provider.render_continuation(flow, flow_id, node, hook, events,
                                                    self.context)
        for event in events:  # as VoiceApp._handle stores them
            dump(event.model_dump(mode="json", by_alias=True), "event")
        if document is None or getattr(document, "push", None) is not None:
            return 200, "{}"
        return 200, document.body

    # Signing ---------------------------------------------------------------------------

    def sign(self, method: str, raw_path: bytes, query: bytes,
             headers: list[tuple[bytes, bytes]], body: bytes
             ) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        """The request as the provider would sign it (its old signature headers dropped),
        over the URL as the app rebuilds it (``VoiceApp._read``: Latin-1)."""
        drop = {b"authorization", b"messagebird-signature-jwt", b"messagebird-signature",
                b"messagebird-request-timestamp"}
        headers = [(k, v) for k, v in headers if k not in drop]
        seen = query.decode("latin-1")
        url = f"{PUBLIC}{raw_path.decode('latin-1')}{'?' + seen if seen else ''}"
        if self.name == "bandwidth":
            token = base64.b64encode(f"{BW_USER}:{BW_PASSWORD}".encode()).decode()
            return query, [*headers, (b"authorization", f"Basic {token}".encode())]
        if self.name == "messagebird":
            from univoice_messagebird import compile as mb_compile
            from univoice_messagebird import events as mb_events

            route = _ROUTE.fullmatch(unquote(raw_path.decode("latin-1")))
            if method == "GET" and route is not None and route["node"]:
                pairs = [(k, v) for k, v in parse_qsl(seen, keep_blank_values=True)
                         if k != "token"]
                token = mb_compile.url_token(MB_SIGNING, route["flow_id"], route["node"],
                                             dict(pairs))
                return urlencode([*pairs, ("token", token)]).encode(), headers
            signed = mb_events.sign(MB_SIGNING, url, body)
        else:
            from univoice_bird import events as bird_events

            signed = bird_events.sign(BIRD_SIGNING, url, body)
        return query, [*headers, *((k.lower().encode(), v.encode())
                                   for k, v in signed.items())]

    # Seeds -----------------------------------------------------------------------------

    def recorder(self, seeds: list[Seed]) -> Callable[..., tuple[int, str]]:
        """An ``Http`` for the provider's interpreter: each request it sends goes through
        ``handle`` and is kept as a seed envelope."""
        def http(method: str, url: str, payload: Any, creds_or_headers: Any
                 ) -> tuple[int, str]:
            parts = urlsplit(url)
            get = method.upper() == "GET"
            if self.name == "bandwidth":  # a dict: the query of a GET, else a JSON body
                query = urlencode(payload) if get else parts.query
                raw = b"" if get else json.dumps(payload).encode()
            else:  # MessageBird's interpreter sends bytes (or None) and its own headers
                query, raw = parts.query, payload or b""
            headers = {"content-type": "application/json",
                       "content-length": str(len(raw))} if raw else {}
            head = {"method": method.upper(), "path": parts.path, "query": query,
                    "headers": headers, "sign": True}
            seeds.append(Seed.envelope(head, raw, f"{self.name} {method} {parts.path}"))
            return self.handle(head, raw)

        return http


SCRIPTS = (CalleeScript(keys=["1"]), CalleeScript(keys=["2", "1234#"]),
           CalleeScript(keys=[None, None, None]), CalleeScript(keys=["9", "1"]),
           CalleeScript(keys=["1"], transfers=[False]), CalleeScript(answer="machine"),
           CalleeScript(keys=["2"], hang_up_after=4.0))


def _bandwidth_seeds(hooks: Webhooks) -> list[Seed]:
    from univoice_bandwidth.interpreter import CallSetup, run_call

    seeds: list[Seed] = []
    http = hooks.recorder(seeds)
    for n, script in enumerate(SCRIPTS):
        setup = CallSetup(call_id=f"c-{n}", from_="+31201234567", to="+31612345678",
                          answer_url=hooks.context.flow_url(hooks.flow_id, "start"),
                          username=BW_USER, password=BW_PASSWORD,
                          disconnect_url=hooks.context.events_url(),
                          machine_detection={"mode": "sync"} if n == 5 else None)
        run_call(setup, script, http)
    inbound = CallSetup(call_id="c-in", from_="+31612345678", to="+31201234567",
                        answer_url=hooks.context.events_url(), direction="inbound",
                        username=BW_USER, password=BW_PASSWORD)
    run_call(inbound, SCRIPTS[0], http)
    for file in sorted((SAMPLES / "bandwidth" / "callbacks").glob("*.json")):
        seeds.append(Seed.envelope({"method": "POST", "path": f"{PREFIX}/bandwidth/events",
                                    "headers": {"content-type": "application/json"},
                                    "sign": True}, json.loads(file.read_text()), file.name))
    return seeds


def _messagebird_seeds(hooks: Webhooks) -> list[Seed]:
    from univoice_messagebird import compile as mb_compile
    from univoice_messagebird.interpreter import CallSetup, run_call

    seeds: list[Seed] = []
    http = hooks.recorder(seeds)
    links = mb_compile.Links(flow=hooks.context.flow_url(hooks.flow_id, ""), key=MB_SIGNING)
    for n, script in enumerate(SCRIPTS):
        if script.answer == "machine":
            continue
        setup = CallSetup(call_id=f"mb-{n}", from_="+31201234567", to="+31612345678",
                          call_flow=mb_compile.start(hooks.flow, links),
                          webhook_url=hooks.context.events_url())
        run_call(setup, script, http)
    inbound = CallSetup(call_id="mb-in", from_="+31612345678", to="+31201234567",
                        call_flow=hooks.provider.inbound_call_flow(PUBLIC),  # type: ignore[attr-defined]
                        direction="incoming", webhook_url=hooks.context.events_url())
    run_call(inbound, SCRIPTS[0], http)
    for file in sorted((SAMPLES / "messagebird").glob("*webhook*.json")):
        seeds.append(Seed.envelope({"method": "POST",
                                    "path": f"{PREFIX}/messagebird/events",
                                    "headers": {"content-type": "application/json"},
                                    "sign": True}, json.loads(file.read_text()), file.name))
    return seeds


def _bird_seeds(hooks: Webhooks) -> list[Seed]:
    seeds: list[Seed] = []
    bodies: list[Any] = []
    for file in sorted((SAMPLES / "bird").glob("*.json")):
        bodies.append(json.loads(file.read_text()))
    call = {"id": "b-1", "status": "ongoing", "direction": "outgoing", "from": "+3197058016631",
            "to": "+351910648517", "createdAt": "2026-01-01T00:00:00Z", "tags": ["uv-x"],
            "answeredAt": "2026-01-01T00:00:03Z", "amdResult": {"result": "human"}}
    for status in ("accepted", "starting", "ringing", "ongoing", "completed", "no-answer",
                   "busy", "failed", "canceled"):
        bodies.append({**call, "status": status})
        bodies.append({"event": "voice.outbound", "payload": {**call, "status": status}})
    bodies.append({"event": "voice.inbound", "payload": {**call, "direction": "incoming",
                                                         "status": "starting"}})
    bodies.append({"event": "voice.outbound", "payload": {
        **call, "status": "ongoing", "variables": {"keys": "1"}, "keys": "12"}})
    bodies.append({"event": "voice.outbound", "payload": {
        **call, "status": "ongoing", "callFlow": {"id": "cf-1", "commands": [
            {"command": "say", "id": "s1", "options": {"text": "Hi"}},
            {"command": "gather", "id": "g1", "callFlowId": "cf-1", "keys": "1",
             "variables": {"keys": "1"}, "options": {"maxNumKeys": 1}}]}}})
    for body in bodies:
        seeds.append(Seed.envelope({"method": "POST", "path": f"{PREFIX}/bird/events",
                                    "headers": {"content-type": "application/json"},
                                    "sign": True}, body, "bird"))
    for node in ("start", "steps[1]", "steps[1].gather.options['2'].steps[0]"):
        seeds.append(Seed.envelope({"method": "POST", "path": f"{PREFIX}/bird/flow/"
                                    f"{hooks.flow_id}/{node}", "query": "on=gather&attempt=1",
                                    "headers": {"content-type": "application/json"},
                                    "sign": True}, bodies[-1], "bird continuation"))
    return seeds


_SEEDERS = {"bandwidth": _bandwidth_seeds, "messagebird": _messagebird_seeds,
            "bird": _bird_seeds}


def webhook_target(provider: str, ci_inputs: int, cost: float) -> Target:
    made: dict[str, Webhooks] = {}

    def hooks() -> Webhooks:
        if provider not in made:
            made[provider] = Webhooks(provider)
        return made[provider]

    return Target(
        f"{provider}.webhooks",
        f"{provider} callbacks and continuation pulls through VoiceApp._read, "
        "verify_webhook, parse_events, respond_to_callback / render_continuation",
        lambda: hooks().fuzz, lambda: _SEEDERS[provider](hooks()), ci_inputs, "HTTP 200",
        cost)


# REST answers -------------------------------------------------------------------------------


def operations(provider: Provider) -> dict[str, Any]:
    """Every REST operation the provider has, built with plain arguments."""
    flow = Flow.from_dict({"steps": [{"say": "Hello."}, "hangup"]})
    rec = Recording(provider=provider.name, id="rec-1", call_id="call-1",
                    media_url=f"{_api(provider)}/media/rec-1",
                    raw={"transcription": {"id": "t-1"}})
    create = CreateCall(to="+31612345678", from_="+31201234567", flow=flow, tag="uv-fuzz",
                        flow_url=f"{PUBLIC}/univoice/{provider.name}/flow/f/start",
                        events_url=f"{PUBLIC}/univoice/{provider.name}/events")
    update = UpdateCall(flow=flow, flow_url=f"{PUBLIC}/univoice/{provider.name}/flow/f/start",
                        events_url=f"{PUBLIC}/univoice/{provider.name}/events")
    makers: dict[str, Callable[[], Any]] = {
        "calls.create": lambda: provider.create_call(create),
        "calls.get": lambda: provider.get_call("call-1"),
        "calls.list": lambda: provider.list_calls(CallFilters(), None, 20),
        "calls.update": lambda: provider.update_call("call-1", update),
        "calls.redirect": lambda: provider.update_call(
            "call-1", UpdateCall(redirect_url="https://example.com/next")),
        "calls.hangup": lambda: provider.hangup_call("call-1"),
        "recordings.list": lambda: provider.list_recordings("call-1", None, 20),
        "recordings.list_all": lambda: provider.list_recordings(None, None, 20),
        "recordings.get": lambda: provider.get_recording("rec-1", "call-1"),
        "recordings.download": lambda: provider.download_recording(rec),
        "recordings.delete": lambda: provider.delete_recording(rec),
        "transcriptions.create": lambda: provider.create_transcription(rec, None),
        "transcriptions.get": lambda: provider.get_transcription(rec),
        "transcriptions.delete": lambda: provider.delete_transcription(rec),
        "conferences.list": lambda: provider.list_conferences(ConferenceFilters(), None, 20),
        "conferences.get": lambda: provider.get_conference("conf-1"),
        "conferences.update": lambda: provider.update_conference(
            "conf-1", UpdateConference(status="completed")),
        "conferences.members": lambda: provider.list_members("conf-1", None, 20),
        "conferences.update_member": lambda: provider.update_member(
            "conf-1", "call-1", MemberUpdate(muted=True)),
        "conferences.recordings": lambda: provider.list_conference_recordings(
            "conf-1", None, 20),
        "flows.list": lambda: provider.list_flows(None, 20),
        "flows.get": lambda: provider.get_flow("flow-1"),
        "flows.create": lambda: provider.create_flow(flow, "fuzz"),
        "flows.delete": lambda: provider.delete_flow("flow-1"),
        "webhooks.list": lambda: provider.list_webhooks(None, 20),
        "webhooks.create": lambda: provider.create_webhook("https://example.com/hook", []),
        "webhooks.delete": lambda: provider.delete_webhook("hook-1"),
    }
    ops: dict[str, Any] = {}
    for name, make in makers.items():
        try:
            ops[name] = make()
        except UnivoiceError:  # not a resource of this provider
            continue
    return ops


def _api(provider: Provider) -> str:
    return str(getattr(provider.settings, "api_url", "https://api.example.com")).rstrip("/")


class Rest:
    """One provider's REST parsers, behind the transport's parse and error mapping."""

    def __init__(self, provider: str) -> None:
        self.provider = make_provider(provider)
        self.ops = operations(self.provider)
        self.names = sorted(self.ops)
        self.core = _Core(self.provider, HttpSettings(), None)

    def fuzz(self, data: bytes) -> object:
        env, body = split_envelope(data)
        if env is None:
            env = {"op": self.names[len(data) % len(self.names)], "status": 200,
                   "headers": {"content-type": "application/json"}}
        name = env.get("op")
        op = self.ops.get(name if isinstance(name, str) else "", None)
        if op is None:
            op = self.ops[self.names[zlib.crc32(str(name).encode('utf-8', 'replace'))
                                     % len(self.names)]]
        status = env.get("status")
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            status = 200
        headers = header_pairs(env.get("headers"))  # bytes, as a server sends them
        response = httpx.Response(status, headers=headers, request=op.request)
        response._content = body  # as read off the wire (wrapping it in a stream to read it
        # back costs a third of the target's time, for nothing the parsers can tell)
        if status >= 400:
            error = self.core.error_for(op, response)
            parse_retry_after(response.headers.get("retry-after"))
            return type(error).__name__
        result = self.core.parse(op, response)
        if op.then is not None:  # a read of two requests: the next one is built from this
            op.then(result)
        if hasattr(result, "model_dump_json"):  # as `univoice call --json` prints it
            result.model_dump_json()
        for found in getattr(result, "items", None) or [result]:
            if isinstance(found, Recording):  # what a user does next, with what was read
                self._next_steps(found)
        return type(result).__name__

    def _next_steps(self, recording: Recording) -> None:
        for make in (self.provider.download_recording, self.provider.delete_recording,
                     self.provider.get_transcription):
            try:
                make(recording)
            except UnivoiceError:
                continue


def _rest_seeds(provider: str) -> list[Seed]:
    seeds: list[Seed] = []
    rest = Rest(provider)
    for file in sorted((CASSETTES / provider).glob("*.yaml")):
        cassette = yaml.safe_load(file.read_text("utf-8"))
        for interaction in cassette.get("interactions", []):
            request, response = interaction["request"], interaction["response"]
            op = _match(rest, request["method"], request["uri"])
            body: Any = (response.get("body") or {}).get("string", "")
            headers = {k: v[0] for k, v in response.get("headers", {}).items() if v}
            seeds.append(Seed.envelope({"op": op, "status": response["status"]["code"],
                                        "headers": headers}, body, f"{file.name} {op}"))
    for file in sorted((SAMPLES / provider).rglob("*.json")):
        data = json.loads(file.read_text())
        status = int(m.group(1)) if (m := re.search(r"_(\d{3})", file.stem)) else 200
        for op in _guess(rest, file.stem):
            seeds.append(Seed.envelope({"op": op, "status": status,
                                        "headers": {"content-type": "application/json"}},
                                       data, file.name))
    return seeds


def _match(rest: Rest, method: str, uri: str) -> str:
    """The operation whose request looks like this one (same method, same path shape)."""
    path = urlsplit(uri).path
    best, score = rest.names[0], -1
    for name, op in rest.ops.items():
        mine = op.request.url.path
        if op.request.method != method:
            continue
        a, b = mine.strip("/").split("/"), path.strip("/").split("/")
        if len(a) != len(b):
            continue
        same = sum(x == y for x, y in zip(a, b, strict=True))
        if same > score:
            best, score = name, same
    return best


def _guess(rest: Rest, stem: str) -> list[str]:
    words = stem.lower()
    found = [n for n in rest.names if any(part.rstrip("s") in words
                                          for part in n.split(".")[:1])
             and (("list" in words) == n.endswith(("list", "list_all", "members",
                                                   "recordings")))]
    return found[:4] or rest.names[:2]


def rest_target(provider: str, ci_inputs: int, cost: float) -> Target:
    made: dict[str, Rest] = {}

    def rest() -> Rest:
        if provider not in made:
            made[provider] = Rest(provider)
        return made[provider]

    return Target(f"{provider}.rest",
                  f"{provider} REST answers (every operation) through the transport's parse "
                  "and error mapping", lambda: rest().fuzz, lambda: _rest_seeds(provider),
                  ci_inputs, "Call", cost)


# Flows --------------------------------------------------------------------------------------


def _flow_yaml_seeds() -> list[Seed]:
    seeds = [Seed.of(file.read_bytes(), "yaml", file.name)
             for file in sorted(EXAMPLES.glob("*.yaml"))]
    readme = (ROOT / "README.md").read_text("utf-8")
    for block in re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL):
        seeds.append(Seed.of(block, "yaml", "README"))
    for file in sorted(EXAMPLES.glob("*.yaml")):
        seeds.append(Seed.of(Flow.from_yaml(file).to_yaml(), "yaml", f"{file.name} dumped"))
    return seeds


def _flow_json_seeds() -> list[Seed]:
    return [Seed.of(Flow.from_yaml(file).to_json(), "json", file.name)
            for file in sorted(EXAMPLES.glob("*.yaml"))]


def _flow_yaml() -> Run:
    def run(data: bytes) -> object:
        text = text_of(data)
        # YAML text, never a file name (a one-line string ending in .yaml would be one).
        return Flow.from_yaml(text if "\n" in text else text + "\n").to_dict()

    return run


def _flow_json() -> Run:
    def run(data: bytes) -> object:
        return Flow.from_json(data).to_dict()

    return run


# BXML ---------------------------------------------------------------------------------------


def _bxml_seeds() -> list[Seed]:
    from univoice_bandwidth import compile as bw_compile

    seeds = [Seed.of(file.read_bytes(), "xml", file.name)
             for file in sorted((SAMPLES / "bandwidth" / "bxml").glob("*.xml"))]
    links = bw_compile.Links(flow="https://voice.example.com/univoice/bandwidth/flow/f/",
                             events="https://voice.example.com/univoice/bandwidth/events",
                             username=BW_USER, password=BW_PASSWORD)
    for file in sorted(EXAMPLES.glob("*.yaml")):
        flow = Flow.from_yaml(file)
        try:
            seeds.append(Seed.of(bw_compile.start(flow, links), "xml", file.name))
        except UnivoiceError:
            continue
    return seeds


def _bxml_parse() -> Run:
    from univoice_bandwidth import bxml

    def run(data: bytes) -> object:
        root = bxml.parse(data)
        problems = bxml.validate(root)
        if not problems:
            for element in root.iter():
                if isinstance(element.tag, str) and element.tag in bxml.VERBS:
                    bxml.attributes(element)
        return "invalid" if problems else "valid"

    return run


def _bxml_interpreter() -> Run:
    from univoice_bandwidth.interpreter import CallSetup, run_call

    setup = CallSetup(call_id="c-fuzz", from_="+31201234567", to="+31612345678",
                      answer_url="https://app.example/answer", username="u", password="p",
                      disconnect_url="https://app.example/events")

    def run(data: bytes) -> object:
        documents = [text_of(data)]

        def http(method: str, url: str, payload: dict[str, Any],
                 creds: tuple[str, str] | None) -> tuple[int, str]:
            if payload.get("eventType") in ("answer", "initiate", "redirect") and documents:
                return 200, documents.pop()
            if payload.get("eventType") in ("gather", "recordComplete", "transferComplete"):
                return 200, "<Response><Hangup/></Response>"
            return 200, ""

        return run_call(setup, SCRIPTS[len(data) % len(SCRIPTS)], http).cause

    return run


# MessageBird and Bird call flows -------------------------------------------------------------


def _object(data: bytes) -> dict[str, Any] | None:
    """The input as a JSON object (what MessageBird's API would read), else None."""
    if not data.startswith(b"{"):
        return None
    try:
        found = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return found if isinstance(found, dict) else None


def _messagebird_flow_seeds() -> list[Seed]:
    from univoice_messagebird import compile as mb_compile

    seeds = []
    links = mb_compile.Links(flow="https://app.example/univoice/messagebird/flow/f/", key="k")
    for file in sorted(EXAMPLES.glob("*.yaml")):
        try:
            seeds.append(Seed.json(mb_compile.start(Flow.from_yaml(file), links), file.name))
        except UnivoiceError:
            continue
    for file in sorted((SAMPLES / "messagebird").glob("*callflow*.json")):
        data = json.loads(file.read_text())
        seeds.append(Seed.json(data, file.name))
    return seeds


def _messagebird_interpreter() -> Run:
    from univoice_messagebird.interpreter import CallSetup, run_call

    def run(data: bytes) -> object:
        text = text_of(data)
        fetched = [text]

        def http(method: str, url: str, body: bytes | None, headers: dict[str, str]
                 ) -> tuple[int, str]:
            if method == "GET" and fetched:
                return 200, fetched.pop()
            return 200, '{"steps": [{"action": "hangup"}]}' if method == "GET" else ""

        script = SCRIPTS[len(data) % len(SCRIPTS)]
        # The document fetched by fetchCallFlow, as MessageBird reads it from the app ...
        start = {"steps": [{"action": "fetchCallFlow",
                            "options": {"url": "https://app.example/next"}}]}
        fetched_run = run_call(CallSetup(call_id="mb-fuzz", from_="+31201234567",
                                         to="+31612345678", call_flow=start,
                                         webhook_url="https://app.example/events"),
                               script, http)
        # ... and the same, sent inline with a call (POST /calls), when it is an object.
        inline = _object(data)
        if inline is not None:
            run_call(CallSetup(call_id="mb-fuzz", from_="+31201234567", to="+31612345678",
                               call_flow=inline), script, http)
        return f"{fetched_run.trace.end_reason.value}/{fetched_run.status}"

    return run


def _bird_flow_seeds() -> list[Seed]:
    from univoice_bird import compile as bird_compile

    seeds = []
    for file in sorted(EXAMPLES.glob("*.yaml")):
        try:
            native = bird_compile.start(Flow.from_yaml(file))
        except (UnivoiceError, TypeError):
            continue
        seeds.append(Seed.json(native, file.name))
    for file in sorted((SAMPLES / "bird").glob("*request*.json")):
        seeds.append(Seed.json(json.loads(file.read_text()), file.name))
    return seeds


def _bird_interpreter() -> Run:
    from univoice.webhooks.request import decode_json
    from univoice_bird.interpreter import CallSetup, run_call

    def run(data: bytes) -> object:
        try:  # Bird's API reads the create-call body; what it cannot read never runs
            document = decode_json(data)
        except WebhookRejected:
            return "not JSON"
        if isinstance(document, dict):
            document = document.get("callFlow", document.get("commands", document))
        script = SCRIPTS[len(data) % len(SCRIPTS)]
        return run_call(CallSetup(call_id="b-fuzz", from_="+3197058016631",
                                  to="+351910648517", call_flow=document,
                                  record=len(data) % 2 == 0), script).status

    return run


# Importers (native document -> neutral flow) -------------------------------------------------


def _importer(provider: str) -> Callable[[], Run]:
    def make() -> Run:
        from univoice.plugins import provider_class

        adapter = provider_class(provider).offline()

        def run(data: bytes) -> object:
            imported = adapter.import_document(data)
            imported.flow.to_dict()
            return "imported"

        return run

    return make


_IMPORT_SEEDS: dict[str, Callable[[], list[Seed]]] = {
    "bandwidth": lambda: _bxml_seeds(),
    "messagebird": lambda: _messagebird_flow_seeds(),
    "bird": lambda: _bird_flow_seeds(),
}


# Configuration ------------------------------------------------------------------------------

CONFIG_SEEDS = (
    """provider = "simulator"
public_url = "https://voice.example.com/univoice"

[simulator]
speed = 20

[inbound]
"+31201234567" = "examples/support_ivr.yaml"
default = "examples/conference_bridge.yaml"

[http]
timeout = 15
max_attempts = 3
async_backend = "aiohttp"
""",
    """provider = "bandwidth"
public_url = "https://voice.example.com"
flow_store = "sqlite:///univoice.sqlite3"

[bandwidth]
account_id = "9900000"
application_id = "04e88489-df02-4e34-a0ee-27a91849555f"
client_id = "client"
client_secret = "secret"
callback_username = "univoice"
callback_password = "cb-secret"
""",
    """provider = "messagebird"
public_url = "https://voice.example.com"
[messagebird]
access_key = "mb-access"
signing_key = "mb-signing"
api_version = "20170314"
""",
    """provider = "bird"
[bird]
workspace_id = "00000000-0000-4000-8000-000000000001"
channel_id = "00000000-0000-4000-8000-000000000002"
access_key = "bird-access"
signing_key = "bird-signing"
api_url = "https://api.bird.com"
[http]
connect_timeout = 2.5
max_connections = 10
max_keepalive = 5
backoff = 0.1
max_backoff = 2
max_retry_after = 30
settle = 1
""",
)


def _config() -> Run:
    shm = Path("/dev/shm")  # memory, where there is one: a file per input
    directory = Path(tempfile.mkdtemp(prefix="univoice-fuzz-config-",
                                      dir=shm if shm.is_dir() else None))
    atexit.register(shutil.rmtree, directory, True)
    file = directory / "univoice.toml"

    def run(data: bytes) -> object:
        file.write_bytes(data)
        config = Config.load(file)
        config.missing()
        config.shown()
        repr(config)
        config.http.settings()
        if not config.missing():
            config.make_provider()
        return None

    return run


# The registry -------------------------------------------------------------------------------

# CI's counts, chosen to fit CI's budget (about 85 CPU seconds for the whole campaign, in
# two worker processes): 100,000 inputs where an input costs little, fewer where every
# input is a whole pydantic validation (a flow, a configuration, an imported document), a
# whole call, or a signed request through the app. ``cost``: CPU microseconds per input as
# measured on the 2-core CI machine, not otherwise busy (tests/fuzz/README.md has the
# table). UNIVOICE_FUZZ_INPUTS runs any number per target, UNIVOICE_FUZZ_SCALE scales these.
IMPORTS = {"bandwidth": (15_000, "imported", 169), "messagebird": (12_000, "imported", 233),
           "bird": (15_000, "imported", 130)}
TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("flow.yaml", "Flow.from_yaml (then to_dict)", _flow_yaml, _flow_yaml_seeds,
           15_000, "ok", 308),
    Target("flow.json", "Flow.from_json (then to_dict)", _flow_json, _flow_json_seeds,
           30_000, "ok", 166),
    webhook_target("bandwidth", 40_000, 130),
    webhook_target("messagebird", 25_000, 211),
    webhook_target("bird", 30_000, 160),
    rest_target("bandwidth", 100_000, 106),
    rest_target("messagebird", 80_000, 105),
    rest_target("bird", 60_000, 136),
    Target("bandwidth.bxml", "bxml.parse + validate + attributes (the hardened parser)",
           _bxml_parse, _bxml_seeds, 100_000, "valid", 56),
    Target("bandwidth.interpreter", "Bandwidth's BXML interpreter running a fetched document",
           _bxml_interpreter, _bxml_seeds, 80_000, "hangup", 105),
    Target("messagebird.interpreter", "MessageBird's call-flow interpreter (fetched and "
           "inline call flows)", _messagebird_interpreter, _messagebird_flow_seeds, 15_000,
           "hangup/hangup", 277),
    Target("bird.interpreter", "Bird's callFlow interpreter", _bird_interpreter,
           _bird_flow_seeds, 100_000, "completed", 59),
    *(Target(f"{name}.import", f"{name}'s importer: Provider.import_document, then the "
             "neutral flow's to_dict", _importer(name), _IMPORT_SEEDS[name], *IMPORTS[name])
      for name in ("bandwidth", "messagebird", "bird")),
    Target("config", "Config.load of a univoice.toml, then missing/shown/make_provider",
           _config, lambda: [Seed.of(s, "toml", "config") for s in CONFIG_SEEDS], 12_000,
           "ok", 293),
)}
