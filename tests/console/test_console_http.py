"""The console over HTTP, in process: off unless enabled, never without credentials,
401 without them, every outside value escaped, and its JSON API."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from univoice.cli import main
from univoice.errors import ConfigError

from .conftest import Make
from .server import EVIL, PASSWORD, SECRET, USER, basic

CONSOLE = "/univoice/console"
PAGES = ["/", "/flows/support_ivr", "/flows/evil", "/flows/support_ivr/diagram.svg",
         "/events", "/static/console.css", "/static/simulator.js", "/static/events.js",
         "/api/flows/support_ivr/documents?provider=simulator"]


def test_off_unless_enabled(make_app: Make) -> None:
    with TestClient(make_app(enabled=False)) as client:
        for headers in ({}, {"authorization": basic()}):
            assert client.get(f"{CONSOLE}/", headers=headers).status_code == 404
        assert client.get("/univoice/health").status_code == 200


def test_never_enabled_without_credentials(make_app: Make) -> None:
    with pytest.raises(ConfigError, match=r"console\.username and console\.password"):
        make_app(credentials=False)


def test_serve_refuses_to_start_without_credentials(
        tmp_path: Path, make_app: Make, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError):
        make_app(credentials=False)  # writes the config and points UNIVOICE_CONFIG at it
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--port", "1"])
    assert exit_.value.code == 1
    assert "never runs without credentials" in capsys.readouterr().err


@pytest.mark.parametrize("authorization", [
    None,
    basic(password="wrong-password"),
    basic(user="someone-else"),
    basic(password=""),
    basic(password=PASSWORD + "x"),
    basic(password=PASSWORD[:-1]),
    f"Bearer {PASSWORD}",
    "Basic not-base64!",
    "Basic " + "QQ==" * 2000,
])
def test_401_without_the_credentials(make_app: Make, authorization: str | None) -> None:
    headers = {} if authorization is None else {"authorization": authorization}
    with TestClient(make_app()) as client:
        for path in PAGES:
            r = client.get(CONSOLE + path, headers=headers)
            assert r.status_code == 401, path
            assert r.headers["www-authenticate"].startswith('Basic realm="univoice console"')
            assert "content-security-policy" in r.headers
            assert "<" not in r.text  # no page, no flow, nothing of the console
        r = client.post(f"{CONSOLE}/api/calls", headers=headers, json={"flow": "support_ivr"})
        assert r.status_code == 401


def test_200_with_the_credentials_and_never_shows_them(client: TestClient) -> None:
    for path in PAGES:
        r = client.get(CONSOLE + path)
        assert r.status_code == 200, path
        assert PASSWORD not in r.text and SECRET not in r.text
        assert PASSWORD not in json.dumps(dict(r.headers))
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "script-src 'self'" in r.headers["content-security-policy"]


def test_the_webhook_app_needs_no_console_credentials(make_app: Make) -> None:
    with TestClient(make_app()) as client:
        assert client.get("/univoice/health").status_code == 200
        unsigned = client.post("/univoice/simulator/events", content=b"{}",
                               headers={"content-type": "application/json"})
        assert unsigned.status_code == 401  # the simulator's own secret, not the console's


def test_lists_the_served_flows_and_the_examples(client: TestClient) -> None:
    page = client.get(f"{CONSOLE}/").text
    assert "Acme support line" in page
    assert "answers inbound calls (default); bundled example" in page
    assert "answers calls to +31200000666" in page
    assert 'href="/univoice/console/flows/conference_bridge"' in page


def test_flow_text_is_escaped_everywhere(client: TestClient) -> None:
    for path in ("/", "/flows/evil", "/flows/evil/diagram.svg",
                 "/flows/evil/diagram.svg?provider=bandwidth"):
        text = client.get(CONSOLE + path).text
        assert "<script>window" not in text and "<img src=x" not in text, path
        assert "&lt;script&gt;window.__pwned" in text, path
    page = client.get(f"{CONSOLE}/flows/evil").text
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts == ['<script src="/univoice/console/static/simulator.js" defer>']


def test_a_call_through_the_api(client: TestClient) -> None:
    started = client.post(f"{CONSOLE}/api/calls", json={"flow": "support_ivr"})
    assert started.status_code == 200
    call = started.json()["call"]
    assert started.json()["current"] == "steps_1"

    def act(action: str, value: object = None) -> dict[str, object]:
        r = client.post(f"{CONSOLE}/api/calls/{call}", json={"action": action, "value": value})
        assert r.status_code == 200, r.text
        result: dict[str, object] = r.json()
        return result

    assert act("press", "2")["current"] == "steps_1_gather_options_2_steps_0"
    assert act("press", "2")["status"] == "waiting"
    assert act("press", "4")["buffer"] == "4"
    ended = act("press", "#")
    assert ended["status"] == "ended"
    assert ended["ended"] == {"reason": "hangup", "duration": 55.0,
                              "variables": {"ticket": "4"}}


def test_api_refusals(client: TestClient) -> None:
    calls = f"{CONSOLE}/api/calls"
    assert client.post(calls, json={"flow": "nope"}).status_code == 404
    assert client.post(calls, content=b"flow=support_ivr",
                       headers={"content-type": "application/x-www-form-urlencoded"}
                       ).status_code == 415  # a form another site could post: refused
    assert client.post(calls, content=b"[1]",
                       headers={"content-type": "application/json"}).status_code == 400
    assert client.post(calls, content=b"{" + b" " * 5000 + b"}",
                       headers={"content-type": "application/json"}).status_code == 413
    call = client.post(calls, json={"flow": "support_ivr"}).json()["call"]
    assert client.post(f"{calls}/{call}", json={"action": "press", "value": "x"}
                       ).status_code == 400
    assert client.post(f"{calls}/{call}", json={"action": "dance"}).status_code == 400
    assert client.post(f"{calls}/{'0' * 32}", json={"action": "run"}).status_code == 404
    assert client.post(f"{calls}/..%2Fx", json={"action": "run"}).status_code == 404


def test_native_documents(client: TestClient) -> None:
    docs = f"{CONSOLE}/api/flows/support_ivr/documents"
    bxml = client.get(docs, params={"provider": "bandwidth", "path": "steps[1]"}).json()
    assert bxml["first"]["body"].startswith("<?xml")
    assert "<Gather" in bxml["step"]["body"]
    bird = client.get(docs, params={"provider": "bird", "path": "steps[0]"}).json()
    assert "provider 'bird' does not support" in bird["first"]["error"]
    assert '"command": "say"' in bird["step"]["body"]
    assert client.get(docs, params={"provider": "nope"}).status_code == 404
    assert client.get(docs, params={"provider": "simulator", "path": "steps[99]"}
                      ).status_code == 404


def test_config_show_masks_the_console_password(
        make_app: Make, capsys: pytest.CaptureFixture[str]) -> None:
    make_app()
    with pytest.raises(SystemExit):
        main(["config", "show"])
    out = capsys.readouterr().out
    assert PASSWORD not in out
    assert USER in out
    assert '"console"' in out or "console" in out


def test_documents_carry_flow_text_as_data(client: TestClient) -> None:
    # JSON for the page to set with textContent: the flow's text as written, not markup.
    body = client.get(f"{CONSOLE}/api/flows/evil/documents",
                      params={"provider": "simulator"}).json()["first"]["body"]
    assert json.loads(body)["name"] == EVIL


def test_the_readme_shows_the_console() -> None:
    root = Path(__file__).resolve().parents[2]
    assert "![The univoice web console](docs/console.png)" in (root / "README.md").read_text()
    assert (root / "docs" / "console.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
