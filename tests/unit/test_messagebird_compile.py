"""The MessageBird call-flow compiler: each step's JSON, inline menus, continuation through
the app, limits, and the documented samples run by the interpreter."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from univoice.errors import FlowValidationError, UnsupportedFeature
from univoice.flow import Flow
from univoice.simulator import CalleeScript, TraceKind
from univoice_messagebird import MessageBirdProvider, compile
from univoice_messagebird.interpreter import CallSetup, run_call

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT.parent / "shared" / "reference" / "samples" / "messagebird"
PROVIDER = MessageBirdProvider.offline()
LINKS = compile.Links(flow="https://app.example/univoice/messagebird/flow/F1/", key="k")


def flow_json(steps: list[Any], **flow: Any) -> dict[str, Any]:
    parsed = Flow.from_dict({**flow, "steps": steps})
    PROVIDER.check_flow(parsed)
    return compile.start(parsed, LINKS)


def test_steps_map_to_actions_with_stable_ids() -> None:
    out = flow_json([
        {"say": {"text": "Hallo", "language": "nl-NL", "gender": "male", "loop": 12}},
        {"play": "https://m.example/a.wav"}, {"pause": 2},
        {"record": {"max_length": 30, "silence_timeout": 3, "transcribe": True}},
        {"transfer": {"targets": "+31201234567", "record": True}},
        {"redirect": "https://mine.example/next"}], name="Demo", record=True)
    assert out["title"] == "Demo" and out["record"] is True
    assert [(s["id"], s["action"], s.get("options")) for s in out["steps"]] == [
        ("s0", "say", {"payload": "Hallo", "language": "nl-NL", "voice": "male",
                       "repeat": 10}),
        ("s1", "say", {"payload": "Hallo", "language": "nl-NL", "voice": "male",
                       "repeat": 2}),
        ("s2", "play", {"media": "https://m.example/a.wav"}),
        ("s3", "pause", {"length": 2}),
        ("s4", "record", {"maxLength": 30, "timeout": 3, "finishOnKey": "#",
                          "transcribe": True, "transcribeLanguage": "en-US"}),
        ("s5", "transfer", {"destination": "31201234567", "record": "both"}),
        ("s6", "fetchCallFlow", {"url": "https://mine.example/next"}),
    ]


def test_running_out_of_steps_ends_with_an_explicit_hangup() -> None:
    assert flow_json([{"say": "Hi"}])["steps"][-1] == {"id": "s1", "action": "hangup"}


def test_a_simple_menu_runs_inline_with_conditions() -> None:
    flow = Flow.from_dict({"steps": [{"gather": {
        "prompt": "Press 1 or 2", "timeout": 4,
        "options": {"1": [{"say": "One"}], "2": [{"say": "Two"}, "hangup"]},
        "no_input": [{"say": "Nothing"}], "invalid": [{"say": "Wrong"}]}},
        {"say": "After"}]})
    assert not compile.needs_app(flow)
    steps = compile.start(flow, LINKS)["steps"]
    variable = compile.KEYS_VARIABLE + "_" + hashlib.sha256(b"steps[0]").hexdigest()[:10]
    listen = {"onKeypressGoto": "s0-keys", "onKeypressVar": variable, "maxNumKeys": 1}
    assert steps[0] == {"id": "s0", "action": "say", **listen, "options": {
        "payload": "Press 1 or 2", "language": "en-US"}}
    assert steps[1] == {"id": "s1", "action": "pause", **listen, "options": {"length": 4}}
    # Where the keys jump and no key falls through: the no-input steps hold when the
    # variable is empty (nothing, or only the end key, was pressed).
    assert steps[2]["id"] == "s0-keys" and steps[2]["options"]["payload"] == "Nothing"
    assert steps[2]["conditions"] == [{"variable": variable, "operator": "==", "value": ""}]
    assert steps[3]["conditions"] == [{"variable": variable, "operator": "==", "value": "1"}]
    assert [s["action"] for s in steps[4:6]] == ["say", "hangup"]
    assert steps[4]["conditions"] == steps[5]["conditions"] == [
        {"variable": variable, "operator": "==", "value": "2"}]
    assert steps[6]["conditions"] == [{"variable": variable, "operator": "!=", "value": v}
                                      for v in ("", "1", "2")]
    assert steps[7]["options"]["payload"] == "After" and "conditions" not in steps[7]


@pytest.mark.parametrize("gather", [
    {"options": {"1": []}, "retries": 1},          # a re-prompt loop
    {"variable": "pin"},                            # free input read later
    {"options": {"1": [{"gather": {"options": {"2": []}}}]}},  # a nested menu
])
def test_what_cannot_run_inline_continues_through_the_app(gather: dict[str, Any]) -> None:
    flow = Flow.from_dict({"steps": [{"say": "Hi"}, {"gather": gather}]})
    assert compile.needs_app(flow)
    steps = compile.start(flow, LINKS)["steps"]
    fetches = [s["options"]["url"] for s in steps if s["action"] == "fetchCallFlow"]
    assert len(fetches) == 2 and all(u.startswith(LINKS.flow + "steps%5B1%5D?") for u in fetches)
    assert "input=none" in fetches[0] and "input" not in fetches[1]
    assert steps[-1]["id"] == steps[-3]["onKeypressGoto"]  # the keys' jump


def test_continuation_urls_carry_a_token_over_what_they_name() -> None:
    url = LINKS.node("steps[1]", on="gather", attempt=2)
    token = url.split("token=")[1]
    assert token == compile.url_token("k", "F1", "steps[1]", {"on": "gather",
                                                               "attempt": "2"})
    assert token != compile.url_token("k", "F1", "steps[1]", {"on": "gather",
                                                               "attempt": "3"})
    assert token != compile.url_token("other", "F1", "steps[1]", {"on": "gather",
                                                                   "attempt": "2"})


@pytest.mark.parametrize(("step", "words"), [
    ({"pause": 1.5}, "whole seconds"),
    ({"gather": {"timeout": 2.5, "variable": "x"}}, "whole seconds"),
    ({"record": {"finish_on_key": "5"}}, "# or * only"),
    ({"record": {"transcribe": True, "transcribe_language": "ja-JP"}}, "no transcription"),
    ({"say": {"text": "Hej", "language": "fi-FI"}}, "no voice speaks 'fi-FI'"),
    ({"transfer": {"targets": "+31201234567", "timeout": 20}}, "timeout cannot be set"),
    ({"say": "\x07"}, "nothing to speak"),
])
def test_values_outside_messagebirds_limits_name_the_step(step: dict[str, Any],
                                                          words: str) -> None:
    with pytest.raises(FlowValidationError) as caught:
        PROVIDER.check_flow(Flow.from_dict({"steps": [{"say": "first"}, step]}))
    [issue] = caught.value.issues
    assert issue.path == "steps[1]" and words in issue.message
    assert issue.message.startswith("MessageBird: ")


@pytest.mark.parametrize(("step", "feature"), [
    ({"conference": "room"}, "conference"),
    ({"send_digits": "12"}, "send_digits"),
    ({"say": {"text": "Hi", "voice": "alice"}}, "say.voice"),
    ({"transfer": ["+31201234567", "+31201234568"]}, "transfer.multiple_targets"),
    ({"transfer": {"targets": "+31201234567", "no_answer": ["hangup"]}}, "transfer.no_answer"),
])
def test_what_the_api_lacks_is_unsupported(step: dict[str, Any], feature: str) -> None:
    with pytest.raises(UnsupportedFeature) as caught:
        PROVIDER.check_flow(Flow.from_dict({"steps": [step]}))
    assert caught.value.feature == feature and caught.value.path == f"steps[0].{next(iter(step))}"
    assert "bandwidth" in caught.value.alternatives or "simulator" in caught.value.alternatives


def test_rendering_is_deterministic_json() -> None:
    flow = Flow.load(ROOT / "examples" / "support_ivr_portable.yaml")
    first = PROVIDER.compile_flow(flow)
    assert first.body == MessageBirdProvider.offline().compile_flow(flow).body
    assert json.loads(first.body) == first.native and first.media_type == "application/json"


# Documented call flows run in the interpreter -----------------------------------------


def no_http(method: str, url: str, body: bytes | None,
            headers: dict[str, str]) -> tuple[int, str]:
    return 404, ""


@pytest.mark.parametrize("name", ["go_callflow_say_pause_record.json",
                                  "seed_callflow_request_transfer_hangup.json",
                                  "php_callflow_create_request.json"])
def test_documented_call_flows_run(name: str) -> None:
    document = json.loads((SAMPLES / name).read_text())
    flow = document.get("data", [document])[0] if "data" in document else document
    flow = flow.get("callFlow", flow)
    run = run_call(CallSetup(call_id="c1", from_="+31201234567", to="+31612345678",
                             call_flow=flow), CalleeScript(), no_http)
    assert run.trace.events[-1].kind == TraceKind.COMPLETED
    kinds = {e.kind for e in run.trace.events}
    assert kinds & {TraceKind.SAID, TraceKind.TRANSFER_STARTED}


def test_the_java_fixture_transfer_with_every_option_runs() -> None:
    data = json.loads((SAMPLES / "java_callflow_view_all_options.json").read_text())
    run = run_call(CallSetup(call_id="c1", from_="+31201234567", to="+31612345678",
                             call_flow=data["data"][0]), CalleeScript(), no_http)
    started = run.trace.of(TraceKind.TRANSFER_STARTED)[0]
    assert started.data["targets"] == ["+31612345678"]
    assert run.trace.of(TraceKind.RECORDED)  # "record": true records the whole call


@pytest.mark.parametrize("flow", [{}, {"steps": "nope"}, {"steps": [1, None, "x"]},
                                  {"steps": [{"action": "dance"}]},
                                  {"steps": [{"action": "say", "onKeypressGoto": "nowhere",
                                              "options": {"payload": "x"}},
                                             {"action": "pause", "onKeypressGoto": "nowhere",
                                              "options": {"length": "oops"}}]}])
def test_malformed_call_flows_end_the_call_instead_of_crashing(flow: dict[str, Any]) -> None:
    run = run_call(CallSetup(call_id="c1", from_="+31201234567", to="+31612345678",
                             call_flow=flow), CalleeScript(keys=["1"]), no_http)
    assert run.trace.events[-1].kind == TraceKind.COMPLETED
