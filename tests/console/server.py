"""``univoice serve`` with the console enabled, in its own process on a free port."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
USER = "console-ops"
PASSWORD = "console-pw-0123456789"
SECRET = "whsec-console-0123456789"  # the simulator provider's webhook secret
EVIL = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\">"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def basic(user: str = USER, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def evil_flow(folder: Path) -> Path:
    """A flow whose name and texts are markup (flow files are outside input)."""
    path = folder / "evil.yaml"
    path.write_text(f"""
name: '{EVIL}'
steps:
  - say: '{EVIL}'
  - gather:
      prompt: 'Press 1 for {EVIL}'
      options:
        "1": [{{say: '{EVIL} chosen'}}]
  - hangup
""", encoding="utf-8")
    return path


def write_config(folder: Path, *, enabled: bool = True, credentials: bool = True,
                 inbound: dict[str, Path] | None = None) -> Path:
    lines = [f'flow_store = "sqlite:///{folder / "store.db"}"', "[simulator]",
             f'webhook_secret = "{SECRET}"', "[console]", f"enabled = {str(enabled).lower()}"]
    if credentials:
        lines += [f'username = "{USER}"', f'password = "{PASSWORD}"']
    if inbound:
        lines.append("[inbound]")
        lines += [f'"{number}" = "{file}"' for number, file in inbound.items()]
    path = folder / "univoice.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class ConsoleServer:
    """``univoice serve --flow FLOW`` in ``folder`` with its ``univoice.toml``."""

    def __init__(self, folder: Path, flow: Path, config: Path, *, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "serve.log"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("UNIVOICE_") or k == "UNIVOICE_REQUIRE_BROWSER"}
        env["UNIVOICE_CONFIG"] = str(config)
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "univoice", "serve", "--port", str(self.port),
                 "--flow", str(flow), "--workers", str(workers)], cwd=folder, env=env, stdout=out,
                stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(f"{self.url}/univoice/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"univoice serve did not start: {self.output()[-2000:]}")

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
