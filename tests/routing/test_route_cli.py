"""`univoice route` explains decisions for the examples; `providers --health` and
`/univoice/health` show the breakers every process shares through the store."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.cli.conftest import Result, cli
from univoice.config import Config
from univoice.routing.breaker import Breakers
from univoice.store import open_store
from univoice.webhooks.serve import create_app

__all__ = ["cli"]
EXAMPLES = Path(__file__).parents[2] / "examples"
TOML = """
public_url = "https://voice.example.com"
flow_store = "sqlite:///{db}"

[routing]
providers = ["bandwidth", "messagebird"]
breaker = {{ failures = 2, cooldown = 60 }}

[[routing.rules]]
name = "benelux"
countries = ["NL", "BE"]
providers = ["messagebird", "bird", "bandwidth"]

[[routing.rules]]
name = "us-migration"
prefixes = ["+1"]
providers = ["bandwidth", "bird"]
weights = {{ bandwidth = 90, bird = 10 }}

[bandwidth]
account_id = "9900000"
application_id = "app-1"
username = "api-user"
password = "bw-secret-password"
callback_username = "cb"
callback_password = "cb-secret-password"

[messagebird]
access_key = "mb-secret-access-key"

[bird]
workspace_id = "6f1c9a52-7d3e-4c1b-9a0e-2b8f4d6e1a33"
channel_id = "0d2b7c4e-5f6a-4b8c-9d1e-3f2a5b7c9e11"
access_key = "bird-secret-access-key"
"""
SECRETS = ("bw-secret-password", "cb-secret-password", "mb-secret-access-key",
           "bird-secret-access-key")


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "univoice.toml"
    path.write_text(TOML.format(db=tmp_path / "v.db"))
    monkeypatch.setenv("UNIVOICE_CONFIG", str(path))
    return path


def no_secret(result: Result) -> None:
    for secret in SECRETS:
        assert secret not in result.out + result.err


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_route_explains_every_example(cli: Callable[..., Result], configured: Path,
                                      example: str) -> None:
    result = cli("route", "+31612345678", "--flow", str(EXAMPLES / example))
    assert result.code == 0, result.err
    assert result.out.startswith("route: benelux (the destination is in NL)")
    no_secret(result)
    data = json.loads(cli("route", "+31612345678", "--flow", str(EXAMPLES / example),
                          "--json").out)
    # Whatever the example needs, every provider is either in the order or passed over
    # with a reason.
    assert sorted(data["order"] + list(data["passed_over"])) == ["bandwidth", "bird",
                                                                 "messagebird"]
    assert all(data["passed_over"].values())


def test_route_names_what_a_provider_lacks(cli: Callable[..., Result],
                                           configured: Path) -> None:
    result = cli("route", "+31612345678", "--flow", str(EXAMPLES / "conference_bridge.yaml"))
    assert "1. bandwidth (first choice)" in result.out
    assert "messagebird: passed over: provider 'messagebird' does not support conference" \
        in result.out


def test_route_explains_a_split_by_tag(cli: Callable[..., Result], configured: Path) -> None:
    firsts = {json.loads(cli("route", "+12125550123", "--tag", f"t{i}", "--json").out)
              ["order"][0] for i in range(40)}
    assert firsts == {"bandwidth", "bird"}
    result = cli("route", "+12125550123", "--tag", "t1")
    assert "split bandwidth 90 / bird 10" in result.out


def test_route_refuses_a_bad_number(cli: Callable[..., Result], configured: Path) -> None:
    result = cli("route", "0612345678")
    assert result.code == 1 and "to: '0612345678' is not an E.164 number" in result.err


def test_route_without_routing_names_the_one_provider(cli: Callable[..., Result],
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("UNIVOICE_CONFIG", raising=False)
    result = cli("route", "+31612345678")
    assert result.code == 0
    assert "no [routing] table: every call goes to 'simulator'" in result.out


def test_health_shows_breakers_shared_through_the_store(cli: Callable[..., Result],
                                                        configured: Path) -> None:
    config = Config.load(configured)
    assert config.routing is not None
    with open_store(config.flow_store) as store:  # another process's failures
        breakers = Breakers(store, config.routing.breaker)
        breakers.failure("messagebird", "ConnectFailed: refused")
        breakers.failure("messagebird", "ConnectFailed: refused")
    result = cli("providers", "--health")
    assert result.code == 0, result.err
    assert "messagebird" in result.out and "open" in result.out
    data = json.loads(cli("providers", "--health", "--json").out)
    assert data["providers"]["messagebird"]["state"] == "open"
    assert data["providers"]["messagebird"]["accepting"] is False
    assert data["providers"]["bandwidth"]["state"] == "closed"
    routed = cli("route", "+12125550123", "--tag", "x")
    assert "skipped now" not in routed.out  # bandwidth and bird are fine
    benelux = cli("route", "+31612345678")
    assert "!  messagebird: circuit open" in benelux.out
    # The webhook app serves every routed provider with its settings, and reports them.
    app = create_app()
    assert {p for p in app._providers} == {"simulator", "bandwidth", "messagebird", "bird"}
    with TestClient(app) as client:
        health = client.get("/univoice/health")
    assert health.status_code == 200
    body = health.json()
    assert body["ok"] is True and body["providers"]["messagebird"]["state"] == "open"
    for secret in SECRETS:
        assert secret not in health.text


def test_callbacks_of_every_routed_provider_are_verified_with_its_settings(
        configured: Path) -> None:
    """The configured provider is the simulator; Bandwidth is only routed to. Its calls'
    callbacks still arrive, verified with Bandwidth's own callback credentials."""
    body = {"eventType": "disconnect", "eventTime": "2026-01-01T00:00:05.000Z",
            "accountId": "9900000", "applicationId": "app-1", "from": "+19195550100",
            "to": "+12125550123", "direction": "outbound", "callId": "c-routed-1",
            "startTime": "2026-01-01T00:00:00.000Z", "cause": "hangup"}
    seen: list[object] = []
    app = create_app()
    app.on()(seen.append)
    with TestClient(app) as client:
        wrong = client.post("/univoice/bandwidth/events", json=body, auth=("cb", "nope"))
        assert wrong.status_code == 401 and seen == []
        good = client.post("/univoice/bandwidth/events", json=body,
                           auth=("cb", "cb-secret-password"))
        again = client.post("/univoice/bandwidth/events", json=body,
                            auth=("cb", "cb-secret-password"))
    assert good.status_code == 200 and again.status_code == 200
    assert [getattr(e, "call_id", None) for e in seen] == ["c-routed-1"]  # handled once


def test_the_readme_routing_example_is_a_valid_configuration(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Routing and failover", 1)[1]
    toml = section.split("```toml", 1)[1].split("```", 1)[0]
    path = tmp_path / "univoice.toml"
    path.write_text(toml)
    routing = Config.load(path).routing
    assert routing is not None
    assert routing.members() == ["bandwidth", "messagebird", "bird"]
    assert [r.name for r in routing.rules] == ["benelux", "us-migration"]
