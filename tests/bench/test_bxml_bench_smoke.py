"""Smoke test of bench/bxml_bench.py: a quick run builds every row's document, checks that
each is the same document as univoice's (the bench asserts it before timing), and reports
the three targets; without bandwidth-sdk its row says "not installed".

It makes no claim about any time. bandwidth-sdk is a ``bench`` extra, not a test
dependency: the first test uses it when installed, the second hides it.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bxml_bench.py"
ROWS = {"univoice", "univoice render_continuation", "univoice + Flow.from_dict",
        "univoice, flow never served", "bandwidth-sdk", "raw lxml", "string join"}
DOCUMENTS = ["first document", "after a choice"]
TARGETS = [("first document: univoice ÷ raw lxml", "<= 1.5"),
           ("first document: univoice ÷ bandwidth-sdk", "< 1"),
           ("after a choice: univoice ÷ string join", "<= 2")]
# Run the bench with bandwidth-sdk unimportable, whether or not it is installed.
WITHOUT_SDK = ("import runpy, sys; sys.modules['bandwidth'] = None; "
               f"sys.argv = [{str(BENCH)!r}, *sys.argv[1:]]; "
               f"runpy.run_path({str(BENCH)!r}, run_name='__main__')")


def run(*args: str, sdk: bool = True) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(BENCH)] if sdk else [sys.executable, "-c", WITHOUT_SDK]
    proc = subprocess.run([*command, "--quick", *args], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc


def check(results: dict[str, Any], sdk: bool) -> None:
    assert list(results["documents"]) == DOCUMENTS
    for got in results["documents"].values():
        assert set(got["us"]) == ROWS
        for name, us in got["us"].items():
            assert us is None if name == "bandwidth-sdk" and not sdk else us > 0
        # Same bytes, not only the same document: the floors write what lxml writes.
        assert all(got["byte_identical"][name] for name in ROWS - {"bandwidth-sdk"})
    assert [(t["name"], t["target"]) for t in results["targets"]] == TARGETS
    for t in results["targets"]:
        if "bandwidth-sdk" in t["name"] and not sdk:
            assert t["ratio"] is None and t["met"] is None
        else:
            assert t["ratio"] > 0 and isinstance(t["met"], bool)


def test_quick_run_builds_the_same_document_in_every_row_and_reports_targets() -> None:
    sdk = importlib.util.find_spec("bandwidth") is not None
    results = json.loads(run("--json").stdout)
    check(results, sdk)
    assert results["bandwidth_sdk"].startswith("not installed") is not sdk


def test_without_bandwidth_sdk_its_row_says_not_installed() -> None:
    results = json.loads(run("--json", sdk=False).stdout)
    check(results, sdk=False)
    assert results["bandwidth_sdk"].startswith("not installed")
    text = run(sdk=False).stdout
    assert "bandwidth-sdk" in text and "not installed" in text
    assert "target after a choice: univoice ÷ string join <= 2:" in text
