"""Planted credentials of every provider never show: not in any CLI command's output (every
command, enumerated from the typer app so a new one cannot be missed, with ``--json`` and
without, succeeding and failing), not in logs at DEBUG, not in reprs of clients, settings,
configuration and errors, not in cassettes a recording session writes.

The credentials travel through a config file and ``UNIVOICE_*`` variables at once; each
holds characters that change under URL, JSON and XML encoding, and the scan looks for
every form (``FORMS``), Basic tokens included. Failing paths run against an API that
echoes what it was sent (its Authorization header and body) in its error answers, so the
secrets reach univoice's error handling and must be masked there, not merely absent.
Bandwidth's own channels (OAuth2 tokens, callback credentials in BXML, ...) are scanned
in depth by tests/client/test_bandwidth_secrets.py.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, quote_plus

import click
import httpx
import pytest
import typer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.cassettes import use_cassette
from tests.support.live_server import LiveServer
from univoice import Config, Voice
from univoice.cli import app as cli_app
from univoice.cli import main
from univoice.errors import UnivoiceError
from univoice.retry import NO_RETRY
from univoice.transport import HttpSettings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SAMPLES = ROOT.parent / "shared" / "reference" / "samples"
WS, CH = "00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b"
BW_USER, BW_CLIENT, BW_CB_USER = "bw-user-planted", "bw-client-planted", "bw-cb-planted"
SECRETS = {
    "bandwidth password": 'bwPW/planted+7c&"q1',
    "bandwidth client secret": "bwCS=planted/5d 88",
    "bandwidth callback password": "bwCB&planted<0b8>",
    "messagebird access key": "mbAK/planted+9=xq",
    "messagebird signing key": "mbSK&planted<7a>",
    "bird access key": "birdAK/planted+3=y",
    "bird signing key": "birdSK&planted<5c>",
    "store password": "storePW/planted+2",
}
# A Redis store with a password (URL-encoded, as a URL must carry it).
REDIS = f"redis://:{quote('storePW/planted+2', safe='')}@127.0.0.1:1/0"
PAIRS = {"bandwidth API Basic token": (BW_USER, SECRETS["bandwidth password"]),
         "bandwidth client Basic token": (BW_CLIENT, SECRETS["bandwidth client secret"]),
         "bandwidth callback Basic token": (BW_CB_USER,
                                            SECRETS["bandwidth callback password"])}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode().rstrip("=")


def forms() -> dict[str, str]:
    """Every form a planted secret may take -> what it is."""
    found: dict[str, str] = {}
    for name, secret in SECRETS.items():
        for how, form in (("", secret), (" URL-encoded", quote(secret, safe="")),
                          (" form-encoded", quote_plus(secret)),
                          (" JSON-escaped", json.dumps(secret)[1:-1]),
                          (" XML-escaped", html.escape(secret)), (" base64", _b64(secret)),
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
    found = {where: leaks(text) for where, text in channels.items()}
    found = {where: what for where, what in found.items() if what}
    assert not found, f"secrets shown: {found}"


def exposed(error: BaseException) -> str:
    """All an exception shows: traceback, chained causes, str, repr, args, attributes."""
    parts = ["".join(traceback.format_exception(error))]
    current: BaseException | None = error
    while current is not None:
        parts += [str(current), repr(current), repr(current.args),
                  repr(getattr(current, "__dict__", {}))]
        current = current.__cause__ or (None if current.__suppress_context__
                                        else current.__context__)
    return "\n".join(parts)


def test_the_scan_sees_every_form() -> None:
    for secret in SECRETS.values():
        for text in (f"x{secret}x", quote(secret, safe=""), json.dumps({"v": secret}),
                     html.escape(secret), base64.b64encode(secret.encode()).decode()):
            assert leaks(text), text
    user, secret = PAIRS["bandwidth API Basic token"]
    assert leaks("Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode())
    assert not leaks(f"{BW_USER} {BW_CLIENT} {BW_CB_USER} *** <redacted>")


# An API that echoes what it is sent ------------------------------------------------------------


def said(request: Request, body: bytes) -> str:
    return (f"{request.method} {request.url} Authorization: "
            f"{request.headers.get('authorization')} body: {body.decode('utf-8', 'replace')}")


async def echo(request: Request) -> Response:
    """``/401/...`` answers 401 with a JSON error body in every provider's shape, each
    field repeating the request; ``/500/...`` answers 500 with the request as text. No
    echo in a header: httpcore's own DEBUG log prints response headers as received,
    before univoice sees them (a third-party logger univoice cannot filter)."""
    body = await request.body()
    text = said(request, body)
    if request.url.path.startswith("/500"):
        return PlainTextResponse(f"failed: {text}", status_code=500)
    return JSONResponse({
        "type": request.headers.get("authorization", "none"), "description": text,
        "message": text, "id": "req-1", "code": 2,
        "errors": [{"code": 2, "description": text, "message": text}],
        "error": {"code": "unauthorized", "message": text, "details": [text]},
        "data": None}, status_code=401)


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    app = Starlette(routes=[Route("/{path:path}", echo,
                                  methods=["GET", "POST", "PUT", "PATCH", "DELETE"])])
    with LiveServer(app, name="echoing-api") as server:
        yield server.url


# Planted configuration ---------------------------------------------------------------------


def table(provider: str, api_url: str) -> tuple[dict[str, str], dict[str, str]]:
    """(the provider's table in the file, its UNIVOICE_* variables): secrets in both."""
    if provider == "bandwidth":
        return ({"account_id": "9900000",
                 "application_id": "04e88489-df02-4e34-a0ee-27a91849555f",
                 "username": BW_USER, "callback_username": BW_CB_USER,
                 "callback_password": SECRETS["bandwidth callback password"],
                 "api_url": f"{api_url}/api/v2", "token_url": f"{api_url}/token"},
                {"PASSWORD": SECRETS["bandwidth password"]})
    if provider == "messagebird":
        return ({"signing_key": SECRETS["messagebird signing key"], "api_url": api_url},
                {"ACCESS_KEY": SECRETS["messagebird access key"]})
    return ({"workspace_id": WS, "channel_id": CH, "api_url": api_url,
             "access_key": SECRETS["bird access key"]},
            {"SIGNING_KEY": SECRETS["bird signing key"]})


def write_config(folder: Path, provider: str, api_url: str, *, store: str | None = None,
                 broken: bool = False) -> Path:
    """A univoice.toml for ``provider`` (and, planted too, the other two providers'
    tables). ``broken``: one setting missing or invalid, for ``config check``."""
    values, _ = table(provider, api_url)
    if broken:
        values = {k: v for k, v in values.items() if k not in ("account_id", "channel_id")}
        values["api_version" if provider == "messagebird" else "api_url"] = "not-valid"
    lines = [f'provider = "{provider}"', 'public_url = "https://voice.example.com"',
             f'flow_store = "{store or "sqlite:///" + str(folder / "store.db")}"',
             "[http]", "max_attempts = 1", f"[{provider}]",
             *(f"{k} = {json.dumps(v)}" for k, v in values.items())]
    for other in ("bandwidth", "messagebird", "bird"):
        if other != provider:
            lines += [f"[{other}]", *(f"{k} = {json.dumps(v)}"
                                      for k, v in table(other, api_url)[0].items())]
    variant = "-broken" if broken else "-store" if store else ""
    file = folder / f"univoice-{provider}{variant}.toml"
    file.write_text("\n".join(lines) + "\n")
    return file


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for provider in ("bandwidth", "messagebird", "bird"):
        for key, value in table(provider, "http://unused")[1].items():
            monkeypatch.setenv(f"UNIVOICE_{provider.upper()}__{key}", value)
    return monkeypatch


# Every command -------------------------------------------------------------------------------


@dataclass
class Run:
    args: tuple[str, ...]
    code: int
    out: str
    err: str


@dataclass
class Session:
    """Runs CLI commands in-process, as the console script would, and keeps what showed."""

    capsys: pytest.CaptureFixture[str]
    folder: Path
    provider: str
    api: str
    config: Path
    runs: list[Run] = field(default_factory=list)

    def __call__(self, *args: str, stdin: str | None = None) -> Run:
        self.capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        else:
            raise AssertionError("main() returned without exiting")
        captured = self.capsys.readouterr()
        run = Run(args, code, captured.out, captured.err)
        self.runs.append(run)
        return run

    def file(self, name: str, text: str) -> str:
        path = self.folder / name
        path.write_text(text)
        return str(path)


def native_document(provider: str) -> str:
    if provider == "bandwidth":
        return (SAMPLES / "bandwidth" / "bxml" / "gather_simple.xml").read_text()
    if provider == "messagebird":
        return (SAMPLES / "messagebird" / "seed_callflow_request_transfer_hangup.json"
                ).read_text()
    return (SAMPLES / "bird" / "seed_create_call_request_say_hangup.json").read_text()


def callback(provider: str) -> str:
    """A callback carrying a secret-named field with a planted value (masked by name)."""
    secret = SECRETS[f"{provider} signing key" if provider != "bandwidth"
                     else "bandwidth callback password"]
    if provider == "bandwidth":
        return json.dumps({"eventType": "answer", "callId": "c-1", "password": secret})
    if provider == "messagebird":
        return json.dumps({"items": [{"type": "call", "event": "callUpdated", "payload": {
            "id": "c-1", "status": "ongoing", "signingKey": secret}}]})
    return json.dumps({"id": "c-1", "status": "ongoing", "accessKey": secret})


IVR = str(EXAMPLES / "support_ivr.yaml")
PORTABLE = str(EXAMPLES / "support_ivr_portable.yaml")
Invocations = Callable[[Session], None]


def _serve(s: Session) -> None:
    import os

    for extra in ((), ("--store", REDIS)):
        s("serve", "--flow", IVR, *extra)  # uvicorn.run is replaced (see ``session``)
        for name in SERVE_VARIABLES:  # serve hands its options to its workers this way
            os.environ.pop(name, None)


SERVE_VARIABLES = ("UNIVOICE_SERVE_FLOW", "UNIVOICE_SERVE_APP", "UNIVOICE_FLOW_STORE",
                   "UNIVOICE_PUBLIC_URL", "UNIVOICE_SERVE_URL")


def _call(s: Session) -> None:
    flow = PORTABLE if s.provider != "bandwidth" else IVR
    for mode in ("401", "500"):
        config = write_config(s.folder, s.provider, f"{s.api}/{mode}")
        for extra in ((), ("--json",)):
            run = s("call", "+31612345678", "--flow", flow, "--from", "+31201234567",
                    "--config", str(config), "--no-wait", *extra)
            assert run.code == 1 and run.err.startswith("error: "), run
    s("call", "+31612345678", "--flow", IVR, "--press", "1")  # on the simulator's config
    s("call", "+31612345678", "--flow", IVR, "--press", "1", "--json", "--config",
      s.file("simulator.toml", 'provider = "simulator"\n[simulator]\nspeed = 0\n'))


def _convert(s: Session) -> None:
    native = s.file(f"native-{s.provider}.txt", native_document(s.provider))
    s("convert", native, "--from", s.provider)
    s("convert", native, "--from", s.provider, "--json")
    s("convert", native, "--from", s.provider, "--to", "simulator")
    s("convert", "--stored", "flow-1", "--from", s.provider)  # REST against the echo: 401
    s("convert", "--stored", "flow-1", "--from", s.provider, "--json")


def _events(s: Session) -> None:
    redis = REDIS
    s("events", "list")
    s("events", "list", "--json")
    s("events", "list", "--store", redis)
    s("events", "tail", "--count", "0", "--interval", "0")
    s("events", "tail", "--count", "0", "--interval", "0", "--store", redis)
    s("events", "replay", "--app", "no_such_module_planted:app", "--all-failed")
    s("events", "parse", s.file(f"callback-{s.provider}.json", callback(s.provider)),
      "--provider", s.provider)


def _config(s: Session) -> None:
    redis = write_config(s.folder, s.provider, s.api, store=REDIS)
    broken = write_config(s.folder, s.provider, s.api, broken=True)
    for config in ((), ("--config", str(redis)), ("--config", str(broken))):
        s("config", "show", *config)
        s("config", "show", "--json", *config)
        s("config", "check", *config)


def _both(*args: str) -> Invocations:
    """The command as given, and with --json."""
    def invoke(s: Session) -> None:
        s(*args)
        s(*args, "--json")

    return invoke


def _render(s: Session) -> None:
    s("flow", "render", PORTABLE, "--provider", s.provider)


def _graph(s: Session) -> None:
    s("flow", "graph", IVR, "--provider", s.provider)
    s("flow", "graph", IVR, "--provider", s.provider, "-o", str(s.folder / "ivr.html"))


def _route(s: Session) -> None:
    routing = ('[routing]\nproviders = ["bandwidth", "messagebird", "bird"]\n'
               '[[routing.rules]]\nname = "nl"\ncountries = ["NL"]\n'
               'providers = ["bird", "messagebird"]\n')
    for store in (None, REDIS):  # the Redis store is unreachable: its URL has a password
        config = write_config(s.folder, s.provider, s.api, store=store)
        routed = config.with_name(f"routed-{config.name}")
        routed.write_text(config.read_text() + routing)
        for extra in ((), ("--json",)):
            s("route", "+31612345678", "--flow", IVR, "--config", str(routed), *extra)
            s("providers", "--health", "--config", str(routed), *extra)


def _campaign(s: Session) -> None:
    listing = s.file("list.csv", "to,name\n+31612345678,Ann\n+31612345679,Bob\n")
    db = str(s.folder / f"campaigns-{s.provider}.sqlite3")
    run = s("campaign", "run", listing, "--flow", PORTABLE, "--from", "+31201234567",
            "--db", db, "--json")  # the API answers 401, echoing the credentials
    campaign = json.loads(run.out)["id"]
    for extra in ((), ("--json",)):
        s("campaign", "status", "--db", db, *extra)
        s("campaign", "status", campaign, "--db", db, *extra)
    s("campaign", "export", campaign, "--db", db)  # the rows' errors, as stored
    s("campaign", "export", campaign, "--db", db, "--format", "json")
    s("campaign", "resume", campaign, "--db", db)
    s("campaign", "pause", campaign, "--db", db)
    s("campaign", "cancel", campaign, "--db", db)


COMMANDS: dict[str, Invocations] = {
    "serve": _serve, "call": _call, "convert": _convert,
    "simulate": _both("simulate", IVR, "--press", "1"), "demo": _both("demo"),
    "providers": _both("providers"), "port": _both("port", PORTABLE),
    "flow check": _both("flow", "check", IVR, PORTABLE),
    "flow schema": lambda s: s("flow", "schema") and None, "flow render": _render,
    "flow graph": _graph, "route": _route,
    "campaign run": _campaign, "campaign status": _campaign, "campaign export": _campaign,
    "campaign resume": _campaign, "campaign pause": _campaign, "campaign cancel": _campaign,
    "config show": _config, "config check": _config,
    "events parse": _events, "events list": _events, "events tail": _events,
    "events replay": _events,
}
# Commands that read no configuration and no provider: run once, not once per provider.
ONCE = {"simulate", "demo", "flow schema", "flow check", "port", "providers"}


def commands() -> list[str]:
    """Every command of the CLI, found by walking the typer app."""
    root = typer.main.get_command(cli_app)

    def walk(command: click.Command, context: click.Context, path: tuple[str, ...]
             ) -> Iterator[str]:
        if hasattr(command, "list_commands"):  # a group (typer's own click, or click's)
            for name in command.list_commands(context):
                sub = command.get_command(context, name)
                assert sub is not None
                yield from walk(sub, click.Context(sub, parent=context), (*path, name))
        else:
            yield " ".join(path)

    return sorted(walk(root, click.Context(root), ()))


def test_every_command_is_exercised() -> None:
    found = commands()
    assert len(found) >= 15
    missing = sorted(set(found) - set(COMMANDS))
    assert not missing, (f"commands without a secret-hygiene run: {missing}; add them to "
                         "COMMANDS in tests/security/test_secret_hygiene.py")
    assert not set(COMMANDS) - set(found), "COMMANDS names a command the CLI no longer has"


@pytest.fixture
def session(request: pytest.FixtureRequest, planted: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str], tmp_path: Path, api: str,
            caplog: pytest.LogCaptureFixture) -> Session:
    import uvicorn

    provider: str = request.param
    caplog.set_level(logging.DEBUG)
    config = write_config(tmp_path, provider, f"{api}/401")
    planted.setenv("UNIVOICE_CONFIG", str(config))
    planted.chdir(tmp_path)
    planted.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    for name in ("UNIVOICE_SERVE_FLOW", "UNIVOICE_SERVE_APP", "UNIVOICE_FLOW_STORE",
                 "UNIVOICE_PUBLIC_URL", "UNIVOICE_SERVE_URL"):
        planted.delenv(name, raising=False)  # serve sets them for its workers
    return Session(capsys, tmp_path, provider, api, config)


@pytest.mark.parametrize("session", ["bandwidth", "messagebird", "bird"], indirect=True)
def test_no_command_shows_a_credential(session: Session,
                                       caplog: pytest.LogCaptureFixture) -> None:
    done: set[Invocations] = set()
    for name, invoke in COMMANDS.items():
        if invoke in done or (name in ONCE and session.provider != "bandwidth"):
            continue  # one run covers several commands; the rest once per test session
        done.add(invoke)
        invoke(session)
    ran = {" ".join(r.args[:2]) if r.args[0] in ("flow", "config", "events", "campaign")
           else r.args[0]
           for r in session.runs}
    assert ran >= set(COMMANDS) - (ONCE if session.provider != "bandwidth" else set())
    for run in session.runs:
        shown = run.out + run.err
        assert "Traceback" not in shown and "internal error" not in shown, run
        assert run.code in (0, 1, 2), run
    # The secrets were really in play: the echoing API saw them and answered with them.
    assert any(r.args[0] == "call" and "***" in r.err for r in session.runs)
    logs = "\n".join([caplog.text, *(f"{r.name} {r.getMessage()} {r.exc_text or ''}"
                                     for r in caplog.records)])
    assert_clean({" ".join(r.args): r.out + r.err for r in session.runs} | {"logs": logs})


# Reprs and errors of the clients ------------------------------------------------------------


def voice(provider: str, api_url: str) -> Voice:
    values, env = table(provider, api_url)
    settings = {**values, **{k.lower(): v for k, v in env.items()}}
    if provider == "bandwidth":
        settings["client_id"], settings["client_secret"] = (
            BW_CLIENT, SECRETS["bandwidth client secret"])
        del settings["username"], settings["password"]
    return Voice(provider, **settings, http=HttpSettings(retry=NO_RETRY))


@pytest.mark.parametrize("provider", ["bandwidth", "messagebird", "bird"])
@pytest.mark.parametrize("mode", ["401", "500"])
def test_reprs_and_errors_never_show_a_credential(provider: str, mode: str, api: str,
                                                  caplog: pytest.LogCaptureFixture,
                                                  planted: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    with voice(provider, f"{api}/{mode}") as client:
        with pytest.raises(UnivoiceError) as failed:
            client.calls.get("c-1")
        shown = {"Voice": f"{client!r} {client}", "provider": repr(client.provider),
                 "settings": f"{client.provider.settings!r} {client.provider.settings}",
                 "settings dump": str(client.provider.settings.model_dump()),
                 "settings json": client.provider.settings.model_dump_json(),
                 "provider attributes": repr(vars(client.provider)),
                 "error": exposed(failed.value)}
    config = Config.load(write_config(tmp_path, provider, api, store=REDIS))
    shown |= {"Config": f"{config!r} {config}", "Config shown": str(config.shown())}
    shown["logs"] = caplog.text
    if mode == "401":
        assert "***" in str(failed.value)  # the API echoed a credential: masked, not absent
    assert_clean(shown)


# Cassettes a recording session writes -------------------------------------------------------

RECORDED = {"messagebird": ("MESSAGEBIRD_ACCESS_KEY", "messagebird access key"),
            "bird": ("BIRD_ACCESS_KEY", "bird access key")}


@pytest.mark.parametrize("provider", sorted(RECORDED))
def test_a_recorded_cassette_holds_no_credential(provider: str, api: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A session recording against an API that echoes the credentials (in error bodies):
    the cassette keeps the exchange, never the key. (Bandwidth's recording is tested in
    tests/contract/test_harness.py.)"""
    variable, secret = RECORDED[provider]
    for name in ("CI", "UNIVOICE_RECORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, SECRETS[secret])
    if provider == "bird":
        monkeypatch.setenv("BIRD_WORKSPACE_ID", WS)
        monkeypatch.setenv("BIRD_CHANNEL_ID", CH)
    with use_cassette(provider, "echoed", record_mode="once", directory=tmp_path), \
            voice(provider, f"{api}/401") as client, pytest.raises(UnivoiceError):
        client.calls.get("c-1")
    text = (tmp_path / "echoed.yaml").read_text("utf-8")
    assert "<redacted>" in text and "Authorization: " in text  # the echo, scrubbed
    assert leaks(text) == [], text


def test_a_credential_echoed_in_a_successful_answer_is_masked_in_raw() -> None:
    """Found while writing these tests: an answer that repeats the access key in a field
    not named like a secret keeps it in the model's ``raw``, and `univoice call --json`
    prints it."""
    key = SECRETS["messagebird access key"]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/legs"):
            return httpx.Response(200, json={"data": [], "pagination": {"totalCount": 0}})
        return httpx.Response(200, json={"data": [{
            "id": "c-1", "status": "ended", "source": "31201234567",
            "destination": "31612345678", "note": f"seen {request.headers['authorization']}"}]})

    with Voice("messagebird", access_key=key, http=HttpSettings(retry=NO_RETRY),
               client=httpx.Client(transport=httpx.MockTransport(handler))) as client:
        call = client.calls.get("c-1")
    assert_clean({"raw": json.dumps(call.raw), "json": call.model_dump_json()})
