"""Smoke test of bench/webhook_bench.py: a tiny quick run produces every row and both ratios.

It checks the benchmark runs end to end (servers up, every request answered as expected,
servers stopped); it makes no claim about any time.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("aiohttp")
pytest.importorskip("starlette")

BENCH = Path(__file__).resolve().parents[2] / "bench" / "webhook_bench.py"
ROWS = ["univoice events (SQLite)", "univoice events (Redis)", "bare Starlette",
        "univoice flow start (SQLite)", "univoice flow branch (SQLite)"]
REDIS = (shutil.which("redis-server") or Path("/usr/bin/redis-server").is_file()) and (
    importlib.util.find_spec("redis") is not None)


def test_quick_run_reports_every_row_and_both_ratios() -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--json", "--requests=20"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    rows = {row["name"]: row for row in results["rows"]}
    assert list(rows) == ROWS
    for name, row in rows.items():
        if name == "univoice events (Redis)" and not REDIS:
            assert row["skipped"]  # the reason is printed instead of a measurement
            continue
        assert row["requests_per_s"] > 0
        assert 0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"]
    sqlite, redis = results["ratios"]
    assert sqlite["target"] == ">= 0.5"
    assert isinstance(sqlite["met"], bool) and sqlite["ratio"] > 0
    assert (redis["ratio"] is not None) == bool(REDIS)
