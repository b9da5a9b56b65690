"""Smoke test of bench/run.py: a quick run of every group gives every row a figure and a
well-formed table; a peer that is not installed gives its row "not installed" instead of a
crash (CI installs only the test extra). It makes no claim about any time.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("aiohttp")
pytest.importorskip("urllib3")

RUN = Path(__file__).resolve().parents[2] / "bench" / "run.py"
GROUPS = {"cold", "BXML", "TwiML", "JSON", "flow", "REST", "webhook"}
VERSIONS = {"univoice", "httpx", "lxml", "pydantic", "bandwidth-sdk", "twilio", "aiohttp"}
TARGET = re.compile(r"(<=|<|>=) \d+(\.\d+)?(x| ms)")
# The script as run, its peers unimportable whether or not they are installed.
WITHOUT_PEERS = ("import runpy, sys; sys.modules['bandwidth'] = sys.modules['twilio'] = None; "
                 f"sys.path.insert(0, {str(RUN.parent)!r}); "
                 f"sys.argv = [{str(RUN)!r}, *sys.argv[1:]]; "
                 f"runpy.run_path({str(RUN)!r}, run_name='__main__')")


def run(*args: str, peers: bool = True) -> str:
    command = [sys.executable, str(RUN)] if peers else [sys.executable, "-c", WITHOUT_PEERS]
    proc = subprocess.run([*command, "--quick", *args], capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def check(row: dict[str, Any]) -> None:
    """A figure for univoice; the peer's, or why there is none; a ratio with both."""
    assert row["univoice"]["median"] > 0, row
    assert row["univoice"]["low"] <= row["univoice"]["median"] <= row["univoice"]["high"]
    if row["theirs"] is None:
        assert "not installed (pip install -e '.[bench]')" in row["peer"] or \
            row["peer"] == "(no peer)", row
        assert row["ratio"] is None
    else:
        assert row["theirs"]["median"] > 0 and row["ratio"]["median"] > 0, row
    if row["target"] is None:
        assert row["met"] is None
    else:
        assert TARGET.fullmatch(row["target"]), row["target"]
        judged = row["ratio"] is not None or row["target"].endswith("ms")
        assert isinstance(row["met"], bool) if judged else row["met"] is None, row


def test_every_row_has_a_figure_and_the_machine_is_described() -> None:
    results = json.loads(run("--json"))
    rows = results["rows"]
    assert {row["group"] for row in rows} == GROUPS
    for row in rows:
        check(row)
    about = results["machine"]
    assert about["cpus"] >= 1 and about["python"] and about["platform"]
    assert set(about["versions"]) >= VERSIONS


def test_peers_not_installed_are_said_so() -> None:
    rows = json.loads(run("--json", "--only", "cold,bxml,rest", peers=False))["rows"]
    for row in rows:
        check(row)
    absent = [row for row in rows if row["theirs"] is None]
    assert {row["group"] for row in absent} == {"cold", "BXML", "TwiML", "REST"}
    assert all(row["peer"].startswith(("bandwidth-sdk", "twilio", "import bandwidth",
                                       "import twilio")) for row in absent)


def test_the_table_has_one_line_a_row_with_every_column() -> None:
    text = run("--only", "json,flow")
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("measured "))
    heading, body = lines[start], lines[start + 1:lines.index("", start)]
    columns = [heading.index(name) for name in
               ("univoice", "peer or floor", "ratio (min-max)", "target", "met")]
    assert len(body) == 6
    for line in body:
        assert line.startswith(("JSON: ", "flow: "))
        assert all(line[at - 2:at] == "  " and line[at] != " " for at in columns), line
        assert line.split()[-1] in {"yes", "MISSED", "-"}
    assert any(line.startswith("versions: univoice ") for line in lines[:start])
    assert lines[-1].startswith("targets met: ")
