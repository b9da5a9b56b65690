"""The routed client: built from configuration, failing over only when that is safe, and
sending a call's later operations to the provider that placed it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import univoice
from tests.reliability.harness import Sleeps, http, number, serve
from tests.support.provider_fault_server import ProviderFaultServer
from univoice.errors import (
    AmbiguousCreate,
    ConfigError,
    InvalidArguments,
    InvalidRequest,
    NoRouteAvailable,
    ServerError,
)
from univoice.events import BaseEvent, CallRouted, RouteAttemptFailed
from univoice.flow import Flow
from univoice.operations import Operation
from univoice.routing.client import AsyncRoutedVoice, RoutedVoice
from univoice.routing.config import RoutingConfig
from univoice.transport import SyncTransport

FLOW = Flow.builder().say("Hello").hangup().build()
CALLER_ID = {"bandwidth": "+19195550100", "messagebird": "+31201234567",
             "bird": "+3197058016631"}
CALLBACK = {"callback_username": "univoice", "callback_password": "cb-secret-2f9a"}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: connections are refused


def member(name: str, settings: dict[str, Any], store: str) -> univoice.Voice:
    extra = CALLBACK if name == "bandwidth" else {}
    voice = univoice.Voice(name, http=http(0.5, attempts=2), flow_store=store,
                           public_url="https://voice.example", **settings, **extra)
    voice._transport._sleep = Sleeps().sync
    return voice


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'routing.db'}"


@pytest.fixture
def messagebird() -> Iterator[ProviderFaultServer]:
    with serve("messagebird") as server:
        yield server


@pytest.fixture
def bandwidth() -> Iterator[ProviderFaultServer]:
    with serve("bandwidth") as server:
        yield server


def routed(members: dict[str, univoice.Voice], store: str, events: list[BaseEvent],
           **routing: Any) -> RoutedVoice:
    config = RoutingConfig.model_validate({"providers": list(members),
                                           "caller_id": CALLER_ID, **routing})
    return RoutedVoice(members, config, store=store, on_event=events.append)


def test_an_unreachable_provider_is_failed_over_and_the_route_recorded(
        messagebird: ProviderFaultServer, store: str) -> None:
    down = {"account_id": "9900000", "application_id": "app-1", "username": "u",
            "password": "bw-password-77", "api_url": f"http://127.0.0.1:{closed_port()}/api"}
    events: list[BaseEvent] = []
    members = {"bandwidth": member("bandwidth", down, store),
               "messagebird": member("messagebird", messagebird.settings, store)}
    with routed(members, store, events) as voice:
        call = voice.calls.create(number(1), flow=FLOW, tag="order-1")
        assert call.provider == "messagebird" and messagebird.app.placed(number(1)) == [call.id]
        assert call.route is not None and call.route.chosen == "messagebird"
        first, placed = call.route.attempts
        assert (first.provider, first.outcome, first.reason) == (
            "bandwidth", "failed_over", "unreachable")
        assert "ConnectFailed" in (first.error or "")
        assert "bw-password-77" not in (first.error or "")
        assert (placed.provider, placed.outcome) == ("messagebird", "placed")
        assert [type(e) for e in events] == [RouteAttemptFailed, CallRouted]
        assert events[0].provider == "bandwidth" and events[1].call_id == call.id
        # The call's later operations go to the provider that placed it.
        assert voice.calls.get(call.id).provider == "messagebird"
        assert voice.calls.of(call.id) is members["messagebird"].calls
        assert voice.using("bandwidth").provider.name == "bandwidth"
        with pytest.raises(ConfigError, match="not one of the routed providers"):
            voice.using("bird")


def test_bad_arguments_are_refused_before_any_request(
        messagebird: ProviderFaultServer, store: str) -> None:
    members = {"messagebird": member("messagebird", messagebird.settings, store)}
    with routed(members, store, []) as voice:
        with pytest.raises(InvalidArguments, match="to: '0612'"):
            voice.calls.create("0612", flow=FLOW)
        with pytest.raises(InvalidArguments, match="ring_timeout"):
            voice.calls.create(number(2), flow=FLOW, ring_timeout=-1)
    assert messagebird.app.seen == []


def test_a_refused_request_is_not_failed_over(
        bandwidth: ProviderFaultServer, messagebird: ProviderFaultServer, store: str) -> None:
    bandwidth.app.inject("create *", "status:400")
    members = {"bandwidth": member("bandwidth", bandwidth.settings, store),
               "messagebird": member("messagebird", messagebird.settings, store)}
    with routed(members, store, []) as voice, pytest.raises(InvalidRequest) as caught:
        voice.calls.create(number(3), flow=FLOW)
    route = caught.value.route
    assert [(a.provider, a.outcome) for a in route.attempts] == [("bandwidth", "failed")]
    assert messagebird.app.seen == []
    # Unless the configuration says a refused request may go elsewhere.
    bandwidth.app.inject("create *", "status:400")
    with routed(members | {"bandwidth": member("bandwidth", bandwidth.settings, store),
                           "messagebird": member("messagebird", messagebird.settings, store)},
                store, [], failover_on=["invalid_request", "server_error"]) as voice:
        assert voice.calls.create(number(3), flow=FLOW).provider == "messagebird"


def test_an_ambiguous_create_stops_the_route(
        bandwidth: ProviderFaultServer, messagebird: ProviderFaultServer, store: str) -> None:
    bandwidth.app.inject("create *", "reset_after", "reset_after")
    bandwidth.app.inject("lookup *", *["status:500"] * 20)
    members = {"bandwidth": member("bandwidth", bandwidth.settings, store),
               "messagebird": member("messagebird", messagebird.settings, store)}
    with routed(members, store, []) as voice, pytest.raises(AmbiguousCreate) as caught:
        voice.calls.create(number(4), flow=FLOW)
    assert caught.value.route.attempts[-1].outcome == "failed"
    assert messagebird.app.seen == []  # the call may exist at Bandwidth: no second one
    assert len(bandwidth.app.placed(number(4))) == 1


def test_when_every_provider_fails_safely_the_error_lists_each(
        bandwidth: ProviderFaultServer, messagebird: ProviderFaultServer, store: str) -> None:
    bandwidth.app.inject("create *", "status:429", "status:429")
    messagebird.app.inject("create *", "status:401")
    members = {"bandwidth": member("bandwidth", bandwidth.settings, store),
               "messagebird": member("messagebird", messagebird.settings, store)}
    conference = Flow.from_dict({"name": "c", "steps": [{"conference": {"name": "room"}}]})
    with routed(members, store, []) as voice:
        with pytest.raises(NoRouteAvailable) as caught:
            voice.calls.create(number(5), flow=FLOW)
        text = str(caught.value)
        assert "bandwidth: failed_over (RateLimited" in text
        assert "messagebird: failed_over (AuthenticationError" in text
        assert [a.reason for a in caught.value.route.attempts] == ["rate_limited", "auth"]
        # A flow beyond a provider: passed over before any request.
        asked = len(messagebird.app.seen)
        call = voice.calls.create(number(6), flow=conference)
        assert call.provider == "bandwidth"
        assert call.route is not None and call.route.attempts[-1].outcome == "placed"
        skipped = [a for a in call.route.attempts if a.outcome == "skipped"]
        assert [a.provider for a in skipped] == ["messagebird"]
        assert "conference" in (skipped[0].error or "")
    assert len(messagebird.app.seen) == asked


def test_from_config_builds_a_routed_client(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNIVOICE_CONFIG", raising=False)
    toml = tmp_path / "univoice.toml"
    toml.write_text(f"""
public_url = "https://voice.example/univoice"
flow_store = "sqlite:///{tmp_path / 'v.db'}"

[routing]
providers = ["messagebird", "bird"]
caller_id = {{ messagebird = "+31201234567" }}

[messagebird]
access_key = "mb-key-123456"

[bird]
workspace_id = "6f1c9a52-7d3e-4c1b-9a0e-2b8f4d6e1a33"
channel_id = "0d2b7c4e-5f6a-4b8c-9d1e-3f2a5b7c9e11"
access_key = "bird-key-123456"
""")
    voice = univoice.Voice.from_config(toml)
    assert isinstance(voice, RoutedVoice)
    assert list(voice.members) == ["messagebird", "bird"]
    assert "mb-key-123456" not in repr(voice)
    voice.close()
    single = univoice.Voice.from_config(toml, provider="bird")
    assert not isinstance(single, RoutedVoice) and single.provider.name == "bird"
    single.close()
    assert isinstance(univoice.AsyncVoice.from_config(toml), AsyncRoutedVoice)
    toml.write_text(toml.read_text().replace('access_key = "mb-key-123456"', ""))
    with pytest.raises(ConfigError, match=r"\[messagebird\].*access_key"):
        univoice.Voice.from_config(toml)


def _create(op_status: int, lookup: list[dict[str, Any]] | None = None) -> Any:
    """A create through a transport whose server answers ``op_status``, and the lookup."""
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(op_status, json={"error": "x"})
        return httpx.Response(200, json={"found": lookup or []})

    def parse(response: httpx.Response) -> str:
        return "made"

    def reconcile() -> Operation[str | None]:
        return Operation("calls.lookup", httpx.Request("GET", "http://p.example/calls"),
                         lambda r: (r.json()["found"] or [None])[0])

    provider = univoice.plugins.get_provider("simulator")
    transport = SyncTransport(provider, client=httpx.Client(
        transport=httpx.MockTransport(handler)), sleep=lambda s: None)
    op = Operation("calls.create", httpx.Request("POST", "http://p.example/calls"), parse,
                   creates=True, reconcile=reconcile)
    return transport, op


@pytest.mark.parametrize(("status", "created"), [(400, True), (401, True), (429, True),
                                                 (503, True), (500, True)])
def test_the_transport_marks_a_create_that_provably_created_nothing(status: int,
                                                                   created: bool) -> None:
    transport, op = _create(status)
    with pytest.raises(univoice.errors.UnivoiceError) as caught:
        transport.run(op)
    assert caught.value.nothing_created is created


def test_a_read_is_never_marked() -> None:
    transport, op = _create(503)
    from dataclasses import replace

    with pytest.raises(ServerError) as caught:
        transport.run(replace(op, creates=False, reconcile=None))
    assert caught.value.nothing_created is False
