"""`univoice serve` builds its app from the configuration: inbound numbers to flows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from univoice import Flow
from univoice.simulator.callbacks import inbound_payload
from univoice.webhooks.serve import create_app

ROOT = Path(__file__).resolve().parents[2]


def test_inbound_numbers_and_default_from_config(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "univoice.toml"
    config.write_text(f"""
public_url = "https://voice.example.com"
flow_store = "sqlite:///{tmp_path / 'store.db'}"
[inbound]
"+31201234567" = "{ROOT / 'examples' / 'support_ivr.yaml'}"
default = "{ROOT / 'examples' / 'conference_bridge.yaml'}"
""")
    monkeypatch.setenv("UNIVOICE_CONFIG", str(config))
    monkeypatch.delenv("UNIVOICE_SERVE_FLOW", raising=False)
    monkeypatch.delenv("UNIVOICE_SERVE_APP", raising=False)
    app = create_app()
    with TestClient(app) as client:
        def answer(to: str) -> Flow:
            body = json.dumps(inbound_payload(f"in-{to}", "+31612345678", to))
            r = client.post("/univoice/simulator/events", content=body,
                            headers={"content-type": "application/json"})
            assert r.status_code == 200, r.text
            return Flow.from_json(r.content)

        assert answer("+31201234567").name == "Acme support line"
        assert answer("+31209999999").name == "Acme conference bridge"
    app.store.close()
