"""Smoke test of bench/json_flow_bench.py: a quick run checks both sides build the same
call flow and reports its row; it makes no claim about any time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "json_flow_bench.py"


def test_quick_run_builds_the_same_call_flow_and_reports_a_ratio() -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    served, first, bird = result["rows"]
    assert bird["ratio"] > 0 and bird["target"] == "<= 2x"
    assert served["ratio"] > 0 and served["target"] == "<= 2x" and result["bytes"] > 500
    assert first["univoice_us"] > 0 and first["target"] == "info"
