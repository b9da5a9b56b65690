"""Plant known Bandwidth secrets, then scan every channel univoice writes to: none may show
them, in any form they travel in.

The planted secrets: the API user's password, the OAuth2 client secret, the access tokens
the (fake) token endpoint hands out, the callback password. The forms: as is, URL-encoded,
form-encoded, JSON-escaped, XML-escaped, base64, and the HTTP Basic ``user:password`` token.
The channels: reprs and strs, every exception along the error paths (with its chained
causes and its traceback), log records of every logger at DEBUG, CLI output, the neutral
events' and models' ``raw`` payloads, and the cassettes.

The API misbehaves on purpose: ``EchoingBandwidth`` answers, while a fault holds, like a
careless API or proxy that echoes what it was sent (Authorization header, URL, body) in its
error bodies, so a secret reaches univoice's error paths and must be masked there.

The one place the callback credentials belong is the BXML the webhook app serves to
Bandwidth (verb attributes): the tests check they are there (so the scan would see them if
they leaked) and nowhere else.
"""

from __future__ import annotations

import asyncio
import base64
import html
import json
import logging
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
import yaml
from starlette.testclient import TestClient

from tests.cassettes import CASSETTES, REDACTED, provider_env
from tests.contract import bandwidth_cassettes as bw
from tests.support.fake_bandwidth import (
    ACCOUNT_ID,
    APPLICATION_ID,
    TOKEN_PATH,
    AppHttp,
    FakeBandwidth,
    interpreter_runner,
)
from tests.support.live_server import LiveServer
from univoice import AsyncVoice, Config, Flow, Voice
from univoice.errors import (
    AmbiguousCreate,
    AuthenticationError,
    ConfigError,
    InvalidRequest,
    ProviderError,
    UnivoiceError,
)
from univoice.events import BaseEvent
from univoice.redact import is_secret_field
from univoice.retry import NO_RETRY, RetryPolicy
from univoice.simulator.script import CalleeScript
from univoice.store import open_store
from univoice.transport import HttpSettings
from univoice.webhooks import VoiceApp
from univoice_bandwidth import BandwidthProvider
from univoice_bandwidth.settings import BandwidthSettings

from ..cli.conftest import Result
from ..conftest import EXAMPLES

# Identifiers (shown freely) and secrets (never shown). Each secret holds characters that
# change under URL, JSON and XML encoding, so every form differs from the plain value.
USER = "api-user-planted"
PASSWORD = 'apiPW/planted+7c1e&9a"42'
CLIENT_ID = "client-id-planted"
CLIENT_SECRET = "clientSECRET=planted/5d2f 88"
TOKEN = "accessTOKEN.planted"  # every token the fake hands out starts with it
CB_USER = "cb-user-planted"
CB_PASSWORD = "cbPW&planted<0b8d44>"
SECRETS = {"API password": PASSWORD, "OAuth2 client secret": CLIENT_SECRET,
           "access token": TOKEN, "callback password": CB_PASSWORD}
PAIRS = {"API Basic token": (USER, PASSWORD), "OAuth2 client Basic token": (
    CLIENT_ID, CLIENT_SECRET), "callback Basic token": (CB_USER, CB_PASSWORD)}

BASIC = {"username": USER, "password": PASSWORD}
OAUTH = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
KINDS = {"basic": BASIC, "oauth2": OAUTH}
TO, FROM = "+31612345678", "+31201234567"
APP_URL = "http://testserver"
IVR = Flow.from_yaml(EXAMPLES / "support_ivr.yaml")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode().rstrip("=")


def forms() -> dict[str, str]:
    """Every form a planted secret may take -> what it is (for the failure message)."""
    found: dict[str, str] = {}
    for name, secret in SECRETS.items():
        for how, form in (("", secret), (" URL-encoded", quote(secret, safe="")),
                          (" form-encoded", quote_plus(secret)),
                          (" JSON-escaped", json.dumps(secret)[1:-1]),
                          (" XML-escaped", html.escape(secret)),
                          (" base64", _b64(secret)),
                          (" urlsafe base64",
                           base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="))):
            found.setdefault(form, name + how)
    for name, (user, secret) in PAIRS.items():
        found[_b64(f"{user}:{secret}")] = name
    return found


FORMS = forms()


def leaks(text: str) -> list[str]:
    return sorted({what for form, what in FORMS.items() if form in text})


def assert_clean(channels: dict[str, str]) -> None:
    """No channel shows any planted secret in any form; the message names each leak."""
    found = {where: leaks(text) for where, text in channels.items()}
    found = {where: what for where, what in found.items() if what}
    assert not found, f"secrets shown: {found}"


def exposed(error: BaseException) -> str:
    """Everything an exception shows: its traceback (chained causes included), and for it
    and each cause or context shown its str, repr, args and attributes (``raw``, ``code``,
    ...)."""
    parts = ["".join(traceback.format_exception(error))]
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current), repr(current.args),
                  repr(getattr(current, "__dict__", {}))]
        # As a traceback (and error trackers) follow the chain: ``raise ... from None``
        # hides the context, which may quote the response univoice masks.
        current = current.__cause__ or (None if current.__suppress_context__
                                        else current.__context__)
    return "\n".join(parts)


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every record, formatted as a handler would (message, arguments, traceback)."""
    lines = [caplog.text]
    for record in caplog.records:
        lines.append(f"{record.name} {record.getMessage()} {record.args!r} "
                     f"{record.exc_text or ''}")
    return "\n".join(lines)


def test_the_scan_sees_every_form() -> None:
    # The scanner itself must be able to fail: each planted value, in each form, is seen.
    for secret in SECRETS.values():
        assert leaks(f"x{secret}x")
        assert leaks(quote(secret, safe=""))
        assert leaks(json.dumps({"v": secret}))
        assert leaks(html.escape(secret))
    assert leaks("Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
    assert leaks(f"Bearer {TOKEN}-1")
    assert not leaks(f"{USER} {CLIENT_ID} {CB_USER} ***")


# The misbehaving fake ------------------------------------------------------------------------

Fault = Callable[[httpx.Request], httpx.Response | None]


class EchoingBandwidth(FakeBandwidth):
    """The fake Bandwidth API with the planted credentials, handing out planted access
    tokens; each fault in ``faults`` may answer a request first (``echo``)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(username=USER, password=PASSWORD, client_id=CLIENT_ID,
                         client_secret=CLIENT_SECRET, **options)
        self.faults: list[Fault] = []
        self.issued: list[str] = []
        self.echoed: list[str] = []  # what the faults answered (headers and body)

    def handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        for fault in list(self.faults):
            answer = fault(request)
            if answer is not None:
                with self._lock:
                    self.echoed.append(f"{dict(answer.headers)} {answer.text}")
                return answer
        return super().handle(request)

    def _token(self, request: httpx.Request) -> httpx.Response:
        answer = super()._token(request)
        if answer.status_code != 200:
            return answer
        with self._lock:
            self.tokens.discard(answer.json()["access_token"])
            token = f"{TOKEN}-{len(self.issued) + 1}-{'x' * 8}"
            self.tokens.add(token)
            self.issued.append(token)
        return httpx.Response(200, json={"access_token": token, "token_type": "Bearer",
                                         "expires_in": 3600})


def said(request: httpx.Request) -> str:
    return (f"{request.method} {request.url} Authorization: "
            f"{request.headers.get('authorization')} body: "
            f"{request.content.decode('utf-8', 'replace')}")


def echo(status: int, *, where: str = "/accounts/", method: str | None = None,
         times: int | None = None, as_json: bool = True, header: bool = True) -> Fault:
    """Answer requests whose path contains ``where`` with ``status`` and an error body that
    repeats the request: its Authorization header in ``type`` (the error code univoice
    shows), all of it in ``description`` and ``id`` (or, not JSON, in the text and, with
    ``header``, in an ``x-request-id`` header). ``times``: only the first so many."""
    left = [times]

    def fault(request: httpx.Request) -> httpx.Response | None:
        if where not in request.url.path or method not in (None, request.method):
            return None
        if left[0] is not None:
            if left[0] <= 0:
                return None
            left[0] -= 1
        if as_json:
            return httpx.Response(status, json={
                "type": request.headers.get("authorization", "none"),
                "description": f"refused {said(request)}", "id": said(request)})
        return httpx.Response(status, text=f"refused {said(request)}", headers={
            "x-request-id": request.headers.get("authorization", "none")} if header else {})

    return fault


def voice(fake: FakeBandwidth, kind: str, *, retry: RetryPolicy = NO_RETRY,
          **extra: Any) -> Voice:
    return Voice("bandwidth", account_id=ACCOUNT_ID, application_id=APPLICATION_ID,
                 callback_username=CB_USER, callback_password=CB_PASSWORD, **KINDS[kind],
                 http=HttpSettings(retry=retry),
                 client=httpx.Client(transport=fake.transport()), **extra)


RETRY = RetryPolicy(max_attempts=3, backoff=0.0, settle=0.0)


def failure(run: Callable[[], Any], kind: type[BaseException] = UnivoiceError
            ) -> BaseException:
    with pytest.raises(kind) as caught:
        run()
    return caught.value


# Reprs --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_reprs_never_show_secrets(kind: str, tmp_path: Path) -> None:
    fake = EchoingBandwidth()
    with voice(fake, kind) as v:
        call = v.calls.create(TO, FROM, answer_url="https://example.com/answer")
        v.calls.get(call.id)  # a token was fetched (OAuth2) and is in use
        transport = v._transport  # what a debugger would show
        shown = {
            "Voice": f"{v!r} {v}", "provider": f"{v.provider!r} {v.provider}",
            "settings": f"{v.provider.settings!r} {v.provider.settings}",
            "settings dump": str(v.provider.settings.model_dump()),
            "settings json": v.provider.settings.model_dump_json(),
            "auth": f"{v.provider.auth()!r} {transport.core.auth!r}",
            "provider attributes": repr(vars(v.provider)),
            "call": f"{call!r} {call.model_dump_json()}",
        }
    if kind == "oauth2":
        assert fake.issued  # the token channel is really exercised
    cfg = write_config(tmp_path, kind, api_url="https://voice.bandwidth.com/api/v2")
    config = Config.load(cfg)
    assert config.provider_table()["callback_password"] == CB_PASSWORD  # there to be used
    shown |= {"Config": f"{config!r} {config}", "Config dump": str(config.model_dump()),
              "Config shown": str(config.shown())}
    assert_clean(shown)


# Errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_api_refusals_echoing_the_credentials_are_masked(kind: str, as_json: bool) -> None:
    fake = EchoingBandwidth()
    fake.faults.append(echo(401, as_json=as_json))
    with voice(fake, kind) as v:
        error = failure(lambda: v.calls.get("c-1"), AuthenticationError)
    # The API really sent the credentials back: masking, not luck, keeps them out.
    assert leaks("".join(fake.echoed))
    assert isinstance(error, AuthenticationError) and error.status == 401
    assert "***" in str(error)
    assert_clean({"401": exposed(error)})


@pytest.mark.parametrize("kind", KINDS)
def test_refused_create_with_the_callback_password_in_its_body(kind: str) -> None:
    # A hosted flow's create carries the callback credentials; an API echoing the body
    # (400) must not show them.
    fake = EchoingBandwidth()
    fake.faults.append(echo(400, method="POST"))
    with voice(fake, kind, public_url=APP_URL, flow_store="sqlite://:memory:") as v:
        error = failure(lambda: v.calls.create(TO, FROM, flow=IVR), InvalidRequest)
    assert_clean({"400": exposed(error)})


@pytest.mark.parametrize("kind", KINDS)
def test_unreadable_answers_are_masked(kind: str) -> None:
    fake = EchoingBandwidth()

    def garbage(request: httpx.Request) -> httpx.Response | None:
        if "/calls/" not in request.url.path:
            return None
        return httpx.Response(200, text=f"<html>{said(request)}</html>")

    fake.faults.append(garbage)
    with voice(fake, kind) as v:
        error = failure(lambda: v.calls.get("c-1"), ProviderError)
    assert "unexpected response" in str(error)
    assert_clean({"malformed": exposed(error)})


@pytest.mark.parametrize("kind", KINDS)
def test_ambiguous_create_never_shows_what_the_api_echoed(kind: str) -> None:
    # The create's answer is lost (503 echoing the request, callback password included),
    # and the reconciling lookup is refused (401 echoing the Authorization header): the
    # AmbiguousCreate quotes both errors.
    fake = EchoingBandwidth()
    fake.faults += [echo(503, method="POST"), echo(401, method="GET")]
    with voice(fake, kind, retry=RETRY, public_url=APP_URL,
               flow_store="sqlite://:memory:") as v:
        error = failure(lambda: v.calls.create(TO, FROM, flow=IVR, tag="t-1"),
                        AmbiguousCreate)
    assert "looking it up failed" in str(error)
    assert_clean({"AmbiguousCreate": exposed(error)})


TOKEN_FAULTS: dict[str, Fault] = {
    "401 echoing": echo(401, where=TOKEN_PATH),
    "500 echoing": echo(500, where=TOKEN_PATH),
    "429 echoing, text": echo(429, where=TOKEN_PATH, as_json=False),
    "400 OAuth2 error echoing": lambda r: httpx.Response(400, json={
        "error": f"invalid_client {said(r)}", "error_description": said(r)}),
    "200, not a bearer token": lambda r: httpx.Response(200, json={
        "access_token": f"{TOKEN}-mac", "token_type": "mac", "expires_in": 60}),
    "200, not JSON": lambda r: httpx.Response(200, text=f"access_token={TOKEN}-form"),
    "200, blank token": lambda r: httpx.Response(200, json={
        "access_token": " ", "token_type": "Bearer", "client_secret": CLIENT_SECRET}),
    # Tokens that are no header value: sent, the HTTP library's refusal would quote them.
    "200, control character": lambda r: httpx.Response(200, json={
        "access_token": f"{TOKEN}\x00z", "token_type": "Bearer"}),
    "200, header injection": lambda r: httpx.Response(200, json={
        "access_token": f"{TOKEN}\r\nX-Injected: 1", "token_type": "Bearer"}),
    "200, non-ASCII": lambda r: httpx.Response(200, json={
        "access_token": f"{TOKEN}-\u00e9", "token_type": "Bearer"}),
    "200, inner space": lambda r: httpx.Response(200, json={
        "access_token": f"{TOKEN} x", "token_type": "Bearer"}),
}


@pytest.mark.parametrize("fault", TOKEN_FAULTS)
def test_token_endpoint_failures_are_masked(fault: str,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake = EchoingBandwidth()
    answer = TOKEN_FAULTS[fault]
    fake.faults.append(lambda r: answer(r) if r.url.path == TOKEN_PATH else None)
    with voice(fake, "oauth2") as v:
        error = failure(lambda: v.calls.get("c-1"), ProviderError)
    assert isinstance(error, ProviderError) and error.operation == "oauth2.token"
    assert_clean({fault: exposed(error), "logs": logged(caplog)})


@pytest.mark.parametrize("backend", ["aiohttp", "httpx"])
def test_the_async_client_masks_the_token_too(backend: str) -> None:
    # aiohttp (univoice's direct sender: the token is fetched by a blocking request) and
    # httpx's own async client (the token request goes through the client).
    fake = EchoingBandwidth(https_only=False)
    fake.faults.append(echo(401))

    async def run(url: str) -> BaseException:
        async with AsyncVoice("bandwidth", account_id=ACCOUNT_ID, **OAUTH,
                              api_url=f"{url}/api/v2", token_url=f"{url}{TOKEN_PATH}",
                              http={"max_attempts": 1, "async_backend": backend}) as v:
            with pytest.raises(AuthenticationError) as caught:
                await v.calls.get("c-1")
        return caught.value

    with LiveServer(fake.asgi(), name="echoing-bandwidth") as server:
        error = asyncio.run(run(server.url))
    assert fake.issued and fake.issued[0] in "".join(fake.echoed)
    assert_clean({backend: exposed(error)})


def test_a_refused_renewal_after_a_401_is_masked() -> None:
    # The first token works; the API then refuses it (echoing it), and the renewal is
    # refused too (echoing the client's Basic credentials).
    fake = EchoingBandwidth()
    with voice(fake, "oauth2") as v:
        v.calls.create(TO, FROM, answer_url="https://example.com/answer")
        fake.faults += [echo(401, where="/calls/"), echo(401, where=TOKEN_PATH)]
        error = failure(lambda: v.calls.get("c-1"), AuthenticationError)
    assert len(fake.issued) == 1
    assert_clean({"renewal": exposed(error)})


def test_a_renewed_token_is_masked_too() -> None:
    # The API refuses the first token, the auth fetches a second one and tries again, and
    # the API refuses that too: each refusal echoes the token it was sent.
    fake = EchoingBandwidth()
    fake.faults.append(echo(401, where="/calls/"))
    with voice(fake, "oauth2") as v:
        error = failure(lambda: v.calls.get("c-1"), AuthenticationError)
    assert len(fake.issued) == 2 and fake.issued[1] in "".join(fake.echoed)
    assert_clean({"renewed": exposed(error)})


SETTINGS_ERRORS: dict[str, dict[str, Any]] = {
    "no API credentials": {"callback_username": CB_USER, "callback_password": CB_PASSWORD},
    "secret without client_id": {"client_secret": CLIENT_SECRET},
    "password without username": {"password": PASSWORD},
    "callback password without user": {"callback_password": CB_PASSWORD, **BASIC},
    "both credential kinds": {**BASIC, **OAUTH},
    "callback password too long": {**BASIC, "callback_username": CB_USER,
                                   "callback_password": CB_PASSWORD * 80},
    "secret of the wrong type": {"username": USER, "password": [PASSWORD]},
    "unknown setting": {**BASIC, "pasword": PASSWORD},
    "bad account id": {**OAUTH, "account_id": f"{PASSWORD} {CLIENT_SECRET}"},
}


@pytest.mark.parametrize("case", SETTINGS_ERRORS)
def test_settings_errors_name_settings_not_values(case: str) -> None:
    values = {"account_id": ACCOUNT_ID, **SETTINGS_ERRORS[case]}
    error = failure(lambda: Voice("bandwidth", **values), ConfigError)
    assert "bandwidth" in str(error)
    assert_clean({case: exposed(error)})


def test_config_errors_name_settings_not_values(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "basic", extra={"client_secret": CLIENT_SECRET,
                                                  "pasword": PASSWORD})
    config = Config.load(cfg)
    missing = config.missing()
    assert missing
    error = failure(lambda: Voice.from_config(cfg), ConfigError)
    bad = tmp_path / "bad.toml"
    bad.write_text(f"provider = 7\n[bandwidth]\npassword = {json.dumps(PASSWORD)}\n")
    unreadable = failure(lambda: Config.load(bad), ConfigError)
    # Flows need the app's URL: the error says so, without the credentials around it.
    hosted = EchoingBandwidth()
    with voice(hosted, "oauth2") as v:
        no_host = failure(lambda: v.calls.create(TO, FROM, flow=IVR), ConfigError)
    assert_clean({"missing": "\n".join(missing), "from_config": exposed(error),
                  "invalid file": exposed(unreadable), "no host": exposed(no_host)})


# Logs, raw payloads, the webhook app -----------------------------------------------------


@contextmanager
def app_and_fake(store: str) -> Iterator[tuple[VoiceApp, EchoingBandwidth, list[BaseEvent]]]:
    """The webhook app (in process, TestClient) and the fake API whose calls run the
    app's BXML with the interpreter, sending the callbacks Bandwidth would."""
    app = VoiceApp(public_url=APP_URL, store=store, providers=[BandwidthProvider(
        account_id=ACCOUNT_ID, callback_username=CB_USER, callback_password=CB_PASSWORD)])
    seen: list[BaseEvent] = []
    lock = threading.Lock()

    @app.on()
    def record(event: BaseEvent) -> None:
        with lock:
            seen.append(event)

    http = AppHttp(app)
    fake = EchoingBandwidth(runner=interpreter_runner(), http=http, https_only=False,
                            redeliver=True)
    try:
        yield app, fake, seen
    finally:
        http.close()
        app.store.close()


def callback(event_type: str, call_id: str = "c-forged") -> dict[str, Any]:
    return {"eventType": event_type, "eventTime": "2026-01-01T00:00:00.000Z",
            "accountId": ACCOUNT_ID, "applicationId": APPLICATION_ID, "from": FROM,
            "to": TO, "direction": "outbound", "callId": call_id, "tag": "t"}


@pytest.mark.parametrize("kind", KINDS)
def test_logs_and_raw_payloads_while_calls_run(kind: str, tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: univoice, httpx, httpcore, starlette
    store = f"sqlite:///{tmp_path / 'voice.db'}"
    shown: dict[str, str] = {}
    with app_and_fake(store) as (_, fake, seen), \
            voice(fake, kind, retry=RETRY, public_url=APP_URL, flow_store=store) as v:
        # Placing a hosted call: the interpreter fetches every document from the app.
        fake.callees[TO] = CalleeScript.presses("1", "")
        call = v.calls.create(TO, FROM, flow=IVR, tag="secrets")
        fake.advance(3600)
        done = v.calls.get(call.id)
        assert done.finished
        # Paging, across three calls, one per page.
        for _ in range(2):
            v.calls.create(TO, FROM, answer_url="https://example.com/answer")
        listed = list(v.calls.list(page_size=1))
        assert len(listed) >= 3
        recordings = list(v.recordings.list())
        for rec in recordings:
            rec.download(tmp_path)
            v.transcriptions.request(rec)
            fake.advance(60)
            shown[f"transcription {rec.id}"] = str(v.transcriptions.get(rec).raw)
        # Failing, with retries that log the echoed errors, then giving up.
        fake.faults.append(echo(503, where="/calls/", times=2))
        v.calls.get(call.id)  # succeeds on the third try
        fake.faults.append(echo(401, where="/calls/"))
        shown["401"] = exposed(failure(lambda: v.calls.get(call.id), AuthenticationError))
        shown["models"] = "\n".join(m.model_dump_json() for m in [
            call, done, *listed, *recordings])
    # The served documents did carry the callback credentials (so a leak would be seen).
    documents = [d.body for d in fake.deliveries if "/flow/" in d.url]
    assert documents and all(leaks(body) == ["callback password XML-escaped"]
                             for body in documents if "password=" in body)
    assert any("password=" in body for body in documents)
    assert any("retrying" in r.getMessage() for r in caplog.records)
    assert seen and not any(e.type == "unknown" for e in seen if e.call_id == call.id)
    with open_store(store) as db:
        events = db.events(limit=1000)
    assert events
    shown |= {"logs": logged(caplog), "events": "\n".join(
        f"{e!r} {e.model_dump_json()} {json.dumps(e.raw)}" for e in seen),
        "stored events": repr(events)}
    assert_clean(shown)


def test_webhook_app_logs_good_and_bad_callbacks(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    open_app = VoiceApp(public_url=APP_URL, store="sqlite://:memory:",
                        providers=[BandwidthProvider(account_id=ACCOUNT_ID)])
    with app_and_fake("sqlite://:memory:") as (app, _, seen), TestClient(app) as client, \
            TestClient(open_app) as unconfigured:
        events, flow = "/univoice/bandwidth/events", "/univoice/bandwidth/flow/nope/start"
        good = (CB_USER, CB_PASSWORD)
        wrong = [(CB_USER, PASSWORD), (CB_USER, CB_PASSWORD + "x"), (CB_PASSWORD, CB_PASSWORD),
                 ("", CB_PASSWORD)]
        answers = [client.post(events, json=callback("disconnect"), auth=good),
                   client.post(events, json=callback("recordingAvailable"), auth=good),
                   client.get(events.replace("events", "flow/x/start"),
                              params=callback("answer"), auth=good),
                   client.post(flow, json=callback("answer"), auth=good),
                   # Bandwidth sends no credentials in a callback's fields; were one named
                   # like a secret, its value would be masked in the event's raw.
                   client.post(events, json={**callback("answer"), "password": CB_PASSWORD,
                                             "callbackPassword": CB_PASSWORD,
                                             "nested": {"clientSecret": CLIENT_SECRET}},
                               auth=good),
                   client.post(events, content=f"password={CB_PASSWORD}",
                               headers={"content-type": "text/plain"}, auth=good),
                   client.post(events, json=callback("answer")),
                   client.post(events, json=callback("answer"), headers={
                       "authorization": f"Bearer {CB_PASSWORD}"})]
        answers += [client.post(events, json=callback("answer"), auth=w) for w in wrong]
        answers += [client.post(flow, json=callback("answer"), auth=w) for w in wrong]
        answers += [unconfigured.post(events, json=callback("answer"), auth=good)]
    open_app.store.close()
    statuses = [a.status_code for a in answers]
    assert statuses[:2] == [200, 200] and statuses[6:] == [401] * (len(answers) - 6)
    assert {r.levelname for r in caplog.records} >= {"WARNING", "INFO"}
    assert_clean({"logs": logged(caplog), "answers": "\n".join(
        f"{a.status_code} {a.headers} {a.text}" for a in answers),
        "events": "\n".join(f"{e.model_dump_json()} {e!r}" for e in seen)})


# The command line ---------------------------------------------------------------------------


def write_config(tmp_path: Path, kind: str, *, api_url: str = "https://voice.bandwidth.com/"
                 "api/v2", token_url: str | None = None, extra: dict[str, Any] | None = None,
                 public_url: str = "https://voice.example.com") -> Path:
    values: dict[str, Any] = {"account_id": ACCOUNT_ID, "application_id": APPLICATION_ID,
                              **KINDS[kind], "callback_username": CB_USER,
                              "callback_password": CB_PASSWORD, "api_url": api_url,
                              **({"token_url": token_url} if token_url else {}),
                              **(extra or {})}
    table = "\n".join(f"{k} = {json.dumps(v)}" for k, v in values.items())
    cfg = tmp_path / f"univoice-{kind}.toml"
    cfg.write_text(f'provider = "bandwidth"\npublic_url = "{public_url}"\n'
                   f'flow_store = "sqlite:///{tmp_path / "cli.db"}"\n'
                   f"[http]\nmax_attempts = 1\n[bandwidth]\n{table}\n")
    return cfg


Cli = Callable[..., Result]


@pytest.mark.parametrize("kind", KINDS)
def test_cli_config_render_and_providers(kind: str, tmp_path: Path, cli: Cli,
                                         monkeypatch: pytest.MonkeyPatch,
                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    cfg = write_config(tmp_path, kind)
    # A secret from the environment too (it overrides the file's).
    secret_var = "PASSWORD" if kind == "basic" else "CLIENT_SECRET"
    monkeypatch.setenv(f"UNIVOICE_BANDWIDTH__{secret_var}", SECRETS[
        "API password" if kind == "basic" else "OAuth2 client secret"])
    monkeypatch.setenv("UNIVOICE_CONFIG", str(cfg))
    flow = EXAMPLES / "support_ivr.yaml"
    runs = {" ".join(args): cli(*args) for args in (
        ("config", "show"), ("config", "show", "--json"), ("config", "check"),
        ("config", "show", "--config", str(cfg)),
        ("flow", "render", str(flow), "--provider", "bandwidth"),
        ("providers",), ("providers", "--json"))}
    assert all(r.code == 0 for r in runs.values()), {k: r.err for k, r in runs.items()}
    shown = json.loads(runs["config show --json"].out)
    assert shown["bandwidth"]["callback_password"] == "***"
    assert shown["bandwidth"]["callback_username"] == CB_USER  # not a secret: shown
    rendered = runs[f"flow render {flow} --provider bandwidth"].out
    assert "<Response>" in rendered and "password" not in rendered
    assert_clean({args: r.out + r.err for args, r in runs.items()}
                 | {"logs": logged(caplog)})


@pytest.fixture
def echoing_api() -> Iterator[tuple[str, EchoingBandwidth]]:
    """The echoing fake over HTTP (the CLI builds its own client)."""
    fake = EchoingBandwidth(https_only=False)
    with LiveServer(fake.asgi(), name="echoing-bandwidth") as server:
        yield server.url, fake


# Over HTTP, no echo in a response header: httpcore's own DEBUG trace prints response
# headers as received, before univoice sees them (a third-party logger univoice does not
# filter).
CALL_FAULTS = {"api 401": echo(401), "api 500 text": echo(500, as_json=False, header=False),
               "token refused": echo(401, where=TOKEN_PATH)}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fault", CALL_FAULTS)
def test_cli_call_against_a_failing_api(kind: str, fault: str, tmp_path: Path, cli: Cli,
                                        echoing_api: tuple[str, EchoingBandwidth],
                                        caplog: pytest.LogCaptureFixture) -> None:
    if kind == "basic" and fault == "token refused":
        pytest.skip("an API user fetches no token")
    caplog.set_level(logging.DEBUG)
    url, fake = echoing_api
    fake.faults.append(CALL_FAULTS[fault])
    cfg = write_config(tmp_path, kind, api_url=f"{url}/api/v2", token_url=f"{url}{TOKEN_PATH}")
    flow = EXAMPLES / "support_ivr.yaml"
    r = cli("call", TO, "--flow", str(flow), "--from", FROM, "--config", str(cfg))
    assert r.code == 1, r.err
    assert r.err.startswith("error: bandwidth ")
    if fault == "api 401":  # the description, which echoed the credentials, is shown masked
        assert "***" in r.err
    assert leaks("".join(fake.echoed))
    assert "Traceback" not in r.err
    assert_clean({"stdout": r.out, "stderr": r.err, "logs": logged(caplog)})


# Cassettes ------------------------------------------------------------------------------------


def test_cassettes_hold_no_credentials() -> None:
    """No cassette holds a planted secret, a secret the contract tests use (callback
    password, the placeholder credentials, the wrong password of the 401 test), a
    credential header or a secret-named field with a value."""
    used = {bw.CALLBACK_PASSWORD, "not-the-password",
            *(v for k, v in provider_env("bandwidth", {}).items()
              if k.endswith(("PASSWORD", "SECRET")))}
    files = sorted((CASSETTES / "bandwidth").iterdir())
    assert len(files) > 10
    found: dict[str, list[str]] = {}
    for file in files:
        text = file.read_text("utf-8")
        hits = leaks(text) + [f"contract secret {s!r}" for s in used if s in text]
        hits += [f"{s!r} base64" for s in used if _b64(s) in text]
        if file.suffix == ".yaml":
            hits += _structural(yaml.safe_load(text))
        if hits:
            found[file.name] = hits
    assert not found, found


def _structural(cassette: dict[str, Any]) -> list[str]:
    problems = []
    for n, interaction in enumerate(cassette.get("interactions", []), start=1):
        request, response = interaction["request"], interaction["response"]
        for where, headers in (("request", request["headers"]),
                               ("response", response["headers"])):
            for name, values in headers.items():
                secret = name.lower() in ("authorization", "proxy-authorization", "cookie")
                if (secret or is_secret_field(name)) and any(v != REDACTED for v in values):
                    problems.append(f"#{n} {where} header {name}")
        bodies = [request.get("body"), (response.get("body") or {}).get("string")]
        for body in bodies:
            try:
                data = json.loads(body) if isinstance(body, str) and body else None
            except ValueError:
                continue
            problems += [f"#{n} field {path}" for path in _secret_fields(data)]
    return problems


def _secret_fields(value: Any, path: str = "") -> list[str]:
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            if is_secret_field(str(key)) and item not in (None, "", REDACTED) and not (
                    isinstance(item, str) and set(item) == {"*"}):
                found.append(f"{path}.{key}")
            found += _secret_fields(item, f"{path}.{key}")
        return found
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _secret_fields(item, f"{path}[{i}]")]
    return []


def test_settings_hold_the_planted_values() -> None:
    # Sanity: the planted values are valid settings, so every test above really used them.
    settings = BandwidthSettings(account_id=ACCOUNT_ID, **OAUTH, callback_username=CB_USER,
                                 callback_password=CB_PASSWORD)
    assert settings.client_secret is not None
    assert settings.client_secret.get_secret_value() == CLIENT_SECRET
