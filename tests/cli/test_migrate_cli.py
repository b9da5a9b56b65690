"""``univoice port`` and the parts of ``univoice convert`` that need no importer."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from univoice.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_port_tells_how_each_provider_runs_a_flow() -> None:
    result = runner.invoke(app, ["port", str(ROOT / "examples" / "support_ivr.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["provider"]: row for row in json.loads(result.stdout)}
    assert rows["simulator"]["runs"] == "natively"
    assert rows["bandwidth"]["runs"] == "with_app"
    assert rows["messagebird"]["runs"] == "cannot"
    assert rows["messagebird"]["step"] == "steps[1].gather.options['1'].steps[1].transfer"
    assert rows["messagebird"]["detail"].startswith("transfer.no_answer")
    portable = runner.invoke(app, ["port", str(ROOT / "examples" / "support_ivr_portable.yaml"),
                                   "--json"])
    assert {row["runs"] for row in json.loads(portable.stdout)} == {"natively", "with_app"}


def test_port_table_names_the_step_in_full() -> None:
    result = runner.invoke(app, ["port", str(ROOT / "examples" / "conference_bridge.yaml")],
                           env={"COLUMNS": "240"})
    assert result.exit_code == 0, result.output
    assert "steps[1].gather.options['1'].steps[1].conference" in result.stdout
    assert "…" not in result.stdout  # folded when narrow, never cut


def test_a_native_step_of_another_provider_cannot_run(tmp_path: Path) -> None:
    flow = tmp_path / "native.yaml"
    flow.write_text("steps:\n  - native: {provider: bandwidth, document: '<SendDtmf>1"
                    "</SendDtmf>'}\n  - hangup\n")
    rows = {r["provider"]: r for r in json.loads(
        runner.invoke(app, ["port", str(flow), "--json"]).stdout)}
    assert rows["simulator"]["runs"] == "cannot"
    assert rows["simulator"]["step"] == "steps[0].native"
    assert "bandwidth" in rows["messagebird"]["detail"]


def test_convert_usage_errors() -> None:
    assert runner.invoke(app, ["convert", "x.xml"]).exit_code == 2  # no --from
    assert runner.invoke(app, ["convert", "--from", "bandwidth"]).exit_code == 2  # no input
    missing = runner.invoke(app, ["convert", "/nonexistent/x.xml", "--from", "bandwidth"])
    assert missing.exit_code == 1
    assert "Traceback" not in missing.output
