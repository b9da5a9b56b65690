"""The failures ``pending.py`` excuses, each replayed as a strict xfail; and, without the
mark, those it once held, now fixed (kept as regressions).

A pending test states the documented outcome; the code fails it with the exception named
in ``raises``. When the fix lands the test passes, strict xfail turns that into a
failure, and the entry in ``pending.py`` (with this test's xfail mark) must go.
"""

from __future__ import annotations

import json

import httpx
import pytest

from univoice.errors import ProviderError
from univoice.operations import json_body
from univoice.transport import HttpSettings, _Core
from univoice.webhooks.request import WebhookRejected, WebhookRequest

from .pending import PENDING
from .targets import PREFIX, Rest, Webhooks, make_provider

FIX = {p.key: p.fix for p in PENDING}
DEEP = b"[" * 50_000


def pending(key: str, raises: type[BaseException] | tuple[type[BaseException], ...]
            ) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, raises=raises, reason=FIX[key])


def test_every_pending_entry_has_its_reproducer() -> None:
    tested = {name.removeprefix("test_").replace("_", "-") for name in globals()
              if name.startswith("test_")}
    keys = {key.replace("_", "-") for key in FIX}
    assert keys <= tested, keys - tested


def test_json_body_recursion() -> None:
    with pytest.raises(ProviderError, match="nested too deeply"):
        json_body(httpx.Response(200, content=DEEP), "bandwidth", "calls.get")


def test_error_details_recursion() -> None:
    provider = make_provider("bandwidth")
    message, _, _ = provider.error_details(httpx.Response(500, content=DEEP))
    assert message


def test_error_for_recursion(monkeypatch: pytest.MonkeyPatch) -> None:
    rest = Rest("bandwidth")
    # error_details is another pending entry: keep it out of this one's way.
    monkeypatch.setattr(rest.provider, "error_details", lambda response: ("m", None, None))
    op = rest.ops["calls.get"]
    core = _Core(rest.provider, HttpSettings(), None)
    error = core.error_for(op, httpx.Response(500, content=DEEP, request=op.request))
    assert error.status == 500


def test_rest_lone_surrogate() -> None:
    body = b'{"data": [{"id": "\\ud800", "status": "ongoing"}]}'
    with pytest.raises(ProviderError):
        json_body(httpx.Response(200, content=body), "messagebird", "calls.get")


def test_messagebird_token_non_ascii() -> None:
    provider = make_provider("messagebird")
    request = WebhookRequest(method="GET", url="https://v/univoice/messagebird/flow/f/start",
                             path="/univoice/messagebird/flow/f/start",
                             query={"token": "é"}, headers={}, body=b"")
    with pytest.raises(WebhookRejected) as refused:
        provider.verify_webhook(request)
    assert refused.value.status == 401


def test_attempt_unicode_digit() -> None:
    hooks = Webhooks("bandwidth")
    try:
        head = {"method": "POST", "path": f"{PREFIX}/bandwidth/flow/{hooks.flow_id}/steps[1]",
                "query": "on=gather&attempt=%C2%B2",
                "headers": {"content-type": "application/json"}, "sign": True}
        body = json.dumps({"eventType": "gather", "callId": "c-1", "digits": "1"}).encode()
        assert hooks.handle(head, body)[0] == 400
    finally:
        hooks.close()


def test_content_length_unicode_digit() -> None:
    hooks = Webhooks("bird")
    try:
        head = {"method": "POST", "path": f"{PREFIX}/bird/events", "sign": True,
                "headers": {"content-type": "application/json", "content-length": "9" * 5000}}
        assert hooks.handle(head, b'{"id": "b-1", "status": "ringing"}')[0] == 413
        # A length that is no number is not trusted: the body is read, capped as it comes.
        # header_pairs writes str values as UTF-8: "\u00b2" must reach the app as the
        # single Latin-1 byte 0xb2 a client could send, so that one is built by hand.
        assert _raw_header_status(hooks) != 500
    finally:
        hooks.close()


def _raw_header_status(hooks: Webhooks) -> int:
    from .targets import drive

    body = b'{"id": "b-1", "status": "ringing"}'
    path = f"{PREFIX}/bird/events"
    request = hooks._request("POST", path.encode(), path, b"",
                             [(b"content-type", b"application/json"),
                              (b"content-length", b"\xb2")], body)
    try:
        drive(hooks.app._read(request, hooks.provider))
    except WebhookRejected as exc:
        return exc.status
    return 200
