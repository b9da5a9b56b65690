"""``univoice serve --workers 2`` with the console: a simulated call is kept in the shared
store, so whichever worker takes the next key goes on with it, and the live list shows
the events every worker handled."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from univoice.simulator.callbacks import SIGNATURE_HEADER, sign

from .server import ROOT, SECRET, ConsoleServer, basic, write_config


def test_two_workers_share_calls_and_events(tmp_path: Path) -> None:
    server = ConsoleServer(tmp_path, ROOT / "examples" / "support_ivr.yaml",
                           write_config(tmp_path), workers=2)
    auth = {"authorization": basic()}
    api = f"{server.url}/univoice/console/api/calls"
    try:
        # A new connection for every request: the kernel hands them to either worker.
        call = httpx.post(api, json={"flow": "support_ivr"}, headers=auth).json()["call"]
        last = {}
        for key in "22" + "4711#":
            r = httpx.post(f"{api}/{call}", json={"action": "press", "value": key},
                           headers=auth, timeout=10)
            assert r.status_code == 200, r.text
            last = r.json()
        assert last["ended"]["variables"] == {"ticket": "4711"}

        events = f"{server.url}/univoice/simulator/events"
        for n in range(6):
            body = json.dumps({"id": f"w-{n}", "type": "answered", "call_id": f"w-call-{n}"}
                              ).encode()
            r = httpx.post(events, content=body, headers={
                "content-type": "application/json", SIGNATURE_HEADER: sign(SECRET, events, body)})
            assert r.status_code == 200, r.text
        seen: set[str] = set()
        with httpx.stream("GET", f"{server.url}/univoice/console/events/stream",
                          headers=auth, timeout=10) as stream:
            for line in stream.iter_lines():
                if line.startswith("data: ") and '"key"' in line:
                    seen.add(json.loads(line[6:])["call_id"])
                if {f"w-call-{n}" for n in range(6)} <= seen:
                    break
    finally:
        server.stop()
