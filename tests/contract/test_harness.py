"""The cassette harness itself: scrubbing, record modes, spec validation of the samples."""

from __future__ import annotations

import base64
import copy
import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
import yaml
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.request import Request as VcrRequest

from tests.cassettes import (
    CASSETTES,
    MATCH_ON,
    PROFILES,
    REDACTED,
    SPECS,
    Scrubber,
    cassette_dir,
    cassette_path,
    credentials_in_use,
    provider_env,
    raw_spec,
    resolve_record_mode,
    use_cassette,
    validate_cassette,
    validate_exchange,
    validate_schema,
)
from tests.support.fake_bandwidth import TOKEN_PATH, FakeBandwidth
from tests.support.live_server import LiveServer
from univoice import Voice

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "reference" / "samples"
SHARED_SPECS = SAMPLES.parents[1] / "specs"

SECRET = "s3cr3t-P@ss/word+42"  # "/" and "+" so the URL-encoded forms differ
TOKEN = "tok_9f8e7d6c5b4a"
USERNAME = "api-user-7731"
ACCOUNT = "5551234"
PLACEHOLDER = PROFILES["bandwidth"].placeholders["BANDWIDTH_ACCOUNT_ID"]
BASIC = base64.b64encode(f"{USERNAME}:{SECRET}".encode()).decode()
RECORD_ENV = ("CI", "UNIVOICE_RECORD")
BANDWIDTH_ENV = ("BANDWIDTH_ACCOUNT_ID", "BANDWIDTH_USERNAME", "BANDWIDTH_PASSWORD",
                 "BANDWIDTH_CLIENT_ID", "BANDWIDTH_CLIENT_SECRET",
                 "BANDWIDTH_APPLICATION_ID", "BANDWIDTH_FROM_NUMBER", "BANDWIDTH_TO_NUMBER")
CLIENT_ID = "oauth-client-5150"
CLIENT_SECRET = "cl13nt=S3cret/value+9"
CLIENT_BASIC = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()


def sample(*parts: str) -> Any:
    return json.loads((SAMPLES.joinpath(*parts)).read_text("utf-8"))


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in (*RECORD_ENV, *BANDWIDTH_ENV):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.fixture
def planted(clean_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    clean_env.setenv("BANDWIDTH_ACCOUNT_ID", ACCOUNT)
    clean_env.setenv("BANDWIDTH_USERNAME", USERNAME)
    clean_env.setenv("BANDWIDTH_PASSWORD", SECRET)
    return clean_env


def assert_clean(text: str) -> None:
    for value in (SECRET, TOKEN, USERNAME, ACCOUNT, BASIC, quote(SECRET, safe=""),
                  quote_plus(SECRET)):
        assert value not in text, f"{value!r} survived scrubbing:\n{text}"


# Paths, modes -------------------------------------------------------------------------------

def test_cassette_dir_is_per_provider() -> None:
    for provider in PROFILES:
        assert cassette_dir(provider) == CASSETTES / provider
        assert cassette_dir(provider).is_dir(), "cassettes/<provider>/ must exist (.gitkeep)"
        assert (SPECS / PROFILES[provider].spec).is_file()
    assert cassette_path("bird", "create_call") == CASSETTES / "bird" / "create_call.yaml"
    with pytest.raises(ValueError, match="unknown provider"):
        cassette_dir("twilio")


@pytest.mark.parametrize(
    ("environ", "explicit", "expected"),
    [
        ({}, None, "none"),
        ({"UNIVOICE_RECORD": "1"}, None, "once"),
        ({"UNIVOICE_RECORD": "new_episodes"}, None, "new_episodes"),
        ({"UNIVOICE_RECORD": "all"}, None, "all"),
        ({"UNIVOICE_RECORD": "0"}, None, "none"),
        ({}, "once", "once"),
        ({"CI": "true"}, None, "none"),
        ({"CI": "1", "UNIVOICE_RECORD": "1"}, None, "none"),
        ({"CI": "true"}, "all", "none"),
        ({"CI": "false", "UNIVOICE_RECORD": "1"}, None, "once"),
    ],
)
def test_record_mode(environ: dict[str, str], explicit: str | None, expected: str) -> None:
    assert resolve_record_mode(explicit, environ) == expected


def test_record_mode_rejects_unknown_values() -> None:
    with pytest.raises(ValueError, match="UNIVOICE_RECORD"):
        resolve_record_mode(None, {"UNIVOICE_RECORD": "sometimes"})
    with pytest.raises(ValueError, match="record_mode"):
        resolve_record_mode("always", {})


def test_provider_env_placeholders_when_replaying() -> None:
    env = provider_env("bandwidth", {})
    assert env["BANDWIDTH_ACCOUNT_ID"] == PLACEHOLDER
    assert env["BANDWIDTH_PASSWORD"]
    assert env["BANDWIDTH_PASSWORD"] != SECRET
    assert provider_env("bandwidth", {"BANDWIDTH_ACCOUNT_ID": ACCOUNT})[
        "BANDWIDTH_ACCOUNT_ID"] == ACCOUNT
    with pytest.raises(RuntimeError, match="BIRD_WORKSPACE_ID"):
        provider_env("bird", {"UNIVOICE_RECORD": "1", "BIRD_ACCESS_KEY": "k" * 20})


RECORDING = {"UNIVOICE_RECORD": "1", "BANDWIDTH_ACCOUNT_ID": ACCOUNT,
             "BANDWIDTH_APPLICATION_ID": "app-1"}
API_USER = {"BANDWIDTH_USERNAME": USERNAME, "BANDWIDTH_PASSWORD": SECRET}
OAUTH_CLIENT = {"BANDWIDTH_CLIENT_ID": CLIENT_ID, "BANDWIDTH_CLIENT_SECRET": CLIENT_SECRET}


@pytest.mark.parametrize(("credentials", "kind"), [
    (API_USER, ("BANDWIDTH_USERNAME", "BANDWIDTH_PASSWORD")),
    (OAUTH_CLIENT, ("BANDWIDTH_CLIENT_ID", "BANDWIDTH_CLIENT_SECRET")),
    ({**OAUTH_CLIENT, **API_USER}, ("BANDWIDTH_USERNAME", "BANDWIDTH_PASSWORD")),
], ids=["api-user", "oauth2-client", "both"])
def test_recording_takes_either_credential_kind(credentials: dict[str, str],
                                                kind: tuple[str, ...]) -> None:
    env = {**RECORDING, **credentials}
    values = provider_env("bandwidth", env)
    assert all(values[var] == env[var] for var in kind)
    assert credentials_in_use("bandwidth", env) == kind
    # Replaying, the API user's placeholders, whatever the environment holds.
    replay = {**env, "UNIVOICE_RECORD": "0"}
    assert credentials_in_use("bandwidth", replay) == ("BANDWIDTH_USERNAME",
                                                       "BANDWIDTH_PASSWORD")


@pytest.mark.parametrize("credentials", [
    {}, {"BANDWIDTH_USERNAME": USERNAME}, {"BANDWIDTH_CLIENT_SECRET": CLIENT_SECRET},
    {"BANDWIDTH_USERNAME": USERNAME, "BANDWIDTH_CLIENT_SECRET": CLIENT_SECRET}])
def test_recording_without_a_complete_credential_kind_is_refused(
        credentials: dict[str, str]) -> None:
    with pytest.raises(RuntimeError) as refused:
        provider_env("bandwidth", {**RECORDING, **credentials})
    assert ("BANDWIDTH_USERNAME and BANDWIDTH_PASSWORD or BANDWIDTH_CLIENT_ID and "
            "BANDWIDTH_CLIENT_SECRET") in str(refused.value)


def test_oauth2_client_credentials_are_scrubbed() -> None:
    scrub = Scrubber("bandwidth", {"BANDWIDTH_ACCOUNT_ID": ACCOUNT, **OAUTH_CLIENT})
    text = (f"{CLIENT_SECRET} {quote(CLIENT_SECRET, safe='')} {quote_plus(CLIENT_SECRET)} "
            f"Basic {CLIENT_BASIC} {CLIENT_ID}")
    # The client id is a secret variable too (as the API user's name is).
    assert scrub.text(text) == " ".join([REDACTED] * 3 + ["Basic", REDACTED, REDACTED])


def test_bearer_tokens_are_learned_and_scrubbed_everywhere() -> None:
    scrub = Scrubber("bandwidth", {"BANDWIDTH_ACCOUNT_ID": ACCOUNT, **OAUTH_CLIENT})
    request = VcrRequest("GET", f"https://voice.bandwidth.com/api/v2/accounts/{ACCOUNT}/calls",
                         None, {"Authorization": f"Bearer {TOKEN}"})
    assert scrub.before_record_request(request) is request
    assert request.headers["Authorization"] == REDACTED
    response = {"status": {"code": 401, "message": "Unauthorized"},
                "headers": {"Content-Type": ["application/json"], "X-Echo": [TOKEN]},
                "body": {"string": json.dumps({"description": f"token {TOKEN} expired"})}}
    scrubbed = scrub.before_record_response(response)
    assert TOKEN not in json.dumps(scrubbed)
    # A token answer's tokens are learned as well (were one ever recorded).
    other = "tok_from_the_answer_42"
    scrub.before_record_response({"status": {"code": 200, "message": "OK"}, "headers": {},
                                  "body": {"string": json.dumps({"access_token": other})}})
    assert scrub.text(f"x {other} y") == f"x {REDACTED} y"


def test_token_exchanges_are_left_out_only_while_recording() -> None:
    token = VcrRequest("POST", "https://api.bandwidth.com/api/v1/oauth2/token",
                       "grant_type=client_credentials", {"Authorization": f"Basic {CLIENT_BASIC}"})
    assert Scrubber("bandwidth", {}, skip_tokens=True).before_record_request(token) is None
    kept = Scrubber("bandwidth", {}).before_record_request(copy.deepcopy(token))
    assert kept is not None and kept.headers["Authorization"] == REDACTED


# Scrubbing hooks ----------------------------------------------------------------------------

def scrubber() -> Scrubber:
    return Scrubber("bandwidth", {"BANDWIDTH_ACCOUNT_ID": ACCOUNT, "BANDWIDTH_USERNAME": USERNAME,
                                  "BANDWIDTH_PASSWORD": SECRET})


def test_request_hook_scrubs_headers_query_and_nested_json() -> None:
    body = {"to": "+15550001111", "password": SECRET, "username": "callback-user",
            "nested": [{"accessKey": TOKEN}, {"items": [{"signingKey": TOKEN, "ok": 1}]}],
            "note": f"account {ACCOUNT} uses {SECRET}", "fallbackPassword": None}
    request = VcrRequest(
        "POST",
        f"https://voice.bandwidth.com/api/v2/accounts/{ACCOUNT}/calls"
        f"?token={TOKEN}&page=2&x={quote(SECRET, safe='')}",
        json.dumps(body).encode(),
        {"Authorization": f"Basic {BASIC}", "Cookie": f"session={TOKEN}", "X-Api-Key": TOKEN,
         "Content-Type": "application/json", "X-Trace": f"acct-{ACCOUNT}",
         "Content-Length": "999"},
    )
    out = scrubber().before_record_request(request)
    for header in ("Authorization", "Cookie", "X-Api-Key"):
        assert out.headers[header] == REDACTED
    assert out.headers["X-Trace"] == f"acct-{PLACEHOLDER}"
    assert f"/accounts/{PLACEHOLDER}/calls" in out.uri
    assert "token=%3Credacted%3E" in out.uri or f"token={REDACTED}" in out.uri
    assert "page=2" in out.uri
    sent = json.loads(out.body)
    assert sent["password"] == REDACTED
    assert sent["nested"][0]["accessKey"] == REDACTED
    assert sent["nested"][1]["items"][0] == {"signingKey": REDACTED, "ok": 1}
    assert sent["note"] == f"account {PLACEHOLDER} uses {REDACTED}"
    assert sent["username"] == "callback-user"  # not a credential by name
    assert sent["fallbackPassword"] is None  # nothing to hide
    assert out.headers["Content-Length"] == str(len(out.body))
    assert_clean(out.uri + out.body.decode() + json.dumps(dict(out.headers)))


def test_request_hook_scrubs_bxml_and_form_bodies() -> None:
    bxml = (f'<?xml version="1.0"?><Bxml><Transfer username="u" password="{SECRET}" '
            f"transferCompleteUrl='https://app.example/{ACCOUNT}'><PhoneNumber "
            f'fallbackPassword="{TOKEN}">+15550001111</PhoneNumber></Transfer>'
            f"<token>{TOKEN}</token></Bxml>")
    request = VcrRequest("PUT", f"https://voice.bandwidth.com/api/v2/accounts/{ACCOUNT}/calls/c-1/bxml",
                         bxml.encode(), {"Content-Type": "application/xml"})
    out = scrubber().before_record_request(request).body.decode()
    assert f'password="{REDACTED}"' in out
    assert f'fallbackPassword="{REDACTED}"' in out
    assert f"<token>{REDACTED}</token>" in out
    assert 'username="u"' in out
    assert_clean(out)
    form = VcrRequest("POST", "https://example.test/hook", f"digits=1&token={TOKEN}".encode(),
                      {"Content-Type": "application/x-www-form-urlencoded"})
    assert scrubber().before_record_request(form).body == b"digits=1&token=<redacted>"


def test_response_hook_drops_cookies_and_scrubs_bodies() -> None:
    payload = [{"callId": "c-1", "callUrl": f"https://voice.bandwidth.com/api/v2/accounts/"
                f"{ACCOUNT}/calls/c-1", "password": SECRET,
                "members": [{"token": TOKEN, "echo": f"{USERNAME}!"}]}]
    raw = json.dumps(payload).encode()
    response = {
        "status": {"code": 201, "message": "Created"},
        "headers": {"Set-Cookie": [f"s={TOKEN}"], "set-cookie": ["other=1"],
                    "Location": [f"https://voice.bandwidth.com/api/v2/accounts/{ACCOUNT}/calls/c-1"],
                    "Content-Type": ["application/json"], "Content-Length": [str(len(raw))]},
        "body": {"string": raw},
    }
    out = scrubber().before_record_response(response)
    assert not [h for h in out["headers"] if h.lower() == "set-cookie"]
    assert out["headers"]["Location"] == [
        f"https://voice.bandwidth.com/api/v2/accounts/{PLACEHOLDER}/calls/c-1"]
    body = json.loads(out["body"]["string"])
    assert body[0]["password"] == REDACTED
    assert body[0]["members"][0] == {"token": REDACTED, "echo": f"{REDACTED}!"}
    assert PLACEHOLDER in body[0]["callUrl"]
    assert out["headers"]["Content-Length"] == [str(len(out["body"]["string"]))]
    assert_clean(json.dumps(out["headers"]) + out["body"]["string"].decode())


def test_untouched_bodies_keep_their_bytes() -> None:
    raw = b'{ "state" : "answered" }'
    response = {"status": {"code": 200, "message": "OK"},
                "headers": {"Content-Type": ["application/json"]}, "body": {"string": raw}}
    assert scrubber().before_record_response(response)["body"]["string"] is raw


def test_short_values_are_never_substituted() -> None:
    tiny = Scrubber("bandwidth", {"BANDWIDTH_ACCOUNT_ID": "12", "BANDWIDTH_PASSWORD": "pw"})
    assert tiny.text("call 12 with pw") == "call 12 with pw"


# A real recording through the hooks -------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        self._reply()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._reply()

    def _reply(self) -> None:
        type(self).hits += 1
        body = json.dumps({
            "callId": "c-42", "accountId": ACCOUNT, "state": "answered",
            "callUrl": f"http://{self.headers['Host']}/accounts/{ACCOUNT}/calls/c-42",
            "callback": {"username": USERNAME, "password": SECRET},
            "credentials": {"anything": "at all"},
            "echo": [{"token": TOKEN}, f"{USERNAME}:{SECRET}"],
        }).encode()
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("Content-Type", "application/json")
        if self.path.endswith("/gz"):
            body = gzip.compress(body)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", f"session={TOKEN}; HttpOnly")
        self.send_header("Location", f"/accounts/{ACCOUNT}/calls/c-42")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    _Handler.hits = 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _exchange(client: httpx.Client, base: str) -> tuple[httpx.Response, httpx.Response]:
    """Two requests carrying every kind of planted secret (as a recording session would)."""
    created = client.post(
        f"{base}/accounts/{ACCOUNT}/calls", params={"token": TOKEN, "pageSize": 5},
        json={"to": "+15550001111", "answerUrl": "https://app.example/answer",
              "password": SECRET, "nested": [{"accessKey": TOKEN}]},
        headers={"X-Api-Key": TOKEN, "Cookie": f"session={TOKEN}"},
        auth=(USERNAME, SECRET))
    fetched = client.get(f"{base}/accounts/{ACCOUNT}/calls/c-42", auth=(USERNAME, SECRET))
    return created, fetched


def test_recorded_cassette_holds_no_secret_and_replays_offline(
        planted: pytest.MonkeyPatch, server: ThreadingHTTPServer, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with use_cassette("bandwidth", "roundtrip", record_mode="once", directory=tmp_path) as cas, \
            httpx.Client() as client:
        live = _exchange(client, base)
    assert _Handler.hits == 2
    assert len(cas) == 2
    assert [r.status_code for r in live] == [201, 200]

    text = (tmp_path / "roundtrip.yaml").read_text("utf-8")
    assert_clean(text)
    assert "set-cookie" not in text.lower()
    assert f"/accounts/{PLACEHOLDER}/calls" in text
    assert REDACTED in text
    stored = yaml.safe_load(text)["interactions"]
    headers = {k.lower(): v for k, v in stored[0]["request"]["headers"].items()}
    assert headers["authorization"] == headers["x-api-key"] == headers["cookie"] == [REDACTED]
    assert json.loads(stored[0]["request"]["body"])["nested"] == [{"accessKey": REDACTED}]

    server.shutdown()  # replay must not need it
    hits = _Handler.hits
    with use_cassette("bandwidth", "roundtrip", directory=tmp_path) as cas, \
            httpx.Client() as client:
        created, fetched = _exchange(client, base)
    assert cas.play_count == 2
    assert _Handler.hits == hits
    assert created.status_code == 201
    assert created.json()["accountId"] == PLACEHOLDER
    # USERNAME is the value of a secret variable; "password" and "credentials" are secret names.
    assert created.json()["callback"] == {"username": REDACTED, "password": REDACTED}
    assert created.json()["credentials"] == REDACTED
    assert fetched.json()["callId"] == "c-42"

    # As on CI: no credentials in the environment, the test uses the placeholders.
    for var in BANDWIDTH_ENV:
        planted.delenv(var, raising=False)
    planted.setenv("CI", "true")
    with use_cassette("bandwidth", "roundtrip", directory=tmp_path) as cas, \
            httpx.Client() as client:
        response = client.get(f"{base}/accounts/{PLACEHOLDER}/calls/c-42", auth=("u", "p"))
    assert response.status_code == 200
    assert cas.play_count == 1


def test_compressed_responses_are_stored_decoded_and_scrubbed(
        planted: pytest.MonkeyPatch, server: ThreadingHTTPServer, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with use_cassette("bandwidth", "gz", record_mode="once", directory=tmp_path), \
            httpx.Client() as client:
        assert client.get(f"{base}/accounts/{ACCOUNT}/gz").json()["callId"] == "c-42"
    text = (tmp_path / "gz.yaml").read_text("utf-8")
    assert_clean(text)
    assert "content-encoding" not in text.lower()
    assert '"callId":"c-42"' in text
    with use_cassette("bandwidth", "gz", directory=tmp_path), httpx.Client() as client:
        assert client.get(f"{base}/accounts/{ACCOUNT}/gz").json()["accountId"] == PLACEHOLDER


class _NoteTakingBandwidth(FakeBandwidth):
    """The fake Bandwidth API, noting in each call state the Authorization it was read
    with (so a recorded response carries the bearer token)."""

    def handle(self, request: httpx.Request) -> httpx.Response:
        answer = super().handle(request)
        if request.method != "GET" or answer.status_code != 200:
            return answer
        state = {**answer.json(), "note": f"read with {request.headers['authorization']}"}
        return httpx.Response(200, json=state)


def test_an_oauth2_recording_keeps_no_token_and_replays_as_an_api_user(
        clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.contract import bandwidth_cassettes as bw

    fake = _NoteTakingBandwidth(account_id=ACCOUNT, application_id=None, username=None,
                                password=None, client_id=CLIENT_ID,
                                client_secret=CLIENT_SECRET, https_only=False)
    for var, value in {**RECORDING, **OAUTH_CLIENT}.items():
        clean_env.setenv(var, value)
    to, from_ = "+31612345678", "+31201234567"

    def place(settings: dict[str, Any]) -> str:
        with Voice("bandwidth", **settings) as v:
            call = v.calls.create(to, from_, answer_url="https://app.example/answer",
                                  tag="oauth2-recording")
            return v.calls.get(call.id).id

    with LiveServer(fake.asgi(), name="fake-bandwidth") as server:
        where = {"api_url": f"{server.url}/api/v2", "token_url": f"{server.url}{TOKEN_PATH}"}
        live = bw.settings(**where)
        assert live["client_secret"] == CLIENT_SECRET and "password" not in live
        with use_cassette("bandwidth", "oauth2", directory=tmp_path) as cas:
            call_id = place(live)
    assert len(fake.tokens) == 1
    assert [r.url.path for r in fake.requests].count(TOKEN_PATH) == 1  # sent, live
    assert len(cas) == 2  # the create and the read; not the token exchange
    text = (tmp_path / "oauth2.yaml").read_text("utf-8")
    for value in (CLIENT_SECRET, quote(CLIENT_SECRET, safe=""), quote_plus(CLIENT_SECRET),
                  CLIENT_BASIC, CLIENT_ID, ACCOUNT, TOKEN_PATH, *fake.tokens):
        assert value not in text, f"{value!r} survived scrubbing"
    read = yaml.safe_load(text)["interactions"][1]["response"]["body"]["string"]
    assert json.loads(read)["note"] == f"read with Bearer {REDACTED}"

    # As on CI: nothing in the environment; the API user's placeholders, offline.
    for var in (*BANDWIDTH_ENV, *RECORD_ENV):
        clean_env.delenv(var, raising=False)
    clean_env.setenv("CI", "true")
    replay = bw.settings(**where)
    assert "password" in replay and "client_secret" not in replay
    with use_cassette("bandwidth", "oauth2", directory=tmp_path) as cas:
        assert place(replay) == call_id
    assert cas.play_count == 2


def test_ci_never_records_and_unmatched_requests_fail(
        clean_env: pytest.MonkeyPatch, server: ThreadingHTTPServer, tmp_path: Path) -> None:
    clean_env.setenv("CI", "true")
    clean_env.setenv("UNIVOICE_RECORD", "1")
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with use_cassette("bandwidth", "empty", record_mode="once", directory=tmp_path) as cas:
        assert cas.record_mode == "none"
        with httpx.Client() as client, pytest.raises(CannotOverwriteExistingCassetteException):
            client.get(f"{base}/accounts/{PLACEHOLDER}/calls")
    assert _Handler.hits == 0, "a request reached the network"
    assert not (tmp_path / "empty.yaml").exists()


def test_replay_mode_fails_on_a_request_that_was_not_recorded(
        planted: pytest.MonkeyPatch, server: ThreadingHTTPServer, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with use_cassette("bandwidth", "one", record_mode="once", directory=tmp_path), \
            httpx.Client() as client:
        client.get(f"{base}/accounts/{ACCOUNT}/calls/c-42", auth=(USERNAME, SECRET))
    hits = _Handler.hits
    with use_cassette("bandwidth", "one", directory=tmp_path) as cas, httpx.Client() as client:
        assert cas.record_mode == "none"
        with pytest.raises(CannotOverwriteExistingCassetteException):
            client.get(f"{base}/accounts/{ACCOUNT}/calls/c-43", auth=(USERNAME, SECRET))
        with pytest.raises(CannotOverwriteExistingCassetteException):  # body is matched too
            client.post(f"{base}/accounts/{ACCOUNT}/calls/c-42", json={"state": "completed"})
    assert _Handler.hits == hits
    assert set(MATCH_ON) == {"method", "scheme", "host", "port", "path", "query", "body"}


# Spec validation: Bandwidth -----------------------------------------------------------------

BW = "https://voice.bandwidth.com/api/v2/accounts/9900000"
CALL = "c-15ac29a2-1331029c-2cb0-4a07-b215-b22865662d85"
REC = "r-fbe05094-9fd2afe9-bf5b-4c68-820a-41a01c1c5833"
CONF = "conf-fe23a767-a75a5b77-20c5-4cca-b581-cbbf0776eca9"
CREATE_CALL = {"from": "+19195554312", "to": "+19195551234",
               "applicationId": "04e88489-df02-4e34-a0ee-27a91849555f",
               "answerUrl": "https://myServer.example/bandwidth/webhooks/answer",
               "password": REDACTED, "tag": "univoice"}

# sample file -> (method, url, request JSON body, status)
BANDWIDTH_REST: dict[str, tuple[str, str, Any, int]] = {
    "call_state_200_authored.json": ("GET", f"{BW}/calls/{CALL}", None, 200),
    "call_recordings_list_200_authored.json": ("GET", f"{BW}/calls/{CALL}/recordings", None, 200),
    "call_transcription_200_authored.json": (
        "GET", f"{BW}/calls/{CALL}/recordings/{REC}/transcription", None, 200),
    "conference_200_authored.json": ("GET", f"{BW}/conferences/{CONF}", None, 200),
    "conferences_list_200.json": ("GET", f"{BW}/conferences?pageSize=500", None, 200),
    "error_400.json": ("POST", f"{BW}/calls", CREATE_CALL, 400),
    "error_spec_400_validation.json": ("POST", f"{BW}/calls", CREATE_CALL, 400),
    "error_401.json": ("GET", f"{BW}/calls/{CALL}", None, 401),
    "error_404.json": ("GET", f"{BW}/calls/c-unknown", None, 404),
    "error_415.json": ("POST", f"{BW}/calls", CREATE_CALL, 415),
    "error_500.json": ("GET", f"{BW}/conferences", None, 500),
    "error_503.json": ("POST", f"{BW}/calls", CREATE_CALL, 503),  # C-BW-1
}


def exchange(method: str, url: str, body: Any, status: int, response: Any,
             *, headers: dict[str, str] | None = None) -> tuple[httpx.Request, httpx.Response]:
    request = httpx.Request(method, url, json=body, headers={"Authorization": REDACTED})
    reply = httpx.Response(status, json=response, headers=headers)
    return request, reply


def test_every_bandwidth_rest_sample_is_covered() -> None:
    assert {p.name for p in (SAMPLES / "bandwidth" / "rest").glob("*.json")} == set(BANDWIDTH_REST)


@pytest.mark.parametrize("name", sorted(BANDWIDTH_REST))
def test_bandwidth_rest_samples_validate(name: str) -> None:
    method, url, body, status = BANDWIDTH_REST[name]
    request, response = exchange(method, url, body, status, sample("bandwidth", "rest", name))
    validate_exchange("bandwidth", request, response, label=name)


def test_bandwidth_415_is_checked_on_the_response_only() -> None:
    request = httpx.Request("POST", f"{BW}/calls", content=b"to=+1",
                            headers={"Authorization": REDACTED, "Content-Type": "text/plain"})
    response = httpx.Response(415, json=sample("bandwidth", "rest", "error_415.json"))
    with pytest.raises(AssertionError, match="request body"):
        validate_exchange("bandwidth", request, response)
    validate_exchange("bandwidth", request, response, check_request=False)


def _spec_example(name: str) -> Any:
    return copy.deepcopy(raw_spec("bandwidth")["components"]["examples"][name]["value"])


def test_bandwidth_spec_examples_and_204s_validate() -> None:
    create = _spec_example("createCallResponseExample")
    validate_exchange("bandwidth", *exchange(
        "POST", f"{BW}/calls", CREATE_CALL, 201, create,
        headers={"Location": f"{BW}/calls/{create['callId']}"}))
    # Transcription request: 204 with no body (the seed summary said 200).
    request = httpx.Request("POST", f"{BW}/calls/{CALL}/recordings/{REC}/transcription",
                            json={"callbackUrl": "https://app.example/t", "detectLanguage": True},
                            headers={"Authorization": REDACTED})
    validate_exchange("bandwidth", request, httpx.Response(204))
    bxml = httpx.Request("PUT", f"{BW}/calls/{CALL}/bxml",
                         content=b"<?xml version='1.0'?><Bxml><Hangup/></Bxml>",
                         headers={"Authorization": REDACTED, "Content-Type": "application/xml"})
    validate_exchange("bandwidth", bxml, httpx.Response(204))
    redirect = httpx.Request("POST", f"{BW}/calls/{CALL}",
                             json={"state": "active", "redirectUrl": "https://app.example/r"},
                             headers={"Authorization": REDACTED})
    validate_exchange("bandwidth", redirect, httpx.Response(200))


def test_missing_required_field_fails_readably() -> None:
    create = dict(_spec_example("createCallResponseExample"))
    del create["callId"]
    with pytest.raises(AssertionError) as failure:
        validate_exchange("bandwidth", *exchange("POST", f"{BW}/calls", CREATE_CALL, 201, create),
                          label="interaction #1")
    message = str(failure.value)
    assert "interaction #1" in message
    assert "operation createCall" in message
    assert "POST https://voice.bandwidth.com/api/v2/accounts/9900000/calls -> 201" in message
    assert "response body at (top level): 'callId' is a required property" in message


def test_wrong_types_fail_readably() -> None:
    state = sample("bandwidth", "rest", "call_state_200_authored.json")
    state.update(lastUpdate=5, direction="sideways", startTime="yesterday")
    with pytest.raises(AssertionError) as failure:
        validate_exchange("bandwidth", *exchange("GET", f"{BW}/calls/{CALL}", None, 200, state))
    message = str(failure.value)
    assert "operation getCallState" in message
    assert "response body at lastUpdate: 5 is not of type 'string'" in message
    assert "response body at direction: 'sideways' is not one of ['inbound', 'outbound']" in message
    assert "response body at startTime: 'yesterday' is not a 'date-time'" in message
    recordings = sample("bandwidth", "rest", "call_recordings_list_200_authored.json")
    recordings[0]["channels"] = "one"
    with pytest.raises(AssertionError, match=r"at 0/channels: 'one' is not of type 'integer'"):
        validate_exchange("bandwidth", *exchange(
            "GET", f"{BW}/calls/{CALL}/recordings", None, 200, recordings))


def test_undocumented_status_and_path_fail_readably() -> None:
    state = sample("bandwidth", "rest", "call_state_200_authored.json")
    with pytest.raises(AssertionError, match=r"(?s)operation getCallState.*undocumented status"):
        validate_exchange("bandwidth", *exchange("GET", f"{BW}/calls/{CALL}", None, 202, state))
    with pytest.raises(AssertionError, match=r"operation \(none in the spec\)"):
        validate_exchange("bandwidth", *exchange("GET", f"{BW}/callz", None, 200, state))


def test_bad_request_body_and_missing_credentials_fail() -> None:
    body = {**CREATE_CALL, "callTimeout": "thirty"}
    del body["answerUrl"]
    request = httpx.Request("POST", f"{BW}/calls", json=body)
    create = _spec_example("createCallResponseExample")
    with pytest.raises(AssertionError) as failure:
        validate_exchange("bandwidth", request, httpx.Response(201, json=create))
    assert "request credentials" in str(failure.value)
    request.headers["Authorization"] = REDACTED
    with pytest.raises(AssertionError) as failure:
        validate_exchange("bandwidth", request, httpx.Response(201, json=create))
    message = str(failure.value)
    assert "request body at (top level): 'answerUrl' is a required property" in message
    assert "request body at callTimeout: 'thirty' is not of type 'number'" in message


# Spec validation: MessageBird ---------------------------------------------------------------

MB = "https://voice.messagebird.com"
MB_CALL = "21025ed1-cc1d-4554-ac05-043fa6c84e00"
MB_LEG = "d4f07ab3-b17c-44a8-bcef-2b351311c28f"
MB_REC = "12345678-9012-3456-7890-123456789012"
MB_FLOW = "de3ed163-d5fc-45f4-b8c4-7eea7458c635"
MB_CREATE_CALL = {"source": "31644556677", "destination": "31612345678",
                  "callFlow": sample("messagebird", "seed_callflow_request_transfer_hangup.json")}


def envelope(name: str) -> Any:
    """A bare object sample in the one-element ``data`` envelope every response has."""
    return {"data": [sample("messagebird", name)]}


# sample -> (method, url, request body, status, response body)
MESSAGEBIRD_REST: dict[str, tuple[str, str, Any, int, Any]] = {
    "py_call_create_response.json": ("POST", f"{MB}/calls", MB_CREATE_CALL, 201, None),
    "py_call_get_200.json": ("GET", f"{MB}/calls/{MB_CALL}", None, 200, None),
    "py_calls_list_paginated.json": ("GET", f"{MB}/calls?page=1&perPage=10", None, 200, None),
    "seed_calls_list.json": ("GET", f"{MB}/calls", None, 200, None),
    "seed_call_object.json": ("GET", f"{MB}/calls/{MB_CALL}", None, 200,
                              envelope("seed_call_object.json")),
    "java_leg_get.json": ("GET", f"{MB}/calls/{MB_CALL}/legs/{MB_LEG}", None, 200, None),
    "seed_leg_object.json": ("GET", f"{MB}/calls/{MB_CALL}/legs/{MB_LEG}", None, 200,
                             envelope("seed_leg_object.json")),
    "java_legs_list.json": ("GET", f"{MB}/calls/{MB_CALL}/legs", None, 200, None),
    "seed_legs_list.json": ("GET", f"{MB}/calls/{MB_CALL}/legs?page=1", None, 200, None),
    "go_recording_object.json": (  # the legacy nested path its _links.self names
        "GET", f"{MB}/calls/callid/legs/legid/recordings/recid", None, 200, None),
    "py_recording_view.json": ("GET", f"{MB}/recordings/{MB_REC}", None, 200, None),
    "py_recordings_list.json": (
        "GET", f"{MB}/calls/{MB_CALL}/legs/{MB_LEG}/recordings", None, 200, None),
    "py_error_recording_not_found.json": (
        "GET", f"{MB}/recordings/00000000-0000-0000-0000-000000000000", None, 404, None),
    "py_callflow_list.json": ("GET", f"{MB}/call-flows", None, 200, None),
    "php_callflow_create_201.json": (
        "POST", f"{MB}/call-flows", sample("messagebird", "php_callflow_create_request.json"),
        201, None),
    "php_callflow_create_request.json": (
        "POST", f"{MB}/call-flows", sample("messagebird", "php_callflow_create_request.json"),
        201, sample("messagebird", "php_callflow_create_201.json")),
    "seed_callflow_request_transfer_hangup.json": (
        "PUT", f"{MB}/call-flows/{MB_FLOW}",
        sample("messagebird", "seed_callflow_request_transfer_hangup.json"), 200,
        sample("messagebird", "php_callflow_create_201.json")),
    "java_callflow_view_all_options.json": (
        "GET", f"{MB}/call-flows/e781a76f-14ad-45b0-8490-409300244e20", None, 200, None),
    "go_callflow_say_pause_record.json": ("GET", f"{MB}/v1/call-flows/id", None, 200,
                                          envelope("go_callflow_say_pause_record.json")),
    "php_webhook_create_201.json": (
        "POST", f"{MB}/webhooks", {"url": "https://example.com/", "token": REDACTED}, 201, None),
    "php_webhook_update_200.json": (
        "PUT", f"{MB}/webhooks/foobar123", {"url": "https://example.com/baz", "token": REDACTED},
        200, None),
}
NOT_REST = {"seed_webhook_callUpdated.json": "a callback body: WebhookEvent schema"}


def test_every_messagebird_sample_is_covered() -> None:
    names = {p.name for p in (SAMPLES / "messagebird").glob("*.json")}
    assert names == set(MESSAGEBIRD_REST) | set(NOT_REST)


@pytest.mark.parametrize("name", sorted(MESSAGEBIRD_REST))
def test_messagebird_samples_validate(name: str) -> None:
    method, url, body, status, response = MESSAGEBIRD_REST[name]
    if response is None:
        response = sample("messagebird", name)
    validate_exchange("messagebird", *exchange(method, url, body, status, response), label=name)


def test_messagebird_webhook_event_validates() -> None:
    validate_schema("messagebird", "WebhookEvent",
                    sample("messagebird", "seed_webhook_callUpdated.json"))


@pytest.mark.parametrize("key", ["callFlow", "callflow"])
def test_messagebird_create_call_accepts_both_flow_keys(key: str) -> None:
    body = {"source": "31644556677", "destination": "31612345678",
            key: {"steps": [{"action": "hangup"}]}}
    validate_exchange("messagebird", *exchange(
        "POST", f"{MB}/calls", body, 201, sample("messagebird", "py_call_create_response.json")))


def test_messagebird_transcribe_string_and_boolean_both_accepted() -> None:
    flow = sample("messagebird", "java_callflow_view_all_options.json")
    assert flow["data"][0]["steps"][0]["options"]["transcribe"] == "false"
    flow["data"][0]["steps"][0]["options"]["transcribe"] = False
    validate_exchange("messagebird", *exchange("GET", f"{MB}/call-flows/x", None, 200, flow))
    flow["data"][0]["steps"][0]["options"]["transcribe"] = "no"
    with pytest.raises(AssertionError, match="transcribe"):
        validate_exchange("messagebird", *exchange("GET", f"{MB}/call-flows/x", None, 200, flow))


def test_messagebird_contradictions_fail() -> None:
    call = sample("messagebird", "py_call_get_200.json")
    call["data"][0]["status"] = "exploded"
    with pytest.raises(AssertionError, match=r"(?s)operation viewCall.*at data/0/status"):
        validate_exchange("messagebird", *exchange("GET", f"{MB}/calls/x", None, 200, call))
    bare = sample("messagebird", "seed_call_object.json")  # no envelope: not what MB sends
    with pytest.raises(AssertionError, match="'data' is a required property"):
        validate_exchange("messagebird", *exchange("GET", f"{MB}/calls/x", None, 200, bare))
    no_flow = {"source": "31644556677", "destination": "31612345678"}
    with pytest.raises(AssertionError, match="request body"):
        validate_exchange("messagebird", *exchange(
            "POST", f"{MB}/calls", no_flow, 201, sample("messagebird",
                                                        "py_call_create_response.json")))


def test_messagebird_downloads_match_their_own_operations() -> None:
    wav = httpx.Request("GET", f"{MB}/recordings/{MB_REC}.wav", headers={"Authorization": "x"})
    validate_exchange("messagebird", wav, httpx.Response(
        200, content=b"RIFF....WAVE", headers={"Content-Type": "audio/wav"}))
    txt = httpx.Request("GET", f"{MB}/transcriptions/t-1.txt", headers={"Authorization": "x"})
    validate_exchange("messagebird", txt, httpx.Response(200, text="hello"))


# Spec validation: Bird ----------------------------------------------------------------------

BIRD = ("https://api.bird.com/workspaces/00000000-0000-4000-8000-000000000001"
        "/channels/00000000-0000-4000-8000-000000000002")
BIRD_CALL = "1e5e9219-2da2-4aa2-bf0f-8cc34775e6c0"


def bird(name: str) -> Any:
    return sample("bird", name)


BIRD_REST: dict[str, tuple[str, str, Any, int, Any]] = {
    "seed_create_call_request_playback_hangup.json": (
        "POST", f"{BIRD}/calls", bird("seed_create_call_request_playback_hangup.json"), 202,
        bird("seed_create_call_202_response.json")),
    "seed_create_call_request_say_hangup.json": (
        "POST", f"{BIRD}/calls", bird("seed_create_call_request_say_hangup.json"), 202,
        bird("seed_create_call_202_response.json")),
    "seed_create_call_202_response.json": (
        "GET", f"{BIRD}/calls/{BIRD_CALL}", None, 200, bird("seed_create_call_202_response.json")),
    "seed_call_object_schema_example.json": (
        "GET", f"{BIRD}/calls/{BIRD_CALL}", None, 200,
        bird("seed_call_object_schema_example.json")),
    "gather_command_request.json": (
        "POST", f"{BIRD}/calls/{BIRD_CALL}/gather", bird("gather_command_request.json"), 202,
        bird("command_202_response_generic.json")),
    "command_202_response_generic.json": (
        "POST", f"{BIRD}/calls/{BIRD_CALL}/gather", {"maxNumKeys": 1}, 202,
        bird("command_202_response_generic.json")),
}
BIRD_NOT_REST = {"webhook_subscription_voice_inbound.json": "WebhookSubscriptionCreate schema"}


def test_every_bird_sample_is_covered() -> None:
    names = {p.name for p in (SAMPLES / "bird").glob("*.json")}
    assert names == set(BIRD_REST) | set(BIRD_NOT_REST)


@pytest.mark.parametrize("name", sorted(BIRD_REST))
def test_bird_samples_validate(name: str) -> None:
    method, url, body, status, response = BIRD_REST[name]
    validate_exchange("bird", *exchange(method, url, body, status, response), label=name)


def test_bird_webhook_subscription_validates() -> None:
    validate_schema("bird", "WebhookSubscriptionCreate",
                    bird("webhook_subscription_voice_inbound.json"))
    with pytest.raises(AssertionError, match=r"'voice\.sideways' is not one of"):
        validate_schema("bird", "WebhookSubscriptionCreate",
                        {**bird("webhook_subscription_voice_inbound.json"),
                         "event": "voice.sideways"})


@pytest.mark.parametrize("page", [
    {"results": [bird("seed_call_object_schema_example.json")], "nextPageToken": "abc"},
    {"results": [bird("seed_create_call_202_response.json")]},  # cursor name unconfirmed
    {"results": []},
])
def test_bird_list_calls(page: dict[str, Any]) -> None:
    validate_exchange("bird", *exchange("GET", f"{BIRD}/calls?limit=10&pageToken=x", None, 200,
                                        page))


@pytest.mark.parametrize("body", [
    {"status": "completed"},
    {"callFlow": [{"command": "say", "options": {"text": "Bye", "locale": "en-US"}},
                  {"command": "hangup"}]},
])
def test_bird_update_call(body: dict[str, Any]) -> None:
    validate_exchange("bird", *exchange("PATCH", f"{BIRD}/calls/{BIRD_CALL}", body, 202,
                                        bird("seed_create_call_202_response.json")))


def test_bird_contradictions_fail() -> None:
    with pytest.raises(AssertionError, match="'results' is a required property"):
        validate_exchange("bird", *exchange("GET", f"{BIRD}/calls", None, 200,
                                            {"data": [], "nextPageToken": None}))
    too_many = {"to": "+31600000000", "callFlow": [{"command": "hangup"}] * 21}
    with pytest.raises(AssertionError, match="request body at callFlow"):
        validate_exchange("bird", *exchange("POST", f"{BIRD}/calls", too_many, 202,
                                            bird("seed_create_call_202_response.json")))
    with pytest.raises(AssertionError, match="undocumented status"):
        validate_exchange("bird", *exchange(
            "POST", f"{BIRD}/calls", bird("seed_create_call_request_say_hangup.json"), 201,
            bird("seed_create_call_202_response.json")))


# Cassette files -----------------------------------------------------------------------------

def test_validate_cassette_names_each_bad_interaction(tmp_path: Path) -> None:
    good_req, good_resp = exchange("GET", f"{BW}/calls/{CALL}", None, 200,
                                   sample("bandwidth", "rest", "call_state_200_authored.json"))
    bad_state = {**sample("bandwidth", "rest", "call_state_200_authored.json"), "lastUpdate": 1}
    interactions = []
    for body, status in ((good_resp.content, 200), (json.dumps(bad_state).encode(), 200),
                         (b"{}", 418)):
        interactions.append({
            "request": {"method": "GET", "uri": str(good_req.url), "body": None,
                        "headers": {"authorization": [REDACTED]}},
            "response": {"status": {"code": status, "message": "x"},
                         "headers": {"Content-Type": ["application/json"]},
                         "body": {"string": body.decode()}},
        })
    path = tmp_path / "calls.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "interactions": interactions[:1]}))
    assert validate_cassette("bandwidth", path) == 1
    path.write_text(yaml.safe_dump({"version": 1, "interactions": interactions}))
    with pytest.raises(AssertionError) as failure:
        validate_cassette("bandwidth", path)
    message = str(failure.value)
    assert "interaction #1" not in message
    assert "interaction #2 GET" in message
    assert "at lastUpdate: 1 is not of type 'string'" in message
    assert "interaction #3 GET" in message
    assert "undocumented status" in message
    assert message.count("operation getCallState") == 2
    # The same check on the Cassette a use_cassette block yields.
    with use_cassette("bandwidth", "calls", directory=tmp_path) as cassette:
        pass
    with pytest.raises(AssertionError, match="interaction #3 GET"):
        validate_cassette("bandwidth", cassette)


def test_committed_cassettes_validate() -> None:
    """Every cassette under cassettes/ against its provider's spec (adapters add them)."""
    failures = []
    for provider in PROFILES:
        for path in sorted(cassette_dir(provider).glob("*.y*ml")):
            try:
                validate_cassette(provider, path)
            except AssertionError as failure:
                failures.append(str(failure))
    assert not failures, "\n\n".join(failures)


def test_spec_copies_differ_from_shared_only_as_documented() -> None:
    corrections = (SPECS / "CORRECTIONS.md").read_text("utf-8")
    for marker in ("C-BW-1", "C-BW-2", "C-BW-3"):
        assert marker in corrections
        assert marker in (SPECS / "bandwidth-voice.openapi.yml").read_text("utf-8")
    mb = (SPECS / "messagebird-voice-seed.openapi.yml").read_text("utf-8")
    for number in range(1, 16):
        marker = f"C-MB-{number}"
        if marker in mb:
            assert marker in corrections, marker
    if SHARED_SPECS.is_dir():  # a clean clone has ../shared beside it
        original = yaml.load((SHARED_SPECS / "bandwidth-voice.openapi.yml").read_text(),
                             Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        ours = raw_spec("bandwidth")
        assert set(original["paths"]) == set(ours["paths"])
        for path, item in original["paths"].items():
            for method, op in item.items():
                assert set(ours["paths"][path][method]["responses"]) == {*op["responses"], "503"}
