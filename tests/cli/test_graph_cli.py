"""``univoice flow graph``: Mermaid on stdout, the -o suffix picking the format, provider
marks, and clear usage errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from .conftest import Result

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
Cli = Callable[..., Result]


def test_mermaid_to_stdout_without_output(cli: Cli) -> None:
    result = cli("flow", "graph", str(ROOT / "examples" / "support_ivr.yaml"))
    assert result.code == 0, result.err
    assert result.out.startswith("flowchart TD\n")
    assert 'steps_1 -->|"press 2"| steps_1_gather_options_2_steps_0' in result.out
    assert result.err == ""


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_in_every_format(cli: Cli, tmp_path: Path, path: Path) -> None:
    for suffix in (".mmd", ".svg", ".html"):
        out = tmp_path / f"{path.stem}{suffix}"
        result = cli("flow", "graph", str(path), "-o", str(out), "--provider", "bandwidth")
        assert result.code == 0, result.err
        assert result.out == ""
        text = out.read_text(encoding="utf-8")
        if suffix == ".mmd":
            assert text.startswith("flowchart TD\n")
        elif suffix == ".svg":
            root = etree.fromstring(text.encode())
            assert root.find(".//{*}g[@data-path='steps[0]']") is not None
        else:
            assert text.startswith("<!DOCTYPE html>") and "<svg" in text


def test_markdown_output_is_a_fenced_block(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "ivr.md"
    assert cli("flow", "graph", str(ROOT / "examples" / "support_ivr.yaml"), "-o",
               str(out)).code == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("```mermaid\nflowchart TD\n") and text.endswith("```\n")


def test_provider_marks_continuations(cli: Cli) -> None:
    result = cli("flow", "graph", str(ROOT / "examples" / "support_ivr_portable.yaml"),
                 "-p", "messagebird")
    assert result.code == 0, result.err
    assert "%% messagebird runs with the webhook app" in result.out
    assert "class steps_1,steps_1_gather_options_2_steps_0 uv_continuation" in result.out


def test_unknown_suffix_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "ivr.png"
    result = cli("flow", "graph", str(ROOT / "examples" / "support_ivr.yaml"), "-o", str(out))
    assert result.code == 2
    assert "ivr.png" in result.err and ".svg" in result.err
    assert not out.exists()


def test_unknown_provider_and_invalid_flow_fail_cleanly(cli: Cli, tmp_path: Path) -> None:
    result = cli("flow", "graph", str(ROOT / "examples" / "support_ivr.yaml"), "-p", "nope")
    assert result.code == 1 and "nope" in result.err and "Traceback" not in result.err
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - say: ''\n", encoding="utf-8")
    result = cli("flow", "graph", str(bad))
    assert result.code == 1 and "steps[0].say.text" in result.err


def test_unwritable_output_fails_cleanly(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "missing" / "ivr.svg"
    result = cli("flow", "graph", str(ROOT / "examples" / "support_ivr.yaml"), "-o", str(out))
    assert result.code == 1 and "cannot write" in result.err


def test_readme_shows_the_diagram_the_command_draws(cli: Cli) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = readme.split("`univoice flow graph examples/support_ivr.yaml` prints:", 1)[1]
    block = shown.split("```mermaid\n", 1)[1].split("```", 1)[0]
    result = cli("flow", "graph", str(ROOT / "examples" / "support_ivr.yaml"))
    assert result.code == 0
    assert block == result.out
