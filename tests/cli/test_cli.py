"""The `univoice` command line: exit codes, one-line errors, JSON output."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from univoice import Flow, __version__

from ..conftest import EXAMPLES

IVR = str(EXAMPLES / "support_ivr.yaml")
BRIDGE = str(EXAMPLES / "conference_bridge.yaml")
Cli = Callable[..., Any]


def test_version(cli: Cli) -> None:
    r = cli("--version")
    assert (r.code, r.out.strip()) == (0, f"univoice {__version__}")


def test_check_examples_ok(cli: Cli) -> None:
    r = cli("flow", "check", IVR, BRIDGE)
    assert r.code == 0
    assert r.out.count("ok: ") == 2


def test_check_reports_every_problem_one_line_each(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - say: ''\n  - play: ftp://x/a.wav\n  - bogus: {}\n")
    r = cli("flow", "check", str(bad))
    assert r.code == 1
    lines = r.err.strip().splitlines()
    assert lines == [
        f"error: {bad}: steps[0].say.text: must not be empty or only white space",
        f"error: {bad}: steps[1].play.url: 'ftp://x/a.wav' is not an http(s) URL with a host",
        f"error: {bad}: steps[2]: unknown step kind 'bogus'; expected one of: say, play, "
        "pause, gather, record, transfer, conference, send_digits, redirect, hangup, "
        "native",
    ]
    assert "Traceback" not in r.out + r.err


def test_check_json_mixed(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"steps": [{"say": {"text": "hi"}}, "hangup", {"say": "never"}]')
    warn = tmp_path / "warn.json"
    warn.write_text('{"steps": [{"say": {"text": "hi"}}, "hangup", {"say": "never"}]}')
    r = cli("flow", "check", "--json", IVR, str(bad), str(warn))
    assert r.code == 1
    data = json.loads(r.out)
    assert [d["valid"] for d in data] == [True, False, True]
    assert "invalid JSON" in data[1]["errors"][0]["message"]
    assert data[2]["warnings"][0]["path"] == "steps[2]"


def test_check_missing_file_is_invalid_input(cli: Cli, tmp_path: Path) -> None:
    r = cli("flow", "check", str(tmp_path / "nope.yaml"))
    assert r.code == 1
    assert "cannot read" in r.err


def test_usage_errors_exit_2(cli: Cli) -> None:
    assert cli("flow", "check").code == 2
    assert cli("simulate", IVR, "--bogus").code == 2
    assert cli("simulate", IVR, "--busy", "--machine").code == 2


def test_schema_is_json_schema_of_documents(cli: Cli) -> None:
    r = cli("flow", "schema")
    schema = json.loads(r.out)
    assert r.code == 0
    assert schema["$schema"].endswith("2020-12/schema")
    step_union = schema["properties"]["steps"]["items"]["oneOf"]
    assert {"const": "hangup"} in step_union
    assert any("say" in alt.get("properties", {}) for alt in step_union)
    assert "kind" not in schema["$defs"]["Say"]["properties"]


def test_render_simulator_prints_the_neutral_document(cli: Cli) -> None:
    r = cli("flow", "render", IVR, "--provider", "simulator")
    assert r.code == 0
    assert json.loads(r.out) == Flow.from_yaml(IVR).to_dict()


def test_render_unknown_provider_one_line(cli: Cli) -> None:
    r = cli("flow", "render", IVR, "--provider", "nope")
    assert r.code == 1
    from univoice.plugins import provider_names

    assert r.err.strip().splitlines() == [
        f"error: no provider named 'nope' is installed; installed: "
        f"{', '.join(provider_names())}"]


def test_simulate_press_order_with_silence(cli: Cli) -> None:
    r = cli("simulate", IVR, "--silence", "--press", "3")
    assert r.code == 0
    text = r.out
    assert text.index("leave a message") > text.index("For sales")
    # The first attempt was silent, so the prompt played twice before the voicemail.
    assert text.count("For sales, press 1") == 2


def test_simulate_nested_menu_json(cli: Cli) -> None:
    r = cli("simulate", IVR, "--press", "2", "--press", "1", "--json")
    assert r.code == 0
    trace = json.loads(r.out)
    said = [e["data"].get("text", "") for e in trace["events"] if e["kind"] == "said"]
    assert "Connecting you to billing." in said
    assert trace["events"][-1]["kind"] == "completed"


def test_simulate_no_answer_and_transfer_no_answer(cli: Cli) -> None:
    r = cli("simulate", IVR, "--no-answer", "--json")
    assert json.loads(r.out)["end_reason"] == "no_answer"
    r = cli("simulate", IVR, "--press", "1", "--transfer-no-answer", "--json")
    kinds = [e["kind"] for e in json.loads(r.out)["events"]]
    assert "transfer_no_answer" in kinds
    assert "recorded" in kinds


def test_simulate_invalid_flow_exit_1(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: [ {say: 'Hi {who}'} ]")
    r = cli("simulate", str(bad))
    assert r.code == 1
    assert "reads variable 'who' before any gather sets it" in r.err


def test_demo_runs_three_callers_and_lists_providers(cli: Cli) -> None:
    r = cli("demo", "--json")
    assert r.code == 0
    data = json.loads(r.out)
    assert len(data["calls"]) == 3
    assert data["providers"]["simulator"]["can_run"] is True
    reasons = {c["trace"]["end_reason"] for c in data["calls"]}
    assert reasons == {"hangup"}
    human = cli("demo")
    assert human.code == 0
    assert "Which installed providers can run this flow" in human.out


def test_providers_json(cli: Cli) -> None:
    r = cli("providers", "--json")
    data = json.loads(r.out)
    assert "simulator" in data["providers"]
    assert "gather.menu" in data["providers"]["simulator"]["features"]
    assert data["broken"] == {}
