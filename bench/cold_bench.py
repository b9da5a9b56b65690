"""Cold start: what a fresh interpreter (a serverless function's first request) pays for
univoice before its first piece of work, against its peers, each in fresh processes.

    python bench/cold_bench.py [--json] [--quick]

Each program runs in a new interpreter that times itself from its first statement to its
last, so a figure is what the program adds over a bare interpreter start (measured beside,
as the wall time of ``python -c pass``; timing inside the child leaves out the start and
the teardown, which made a subtraction of two wall times noisier than the figure here).
Bytecode is cached, as for an installed package or a built function image: a first,
untimed run of each program writes it (under a temporary ``PYTHONPYCACHEPREFIX``).
Programs run round-robin, so a burst of load hits every program of that round alike.
  import univoice                 ``import univoice`` (lazy: it imports what it uses)
  first BXML document             ``Voice.from_config()`` of a Bandwidth ``univoice.toml``,
                                  ``Flow.load`` of the support line, ``compile_flow``:
                                  the first document's bytes
  peers                           ``import twilio.rest``, ``import bandwidth`` (the SDK's
                                  package), and the SDK building the same first document
                                  with its BXML classes, import included
  dependencies                    importing the third-party packages the first document
                                  needs (httpx, pydantic, pydantic-settings, lxml, PyYAML,
                                  phonenumbers, pluggy): the floor under that row
Targets: ``import univoice`` under 100 ms; the first BXML document under 300 ms. Peers not
installed are reported so. Nothing here is a test: no time is asserted.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _measure import Spread, cli

ROOT = Path(__file__).resolve().parents[1]
FLOW = ROOT / "examples" / "support_ivr.yaml"
FULL, QUICK = 7, 2  # fresh processes per program
CONFIG = """\
provider = "bandwidth"
public_url = "https://voice.example.com"
flow_store = "sqlite:///cold.sqlite3"
[bandwidth]
account_id = "9900000"
application_id = "04e88489-df02-4e34-a0ee-27a91849555f"
username = "api-user"
password = "api-password"
callback_username = "univoice"
callback_password = "cb-Secret-0123456789"
"""
TIMED = "import time as _t\n_s = _t.perf_counter()\n{code}\nprint(_t.perf_counter() - _s)\n"
FIRST_DOCUMENT = f"""\
import univoice
voice = univoice.Voice.from_config("univoice.toml")
assert voice.provider.compile_flow(univoice.Flow.load({str(FLOW)!r})).body
"""
SDK_FIRST_DOCUMENT = """\
from bandwidth.models.bxml import Gather, Response, SpeakSentence
assert Response(nested_verbs=[
    SpeakSentence(text="Thank you for calling Acme.", locale="en_US", gender="female"),
    Gather(audio_verbs=[SpeakSentence(text="For sales, press 1.", locale="en_US",
                                      gender="female")],
           gather_url="steps%5B1%5D?on=gather&attempt=1", max_digits=1,
           first_digit_timeout=5, inter_digit_timeout=5)]).to_bxml()
"""
# The floor under the first document: the third-party packages that path imports.
DEPENDENCIES = "its dependencies' imports alone"
DEPENDENCY_IMPORTS = ("import httpx, lxml.etree, phonenumbers, pluggy, pydantic, "
                      "pydantic_settings, yaml")
# name -> (program, the module it needs, or None)
PROGRAMS: dict[str, tuple[str, str | None]] = {
    "import univoice": ("import univoice", None),
    "import twilio.rest": ("import twilio.rest", "twilio"),
    "import bandwidth": ("import bandwidth", "bandwidth"),
    "univoice first BXML document": (FIRST_DOCUMENT, None),
    "bandwidth-sdk first BXML document": (SDK_FIRST_DOCUMENT, "bandwidth"),
    DEPENDENCIES: (DEPENDENCY_IMPORTS, None),
}
BARE = "bare interpreter (wall)"
TARGETS_MS = {"import univoice": 100.0, "univoice first BXML document": 300.0}


def installed(module: str | None) -> bool:
    return module is None or importlib.util.find_spec(module) is not None


def _env(cwd: str) -> dict[str, str]:
    """The children's environment: no ``UNIVOICE_*`` (the config file says it all), and
    bytecode cached under ``cwd`` (as an installed package has it; this tree stays clean
    and a ``PYTHONDONTWRITEBYTECODE`` here does not make every run compile the sources)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("UNIVOICE_") and k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPYCACHEPREFIX": str(Path(cwd, "pycache"))}


def _run(code: str, cwd: str) -> float:
    """Seconds ``code`` took in a fresh interpreter, as it timed itself."""
    proc = subprocess.run([sys.executable, "-c", TIMED.format(code=code)], cwd=cwd,
                          env=_env(cwd), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"cold start program failed:\n{code}\n{proc.stderr}")
    return float(proc.stdout.split()[-1])


def _bare(cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], cwd=cwd, env=_env(cwd), check=True)
    return time.perf_counter() - start


def main(quick: bool = False, runs: int | None = None) -> dict[str, Any]:
    """ms of each program per run (``samples``; None: not installed) and their medians."""
    runs = runs or (QUICK if quick else FULL)
    programs = {name: code for name, (code, needs) in PROGRAMS.items() if installed(needs)}
    measured: dict[str, list[float]] = {name: [] for name in [*programs, BARE]}
    with tempfile.TemporaryDirectory(prefix="univoice-cold-") as cwd:
        Path(cwd, "univoice.toml").write_text(CONFIG)
        for code in programs.values():  # not timed: writes the bytecode caches
            _run(code, cwd)
        for _ in range(runs):
            for name, code in programs.items():
                measured[name].append(_run(code, cwd) * 1e3)
            measured[BARE].append(_bare(cwd) * 1e3)
    samples = {name: measured.get(name) for name in [*PROGRAMS, BARE]}
    ms = {name: None if got is None else Spread.of(got).as_dict()
          for name, got in samples.items()}
    targets = []
    for name, limit in TARGETS_MS.items():
        median = Spread.of(measured[name]).median
        targets.append({"name": name, "ms": median, "target": f"< {limit:g} ms",
                        "met": median < limit})
    return {"quick": quick, "runs": runs, "ms": ms, "targets": targets, "samples": samples}


def report(results: dict[str, Any]) -> None:
    print(f"{'quick run, ' if results['quick'] else ''}medians of {results['runs']} fresh "
          "processes per program, ms from its first statement (min-max)")
    for name, got in results["ms"].items():
        figure = "not installed (pip install -e '.[bench]')" if got is None else (
            f"{got['median']:8.1f} ms  ({got['low']:.1f}-{got['high']:.1f})")
        print(f"  {name:<36}{figure}")
    for target in results["targets"]:
        print(f"  target {target['name']} {target['target']}: {target['ms']:.1f} ms "
              f"{'met' if target['met'] else 'MISSED'}")


if __name__ == "__main__":
    cli(main, report)
