"""Every file under cassettes/ is scanned for credentials, in CI, on every run.

A recorded cassette may hold only scrubbed placeholders (``<redacted>``) where a credential
went: in credential headers (``Authorization``, ``Cookie``, ``X-Api-Key``, anything named
like a secret), in secret-named JSON fields and query parameters, and nowhere else in any
form a key takes on the wire (``AccessKey ...``, ``Basic ...``, ``Bearer ...``, a JWT, a
private key, a MessageBird live/test key, a cloud access key id). The scanner is shown
to fail on a dirty cassette first. Three values are not credentials and are allowed:
pagination cursors (``pageToken``), the MAC a MessageBird continuation URL carries
(``token=``, made with the test placeholder key, valid for that one URL), and a STIR/SHAKEN
PASSporT (a JWT with ``ppt`` in its header: the public caller-identity assertion of
Bandwidth's documented call-state example).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml

from univoice.redact import SECRET_HEADERS, is_secret_field

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes"
SCRUBBED = {"<redacted>", "***", "", None}
NOT_CREDENTIALS = {"pagetoken", "nextpagetoken"}  # cursors, named like tokens
PATTERNS = {
    "an AccessKey credential": re.compile(r"AccessKey\s+(?!<redacted>)[A-Za-z0-9_\-]{8,}"),
    "a Basic credential": re.compile(r"\bBasic\s+(?!<redacted>)([A-Za-z0-9+/]{6,}={0,2})"),
    "a Bearer token": re.compile(r"\bBearer\s+(?!<redacted>)[A-Za-z0-9._~+/\-]{8,}"),
    "a JWT": re.compile(r"\b(eyJ[A-Za-z0-9_-]{8,})\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "a MessageBird live/test key": re.compile(r"\b(?:live|test)_[A-Za-z0-9]{20,}\b"),
    "a cloud access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "a password in a URL": re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@'\"]*:(?!<redacted>|\*\*\*)"
                                      r"[^/\s@'\"]+@"),
}


def scan_text(text: str) -> list[str]:
    return [f"{what}: {m.group(0)[:40]!r}" for what, pattern in PATTERNS.items()
            for m in pattern.finditer(text) if not _harmless(what, m)]


def _decoded(segment: str, urlsafe: bool = False) -> bytes | None:
    padded = segment + "=" * (-len(segment) % 4)
    try:
        if urlsafe:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def _harmless(what: str, match: re.Match[str]) -> bool:
    if what == "a Basic credential":  # words ("Basic credentials") are not user:password
        decoded = _decoded(match.group(1).rstrip("="))
        return decoded is None or b":" not in decoded
    if what == "a JWT":  # a PASSporT is a public identity assertion, not a credential
        header = _decoded(match.group(1), urlsafe=True)
        try:
            return header is not None and "ppt" in json.loads(header)
        except ValueError:
            return False
    return False


def scan_cassette(data: Any) -> list[str]:
    problems: list[str] = []
    for n, interaction in enumerate((data or {}).get("interactions", []), start=1):
        request, response = interaction["request"], interaction["response"]
        for where, headers in (("request", request.get("headers", {})),
                               ("response", response.get("headers", {}))):
            for name, values in headers.items():
                values = values if isinstance(values, list) else [values]
                if name.lower() == "set-cookie":
                    problems.append(f"#{n} {where} keeps a Set-Cookie header")
                elif (name.lower() in SECRET_HEADERS or is_secret_field(name)) and any(
                        v not in SCRUBBED for v in values):
                    problems.append(f"#{n} {where} header {name} is not scrubbed")
        problems += [f"#{n} request URI {p}" for p in _query(request.get("uri", ""))]
        for where, body in (("request", request.get("body")),
                            ("response", (response.get("body") or {}).get("string"))):
            if isinstance(body, bytes):
                body = body.decode("utf-8", "replace")
            try:
                parsed = json.loads(body) if isinstance(body, str) and body else None
            except ValueError:
                continue
            problems += [f"#{n} {where} field {p}" for p in _fields(parsed)]
    return problems


def _query(uri: str) -> list[str]:
    parts = urlsplit(uri)
    continuation = "/flow/" in parts.path
    return [f"query {k}" for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if is_secret_field(k) and k.lower() not in NOT_CREDENTIALS and v not in SCRUBBED
            and not (continuation and k == "token")]


def _fields(value: Any, path: str = "") -> list[str]:
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            if (is_secret_field(str(key)) and str(key).lower() not in NOT_CREDENTIALS
                    and item not in SCRUBBED and not isinstance(item, dict | list)):
                found.append(f"{path}.{key}")
            if isinstance(item, str) and "://" in item:
                found += [f"{path}.{key} URL {p}" for p in _query(item)]
            found += _fields(item, f"{path}.{key}")
        return found
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _fields(item, f"{path}[{i}]")]
    return []


def scan(file: Path) -> list[str]:
    text = file.read_text("utf-8")
    problems = scan_text(text)
    if file.suffix in (".yaml", ".yml"):
        problems += scan_cassette(yaml.safe_load(text))
    return problems


FILES = sorted(p for p in CASSETTES.rglob("*") if p.is_file())


def test_there_are_cassettes_of_every_provider() -> None:
    providers = {p.relative_to(CASSETTES).parts[0] for p in FILES if p.suffix == ".yaml"}
    assert providers >= {"bandwidth", "messagebird", "bird"}
    assert len(FILES) > 40


@pytest.mark.parametrize("file", FILES, ids=[str(p.relative_to(CASSETTES)) for p in FILES])
def test_no_credential_in(file: Path) -> None:
    assert scan(file) == []


DIRTY = """interactions:
- request:
    body: '{"to": "+1", "callbackPassword": "hunter2-planted", "nested": [{"apiKey": "k-123"}]}'
    headers:
      Authorization:
      - AccessKey live_AbCdEfGhIjKlMnOpQrStUvWx
      X-Api-Key:
      - k-123
    method: POST
    uri: https://api.example.com/calls?access_token=tok-9876543210&pageToken=abc
  response:
    body:
      string: '{"echo": "Basic YXBpLXVzZXI6cGFzc3dvcmQ=", "store": "redis://:s3cret@h:6379/0",
        "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"}'
    headers:
      Set-Cookie:
      - session=abcdef
    status:
      code: 200
      message: OK
version: 1
"""


def test_the_scanner_finds_what_it_looks_for(tmp_path: Path) -> None:
    dirty = tmp_path / "dirty.yaml"
    dirty.write_text(DIRTY)
    found = "\n".join(scan(dirty))
    for expected in ("an AccessKey credential", "a MessageBird live/test key",
                     "a Basic credential", "a JWT", "a password in a URL",
                     "header Authorization is not scrubbed", "header X-Api-Key",
                     "Set-Cookie", "query access_token", "field .callbackPassword",
                     "field .nested[0].apiKey"):
        assert expected in found, (expected, found)
    assert "pageToken" not in found  # a cursor, not a credential
    clean = DIRTY.replace("AccessKey live_AbCdEfGhIjKlMnOpQrStUvWx", "<redacted>")
    assert "AccessKey" not in "\n".join(scan_text(clean))
    assert scan_text("send the API user's Basic credentials (HTTP Basic)") == []
