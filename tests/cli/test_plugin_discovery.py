"""A provider plugin living outside src/univoice is found through its entry point.

`tests/plugins` holds an installed-looking distribution (a dist-info with entry_points.txt)
for the package `univoice_echo`; putting it on sys.path is what `pip install` would do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from univoice.capabilities import Feature
from univoice.plugins import providers_supporting

from ..conftest import EXAMPLES, PLUGINS


def supporting(feature: Feature) -> str:
    """The installed providers (echo aside: it is not installed in this process)."""
    return ", ".join(p for p in providers_supporting(feature) if p != "echo")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(PLUGINS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "univoice", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=60)


def test_third_party_plugin_appears_in_matrix() -> None:
    r = run("providers", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)["providers"]
    assert set(data) >= {"simulator", "echo"}
    assert data["echo"]["features"] == ["hangup", "pause", "say"]
    table = run("providers")
    assert "echo" in table.stdout


def test_third_party_plugin_can_be_selected(tmp_path: Path) -> None:
    flow = tmp_path / "hello.yaml"
    flow.write_text("steps:\n  - say: Hello there\n  - pause: 1\n  - hangup\n")
    r = run("flow", "render", str(flow), "--provider", "echo")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["say Hello there", "pause", "hangup"]


def test_unsupported_feature_names_step_provider_and_alternatives() -> None:
    r = run("flow", "render", str(EXAMPLES / "conference_bridge.yaml"), "--provider", "echo")
    assert r.returncode == 1
    assert r.stderr.strip() == (
        "error: provider 'echo' does not support gather.menu (at steps[1].gather): "
        f"echo cannot hear keys; supported by: {supporting(Feature.GATHER_MENU)}")
    # Flow-level options come first: the support line's default voice gender.
    r = run("flow", "render", str(EXAMPLES / "support_ivr.yaml"), "--provider", "echo")
    assert r.stderr.strip() == (
        "error: provider 'echo' does not support say.gender (at gender); "
        f"supported by: {supporting(Feature.SAY_GENDER)}")


def test_plugin_registered_in_process() -> None:
    sys.path.insert(0, str(PLUGINS))
    try:
        import univoice_echo

        from univoice.plugins import new_registry

        reg = new_registry(load_entry_points=False, plugins=(univoice_echo,))
        assert list(reg.providers()) == ["echo"]
    finally:
        sys.path.remove(str(PLUGINS))


def test_broken_plugin_is_reported_not_fatal(tmp_path: Path) -> None:
    dist = tmp_path / "broken_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[univoice]\nbroken = univoice_no_such_module\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "univoice", "providers", "--json"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0
    data = json.loads(r.stdout)
    assert "simulator" in data["providers"]
    assert "ModuleNotFoundError" in data["broken"]["broken"]
