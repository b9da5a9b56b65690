"""`univoice call` on Bandwidth: the flow is stored where the webhook app reads it and the
call is placed with the app's URLs, both taken from the configuration (``public_url``,
``flow_store``), as ``Voice.from_config`` does.

Two servers on 127.0.0.1, sharing nothing but HTTP and the store file: the webhook app and
a fake Bandwidth Voice API whose calls run the app's BXML (the adapter's interpreter),
fetching every document from the app with the callback credentials.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fake_bandwidth import (
    ACCOUNT_ID,
    APPLICATION_ID,
    PASSWORD,
    USERNAME,
    FakeBandwidth,
    NetworkHttp,
    interpreter_runner,
)
from tests.support.live_server import LiveServer
from univoice.events import BaseEvent
from univoice.plugins import get_provider
from univoice.simulator.backend import Clock
from univoice.simulator.script import CalleeScript
from univoice.webhooks import VoiceApp

from .conftest import Result

CALLBACK_USER, CALLBACK_PASSWORD = "univoice-cb", "cb-cli-5e1f0a9b"
TO, FROM = "+31612345678", "+31201234567"
Cli = Callable[..., Result]


@dataclass
class Stack:
    app_url: str
    api_url: str
    store: str
    fake: FakeBandwidth
    seen: list[BaseEvent]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    store = f"sqlite:///{tmp_path / 'voice.db'}"
    app_server, api_server = LiveServer(name="webhook-app"), LiveServer(name="fake-bandwidth")
    app = VoiceApp(public_url=app_server.url, store=store, providers=[get_provider(
        "bandwidth", account_id=ACCOUNT_ID, callback_username=CALLBACK_USER,
        callback_password=CALLBACK_PASSWORD)])
    seen: list[BaseEvent] = []
    app.on()(seen.append)
    callbacks = NetworkHttp(httpx.Client(timeout=30))
    # The fake's clock runs 200 times faster than real time, so the CLI, which polls the
    # call until it ends, sees it end within a fraction of a second.
    fake = FakeBandwidth(runner=interpreter_runner(), http=callbacks, https_only=False,
                         base_url=f"{api_server.url}/api/v2", clock=Clock(speed=200.0),
                         callee=CalleeScript.presses("1"))
    try:
        app_server.start(app)
        api_server.start(fake.asgi())
        yield Stack(app_server.url, fake.base_url, store, fake, seen)
    finally:
        api_server.stop()
        app_server.stop()
        callbacks.close()
        app.store.close()


def config(tmp_path: Path, stack: Stack, **top: str) -> Path:
    values: dict[str, Any] = {
        "account_id": ACCOUNT_ID, "application_id": APPLICATION_ID, "username": USERNAME,
        "password": PASSWORD, "callback_username": CALLBACK_USER,
        "callback_password": CALLBACK_PASSWORD, "api_url": stack.api_url}
    settings = {"provider": "bandwidth", "public_url": stack.app_url,
                "flow_store": stack.store, **top}
    lines = [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    lines += ["[http]", "max_attempts = 1", "[bandwidth]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    cfg = tmp_path / "univoice.toml"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


FLOW = """
name: CLI call
steps:
  - gather:
      prompt: Press 1 to confirm.
      options:
        "1": [{say: Confirmed.}]
      no_input: [{say: Nothing confirmed.}]
  - hangup
"""


def test_call_runs_a_flow_on_bandwidth(cli: Cli, stack: Stack, tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    cfg = config(tmp_path, stack)
    r = cli("call", TO, "--flow", str(flow), "--from", FROM, "--config", str(cfg), "--json")
    assert r.code == 0, r.err
    call = json.loads(r.out)["call"]
    assert (call["provider"], call["to"], call["status"]) == ("bandwidth", TO, "completed")
    assert CALLBACK_PASSWORD not in r.out + r.err and PASSWORD not in r.out + r.err
    # The call was placed with the app's URL from public_url, and the app served the flow
    # from flow_store: every document the call fetched came from it, with the credentials.
    [created] = [req for req in stack.fake.requests
                 if req.method == "POST" and req.url.path.endswith("/calls")]
    body = json.loads(created.content)
    assert body["answerUrl"].startswith(f"{stack.app_url}/univoice/bandwidth/flow/")
    assert body["disconnectUrl"] == f"{stack.app_url}/univoice/bandwidth/events"
    fetched = [d for d in stack.fake.deliveries if "/univoice/bandwidth/flow/" in d.url]
    assert fetched and {d.status for d in fetched} == {200}
    assert {d.credentials for d in fetched} == {(CALLBACK_USER, CALLBACK_PASSWORD)}
    said = [e.data["text"] for e in stack.fake.trace_events(call["id"]) if e.kind == "said"]
    assert said[-1] == "Confirmed."
    assert {"call.answered", "gather.digits", "call.completed"} <= {
        e.type for e in stack.seen if e.call_id == call["id"]}


def test_call_prints_progress(cli: Cli, stack: Stack, tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    r = cli("call", TO, "--flow", str(flow), "--config", str(config(tmp_path, stack)))
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].startswith("call c-") and lines[0].endswith("on bandwidth: queued")
    assert lines[-1].startswith("ended: ")


def test_call_without_public_url_says_what_is_missing(cli: Cli, stack: Stack,
                                                      tmp_path: Path) -> None:
    cfg = config(tmp_path, stack)
    cfg.write_text("\n".join(line for line in cfg.read_text().splitlines()
                             if not line.startswith("public_url")) + "\n")
    flow = tmp_path / "flow.yaml"
    flow.write_text(FLOW)
    r = cli("call", TO, "--flow", str(flow), "--config", str(cfg))
    assert r.code == 1
    assert "set public_url" in r.err
    assert not [req for req in stack.fake.requests if req.method == "POST"]  # nothing placed


def test_simulator_call_ignores_public_url(cli: Cli, tmp_path: Path, examples: Path) -> None:
    # The simulator fetches nothing from the app: a configured public_url (which `call`
    # now hands the client) does not get in its way.
    cfg = tmp_path / "univoice.toml"
    cfg.write_text('provider = "simulator"\npublic_url = "https://voice.example.com"\n'
                   f'flow_store = "sqlite:///{tmp_path / "voice.db"}"\n')
    r = cli("call", TO, "--flow", str(examples / "support_ivr.yaml"), "--press", "2",
            "--press", "1", "--speed", "0", "--config", str(cfg), "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["call"]["status"] == "completed"
