"""Smoke test of bench/rest_bench.py: a quick run produces every row and both targets.

It checks the benchmark runs end to end (server up, every client talking to it, server
stopped); it makes no claim about any time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("aiohttp")
pytest.importorskip("httpx_aiohttp")
pytest.importorskip("urllib3")

BENCH = Path(__file__).resolve().parents[2] / "bench" / "rest_bench.py"
ROWS = {
    ("sync", "univoice Voice"), ("sync", "httpx.Client"), ("sync", "urllib3"),
    ("async x50", "univoice AsyncVoice (aiohttp)"), ("async x50", "univoice AsyncVoice (httpx)"),
    ("async x50", "aiohttp"), ("async x50", "httpx.AsyncClient"),
    ("async x50", "httpx + AiohttpTransport"),
}


def test_quick_run_reports_every_client_and_both_targets() -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--json"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert {(row["mode"], row["name"]) for row in results["rows"]} == ROWS
    for row in results["rows"]:
        assert row["us_per_request"] > 0
        assert row["requests_per_s"] > 0
    assert [t["target"] for t in results["targets"]] == ["<= 1.15", ">= 0.5"]
    assert all(isinstance(t["met"], bool) and t["ratio"] > 0 for t in results["targets"])
