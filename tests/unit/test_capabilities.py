"""``features_of``: which features a flow uses, and where; ``Capabilities.missing``."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from univoice.capabilities import ALL_FEATURES, Capabilities, Feature, Resource, features_of
from univoice.flow import Flow, Gather
from univoice.testing.flows import flows

F = Feature
NL, UK, SIP = "+31201234567", "+442071838750", "sip:agent@example.com"
URL = "https://media.example.com/a.mp3"


def used(*steps: Any, **flow: Any) -> dict[Feature, list[str]]:
    return features_of(Flow.from_dict({**flow, "steps": list(steps)}))


CASES: list[tuple[str, dict[str, Any], dict[Feature, list[str]]]] = [
    ("say", {"steps": [{"say": "Hi"}]}, {F.SAY: ["steps[0].say"]}),
    ("say options", {"steps": [{"say": {"text": "Hi", "voice": "alice", "gender": "male",
                                         "loop": 2, "language": "en-GB"}}]},
     {F.SAY: ["steps[0].say"], F.SAY_VOICE: ["steps[0].say"],
      F.SAY_GENDER: ["steps[0].say"], F.SAY_LOOP: ["steps[0].say"]}),
    ("loop of one is no loop", {"steps": [{"say": {"text": "Hi", "loop": 1}}]},
     {F.SAY: ["steps[0].say"]}),
    ("play", {"steps": [{"play": URL}, {"play": {"url": URL, "loop": 3}}]},
     {F.PLAY: ["steps[0].play", "steps[1].play"], F.PLAY_LOOP: ["steps[1].play"]}),
    ("menu", {"steps": [{"gather": {"prompt": "Press 1", "options": {"1": [{"say": "One"}]}}}]},
     {F.GATHER_MENU: ["steps[0].gather"],
      F.SAY: ["steps[0].gather.prompt[0].say", "steps[0].gather.options['1'].steps[0].say"]}),
    ("nested menu", {"steps": [{"gather": {"options": {"1": [
        {"gather": {"options": {"2": ["hangup"]}}}]}}}]},
     {F.GATHER_MENU: ["steps[0].gather"],
      F.GATHER_NESTED_MENU: ["steps[0].gather.options['1'].steps[0].gather"],
      F.HANGUP: ["steps[0].gather.options['1'].steps[0].gather.options['2'].steps[0].hangup"]}),
    ("menu in no_input is nested", {"steps": [{"gather": {
        "options": {"1": []}, "no_input": [{"gather": {"options": {"1": []}}}],
        "invalid": [{"gather": {"options": {"1": []}}}]}}]},
     {F.GATHER_MENU: ["steps[0].gather"],
      F.GATHER_NESTED_MENU: ["steps[0].gather.no_input.steps[0].gather",
                             "steps[0].gather.invalid.steps[0].gather"]}),
    ("menu after a menu is not nested", {"steps": [
        {"gather": {"options": {"1": []}}}, {"gather": {"options": {"1": []}}}]},
     {F.GATHER_MENU: ["steps[0].gather", "steps[1].gather"]}),
    ("menu in a transfer's no_answer", {"steps": [
        {"transfer": {"targets": NL, "no_answer": [{"gather": {"options": {"1": []}}}]}}]},
     {F.TRANSFER: ["steps[0].transfer"], F.TRANSFER_NO_ANSWER: ["steps[0].transfer"],
      F.GATHER_MENU: ["steps[0].transfer.no_answer.steps[0].gather"]}),
    ("menu in a transfer in a menu", {"steps": [{"gather": {"options": {"1": [
        {"transfer": {"targets": NL, "no_answer": [{"gather": {"options": {"1": []}}}]}}]}}}]},
     {F.GATHER_MENU: ["steps[0].gather"],
      F.TRANSFER: ["steps[0].gather.options['1'].steps[0].transfer"],
      F.TRANSFER_NO_ANSWER: ["steps[0].gather.options['1'].steps[0].transfer"],
      F.GATHER_NESTED_MENU: [
          "steps[0].gather.options['1'].steps[0].transfer.no_answer.steps[0].gather"]}),
    ("free input", {"steps": [{"gather": {"variable": "pin", "retries": 2,
                                          "finish_on_key": "#"}}]},
     {F.GATHER_FREE_INPUT: ["steps[0].gather"], F.GATHER_RETRIES: ["steps[0].gather"],
      F.GATHER_FINISH_KEY: ["steps[0].gather"]}),
    ("record", {"steps": ["record", {"record": {"transcribe": True, "silence_timeout": 3}}]},
     {F.RECORD: ["steps[0].record", "steps[1].record"],
      F.RECORD_TRANSCRIBE: ["steps[1].record"], F.RECORD_SILENCE_TIMEOUT: ["steps[1].record"]}),
    ("transfer", {"steps": [{"transfer": NL}, {"transfer": {
        "targets": [UK, SIP], "caller_id": NL, "record": True, "no_answer": ["hangup"]}}]},
     {F.TRANSFER: ["steps[0].transfer", "steps[1].transfer"],
      F.TRANSFER_MULTIPLE: ["steps[1].transfer"], F.TRANSFER_SIP: ["steps[1].transfer"],
      F.TRANSFER_CALLER_ID: ["steps[1].transfer"], F.TRANSFER_RECORD: ["steps[1].transfer"],
      F.TRANSFER_NO_ANSWER: ["steps[1].transfer"],
      F.HANGUP: ["steps[1].transfer.no_answer.steps[0].hangup"]}),
    ("one sips target", {"steps": [{"transfer": "sips:a@example.com"}]},
     {F.TRANSFER: ["steps[0].transfer"], F.TRANSFER_SIP: ["steps[0].transfer"]}),
    ("empty no_answer is still a no_answer", {"steps": [{"transfer": {"targets": NL,
                                                                     "no_answer": []}}]},
     {F.TRANSFER: ["steps[0].transfer"], F.TRANSFER_NO_ANSWER: ["steps[0].transfer"]}),
    ("conference", {"steps": [{"conference": "a"}, {"conference": {
        "name": "b", "muted": True, "hold_music": URL, "record": True, "end_on_exit": True,
        "start_on_enter": False}}]},
     {F.CONFERENCE: ["steps[0].conference", "steps[1].conference"],
      F.CONFERENCE_MUTED: ["steps[1].conference"],
      F.CONFERENCE_HOLD_MUSIC: ["steps[1].conference"],
      F.CONFERENCE_RECORD: ["steps[1].conference"],
      F.CONFERENCE_END_ON_EXIT: ["steps[1].conference"],
      F.CONFERENCE_WAIT: ["steps[1].conference"]}),
    ("send digits", {"steps": [{"send_digits": "1w2"}]}, {F.SEND_DIGITS: ["steps[0].send_digits"]}),
    ("redirect", {"steps": [{"redirect": URL}]}, {F.REDIRECT: ["steps[0].redirect"]}),
    ("redirect get", {"steps": [{"redirect": {"url": URL, "method": "GET"}}]},
     {F.REDIRECT: ["steps[0].redirect"], F.REDIRECT_GET: ["steps[0].redirect"]}),
    ("hangup", {"steps": ["hangup"]}, {F.HANGUP: ["steps[0].hangup"]}),
    ("flow record", {"record": True, "steps": ["hangup"]},
     {F.FLOW_RECORD: ["record"], F.HANGUP: ["steps[0].hangup"]}),
    ("machine detection", {"machine_detection": True, "steps": ["hangup"]},
     {F.FLOW_MACHINE_DETECTION: ["machine_detection"], F.HANGUP: ["steps[0].hangup"]}),
    ("on_machine", {"machine_detection": {"on_machine": [
        {"say": "Call back"}, {"gather": {"options": {"1": []}}}]}, "steps": ["hangup"]},
     {F.FLOW_MACHINE_DETECTION: ["machine_detection"],
      F.SAY: ["machine_detection.on_machine.steps[0].say"],
      F.GATHER_MENU: ["machine_detection.on_machine.steps[1].gather"],
      F.HANGUP: ["steps[0].hangup"]}),
]


@pytest.mark.parametrize(("doc", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_features_of(doc: dict[str, Any], expected: dict[Feature, list[str]]) -> None:
    assert features_of(Flow.from_dict(doc)) == expected


def test_every_feature_has_a_case() -> None:
    covered = {feature for _, _, expected in CASES for feature in expected}
    # PAUSE: see test_pause_is_reported_as_pause.
    assert ALL_FEATURES - covered == {F.PAUSE}


def test_pause_is_reported_as_pause() -> None:
    assert used({"pause": 1}, {"gather": {"variable": "x", "prompt": {"pause": 2}}}) == {
        F.PAUSE: ["steps[0].pause", "steps[1].gather.prompt[0].pause"],
        F.GATHER_FREE_INPUT: ["steps[1].gather"],
    }


def test_paths_are_in_document_order() -> None:
    inner = {"gather": {"options": {"1": []}, "retries": 1, "finish_on_key": "#"}}
    found = used({"gather": {"options": {"1": [inner]}, "retries": 2, "finish_on_key": "*"}})
    outer, nested = "steps[0].gather", "steps[0].gather.options['1'].steps[0].gather"
    assert found[F.GATHER_RETRIES] == [outer, nested]
    assert found[F.GATHER_FINISH_KEY] == [outer, nested]


def test_flow_level_voice_and_gender_count() -> None:
    found = used({"say": "Hi"}, voice="Polly.Joanna", gender="female")
    assert found[F.SAY_VOICE] == ["voice"]
    assert found[F.SAY_GENDER] == ["gender"]


# Capabilities ----------------------------------------------------------------------------

IVR = Flow.from_dict({"record": True, "steps": [
    {"gather": {"options": {"1": [{"gather": {"options": {"2": [{"transfer": [NL, SIP]}]}}}],
                "3": ["record"]}}},
    "hangup",
]})


def test_missing_lists_what_the_provider_lacks_with_paths() -> None:
    caps = Capabilities.all_but([F.GATHER_NESTED_MENU, F.TRANSFER_SIP, F.CONFERENCE])
    assert caps.missing(IVR) == {
        F.GATHER_NESTED_MENU: ["steps[0].gather.options['1'].steps[0].gather"],
        F.TRANSFER_SIP: [
            "steps[0].gather.options['1'].steps[0].gather.options['2'].steps[0].transfer"],
    }


def test_a_provider_with_everything_misses_nothing() -> None:
    assert Capabilities.all_but().missing(IVR) == {}
    assert Capabilities(ALL_FEATURES).missing(IVR) == {}


def test_a_provider_with_nothing_misses_everything_used() -> None:
    assert Capabilities(frozenset()).missing(IVR) == features_of(IVR)
    assert set(features_of(IVR)) == {
        F.FLOW_RECORD, F.GATHER_MENU, F.GATHER_NESTED_MENU, F.TRANSFER,
        F.TRANSFER_MULTIPLE, F.TRANSFER_SIP, F.RECORD, F.HANGUP}


def test_capabilities_are_data() -> None:
    caps = Capabilities.all_but([F.REDIRECT_GET], resources=[Resource.CALLS_CREATE],
                                notes={F.REDIRECT_GET: "POST only"})
    assert F.REDIRECT_GET not in caps.features
    assert caps.features == ALL_FEATURES - {F.REDIRECT_GET}
    assert caps.resources == frozenset({Resource.CALLS_CREATE})
    assert caps.notes == {F.REDIRECT_GET: "POST only"}
    assert caps == Capabilities.all_but([F.REDIRECT_GET], resources=[Resource.CALLS_CREATE],
                                        notes={F.REDIRECT_GET: "POST only"})
    with pytest.raises(AttributeError):
        caps.features = frozenset()  # type: ignore[misc]


def test_feature_names_are_stable_strings() -> None:
    assert F.GATHER_NESTED_MENU.value == "gather.nested_menu"
    assert F("transfer.sip") is F.TRANSFER_SIP
    assert len({f.value for f in Feature}) == len(Feature)


# Properties over generated flows -----------------------------------------------------------


def _paths(flow: Flow) -> set[str]:
    """Every path a feature may name: each step (with its kind) and each prompt step."""
    paths = {"record", "machine_detection"}
    for path, step in flow.walk():
        here = f"{path}.{step.kind}"
        paths.add(here)
        if isinstance(step, Gather):
            paths.update(f"{here}.prompt[{i}].{p.kind}" for i, p in enumerate(step.prompt))
    return paths


@settings(deadline=None, max_examples=100)
@given(flows())
def test_features_name_real_steps(flow: Flow) -> None:
    found = features_of(flow)
    assert set(found) <= ALL_FEATURES
    paths = _paths(flow) | {"voice", "gender"}  # flow-level say defaults are features too
    for feature, where in found.items():
        assert where, feature
        assert set(where) <= paths, feature
        assert where == sorted(where, key=list(_document_order(flow)).index), feature


def _document_order(flow: Flow) -> list[str]:
    order = ["record", "voice", "gender", "machine_detection"]
    for path, step in flow.walk():
        here = f"{path}.{step.kind}"
        order.append(here)
        if isinstance(step, Gather):
            order += [f"{here}.prompt[{i}].{p.kind}" for i, p in enumerate(step.prompt)]
    return order


@settings(deadline=None, max_examples=100)
@given(flows())
def test_every_step_is_reported_under_its_kind(flow: Flow) -> None:
    found = features_of(flow)
    for path, step in flow.walk():
        if step.kind == "pause":
            continue  # reported as hangup: see test_pause_is_reported_as_pause
        feature = F.GATHER_FREE_INPUT if isinstance(step, Gather) and step.variable else (
            F.GATHER_MENU if isinstance(step, Gather) else F(step.kind))
        nested = feature is F.GATHER_MENU and f"{path}.gather" in found.get(
            F.GATHER_NESTED_MENU, [])
        assert f"{path}.{step.kind}" in found.get(feature, []) or nested, (path, feature)


@settings(deadline=None, max_examples=100)
@given(flows(), st.sets(st.sampled_from(sorted(ALL_FEATURES))))
def test_missing_is_features_of_minus_the_declared(flow: Flow, declared: set[Feature]
                                                   ) -> None:
    caps = Capabilities(frozenset(declared))
    assert caps.missing(flow) == {f: p for f, p in features_of(flow).items()
                                  if f not in declared}
