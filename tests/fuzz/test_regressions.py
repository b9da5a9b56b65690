"""Inputs the fuzzer found that once escaped as untyped exceptions (or hung), kept as cases.

Each is the shrunk input of a failure, fixed in the parser it reached; the test holds the
parser to the documented outcome (a typed error, a refused call, ``None`` for a field).
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from univoice.errors import FlowValidationError, UnivoiceError
from univoice.flow import Flow
from univoice.simulator.script import CalleeScript
from univoice.webhooks.request import WebhookRequest

from .targets import Rest

# Flow YAML ----------------------------------------------------------------------------------


def _laughs(width: int, levels: int) -> str:
    lines = ["steps:", "  - &l0 {say: lol}"]
    for level in range(1, levels + 1):
        refs = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"  - &l{level} {{gather: {{prompt: [{{say: p}}], options: "
                     f"{{'1': [{refs}]}}}}}}")
    return "\n".join(lines) + "\n"


def test_yaml_aliases_that_expand_exponentially_are_refused_at_once() -> None:
    # 30 aliases of aliases, five levels: under 1 kB of text, 24 million steps once
    # expanded; validating them took longer than anyone waits. Now refused up front.
    started = time.perf_counter()
    with pytest.raises(FlowValidationError, match="aliases expand the document past"):
        Flow.from_yaml(_laughs(30, 5))
    assert time.perf_counter() - started < 2


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    for text in ("steps: &a [*a]\n", "steps:\n  - &g {gather: {options: {'1': [*g]}}}\n"):
        with pytest.raises(FlowValidationError, match="refers to the node that contains it"):
            Flow.from_yaml(text)


def test_aliases_that_nest_too_deep_are_refused() -> None:
    lines = ["steps:", "  - &n0 [hangup]"]
    lines += [f"  - &n{i} [*n{i - 1}]" for i in range(1, 260)]
    with pytest.raises(FlowValidationError, match="nest the document deeper"):
        Flow.from_yaml("\n".join(lines) + "\n")


def test_aliases_a_flow_really_uses_still_load() -> None:
    flow = Flow.from_yaml("steps:\n  - &hello {say: Hello.}\n  - pause: {seconds: 1}\n"
                          "  - *hello\n  - hangup\n")
    assert [step.kind for step in flow.steps] == ["say", "pause", "say", "hangup"]
    assert Flow.from_yaml(_laughs(3, 3)).steps  # 3^3 branches: small, loads


# BXML ---------------------------------------------------------------------------------------


def test_bxml_text_with_a_lone_surrogate_is_a_bxml_error() -> None:
    from univoice_bandwidth import bxml

    with pytest.raises(bxml.BxmlError, match="lone surrogate"):
        bxml.parse("<Response><SpeakSentence>\ud800</SpeakSentence></Response>")
    assert issubclass(bxml.BxmlError, UnivoiceError)  # a documented typed error now
    assert issubclass(bxml.BxmlError, ValueError)  # as before, for existing callers


# Timestamps and durations past what a datetime or a float holds -----------------------------

EDGES = ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00")


@pytest.mark.parametrize("value", EDGES)
def test_timestamps_at_the_edge_of_the_calendar_are_none(value: str) -> None:
    from univoice_bandwidth import vocab as bandwidth
    from univoice_messagebird import vocab as messagebird

    assert bandwidth.parse_time(value) is None
    assert messagebird.parse_time(value) is None


def test_a_bandwidth_callback_with_such_times_still_parses() -> None:
    from univoice_bandwidth import events

    body = json.dumps({"eventType": "disconnect", "callId": "c-1", "cause": "hangup",
                       "eventTime": EDGES[0], "answerTime": EDGES[0],
                       "endTime": EDGES[1]}).encode()
    request = WebhookRequest(method="POST", url="https://x/e", path="/e", query={},
                             headers={"content-type": "application/json"}, body=body)
    [event] = events.parse(request)
    assert event.occurred_at is None and event.duration is None  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", [10**400, -(10**400), float("inf"), float("nan")])
def test_durations_no_float_holds_are_none(value: float) -> None:
    from univoice_bandwidth import vocab as bandwidth
    from univoice_messagebird import vocab as messagebird

    assert bandwidth.parse_duration(value) is None
    assert messagebird.seconds(value) is None


def test_a_recording_with_a_400_digit_duration_is_read_without_one() -> None:
    rest = Rest("bandwidth")
    body = '{"recordingId": "r-1", "callId": "c-1", "duration": 1' + "0" * 400 + "}"
    head = json.dumps({"op": "recordings.get", "status": 200,
                       "headers": {"content-type": "application/json"}})
    assert rest.fuzz(f"{head}\n{body}".encode()) == "Recording"


def test_bird_update_answer_nested_past_the_parser_is_no_call() -> None:
    rest = Rest("bird")
    op = rest.ops["calls.update"]
    response = httpx.Response(202, content=b"[" * 100_000, request=op.request)
    assert op.parse(response) is None


# The interpreters -------------------------------------------------------------------------


def _messagebird(call_flow: dict[str, Any], fetched: str | None = None) -> str:
    from univoice_messagebird.interpreter import CallSetup, run_call

    def http(method: str, url: str, body: bytes | None, headers: dict[str, str]
             ) -> tuple[int, str]:
        return (200, fetched) if method == "GET" and fetched is not None else (200, "")

    run = run_call(CallSetup(call_id="c", from_="+31201234567", to="+31612345678",
                             call_flow=call_flow), CalleeScript(), http)
    return f"{run.trace.end_reason.value}/{run.status}"


@pytest.mark.parametrize("call_flow", [
    {"steps": 1},
    {"steps": [{"action": "pause", "options": {"length": float("inf")}}]},
    {"steps": [{"action": "pause", "options": {"length": 926854775809}}]},
    {"steps": [{"action": "record", "options": {"maxLength": 1e999}}]},
    {"steps": [{"action": "say", "options": {"payload": "hi", "repeat": 10**12}}]},
    {"steps": [{"action": "pause", "options": {"length": -5}}]},
], ids=["steps-not-a-list", "endless-pause", "30000-year-pause", "endless-record",
        "10^12-repeats", "negative-pause"])
def test_messagebird_call_flows_it_would_refuse_fail_the_call(call_flow: dict[str, Any]
                                                              ) -> None:
    assert _messagebird(call_flow) == "failed/failed"


def test_a_fetched_call_flow_nested_past_the_json_parser_is_not_followed() -> None:
    fetch = {"steps": [{"action": "fetchCallFlow", "options": {"url": "https://a/next"}}]}
    assert _messagebird(fetch, fetched="[" * 5000) == "redirected/hangup"


def _bird(commands: Any) -> str:
    from univoice_bird.interpreter import CallSetup, run_call

    return run_call(CallSetup(call_id="b", from_="+3197058016631", to="+351910648517",
                              call_flow=commands), CalleeScript()).status


@pytest.mark.parametrize("commands", [
    [{"command": "pause", "options": {"length": "inf"}}],
    [{"command": "gather", "options": {"timeout": "inf"}}],
    [{"command": "record", "options": {"maxLength": 1e999}}],
    [{"command": "say", "options": {"text": "hi", "loop": 10**12}}],
], ids=["endless-pause", "endless-gather", "endless-record", "10^12-loops"])
def test_bird_call_flows_it_would_refuse_fail_the_call(commands: list[Any]) -> None:
    assert _bird(commands) == "failed"


def test_bird_conditions_that_are_not_a_list_do_not_crash_the_call() -> None:
    assert _bird([{"command": "say", "conditions": 5, "options": {"text": "hi"}},
                  {"command": "hangup"}]) == "completed"


def test_a_bird_gather_with_a_billion_retries_ends() -> None:
    started = time.perf_counter()
    status = _bird([{"command": "gather", "options": {"retries": 10**9, "timeout": 5}}])
    assert status == "failed"  # runs past a day of call time: Bird would end it
    assert time.perf_counter() - started < 5


def test_a_next_page_link_that_is_not_a_url_is_a_provider_error() -> None:
    rest = Rest("bandwidth")
    head = json.dumps({"op": "calls.list", "status": 200, "headers": {
        "content-type": "application/json",
        "link": '<https://voice.bandwidth.com/api/v2/accounts/9900000/calls?x=\x7f>; '
                'rel="next"'}})
    from univoice.errors import ProviderError

    with pytest.raises(ProviderError, match="Link rel=next URL is not a URL"):
        rest.fuzz(f"{head}\n[]".encode())


def test_a_conference_recording_whose_media_url_is_not_a_url_is_refused_typed() -> None:
    from univoice.errors import InvalidArguments
    from univoice.models import Recording

    provider = Rest("bandwidth").provider
    with pytest.raises(InvalidArguments):
        provider.download_recording(Recording(provider="bandwidth", id="r-1",
                                              media_url="https://voice.bandwidth.com/\x7f"))


@pytest.mark.parametrize("call_id", ["c" * 70_000, "c-\x7f", "c-\ud800"],
                         ids=["70k-chars", "control", "lone-surrogate"])
def test_a_messagebird_call_id_no_url_can_carry_is_a_provider_error(call_id: str) -> None:
    """The legs of a call are read from a URL made of its id: an id that cannot be in a
    URL is a malformed answer, not an exception from httpx."""
    from univoice.errors import ProviderError

    rest = Rest("messagebird")
    head = json.dumps({"op": "calls.get", "status": 200,
                       "headers": {"content-type": "application/json"}})
    body = json.dumps({"data": [{"id": call_id, "status": "ongoing"}]})
    with pytest.raises(ProviderError, match=r"no URL can carry|lone surrogate"):
        rest.fuzz(f"{head}\n{body}".encode())


def test_a_config_file_with_a_5000_digit_number_is_a_config_error(tmp_path: Any) -> None:
    from univoice.config import Config
    from univoice.errors import ConfigError

    file = tmp_path / "univoice.toml"
    file.write_text("[http]\ntimeout = " + "9" * 5000 + "\n")
    with pytest.raises(ConfigError, match="cannot read config file"):
        Config.load(file)
