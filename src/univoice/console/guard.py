"""HTTP Basic authentication and the security headers of every console response.

Both the username and the password are compared in constant time (``hmac.compare_digest``
on each, never short-circuited), and the ``Authorization`` header is never logged or
echoed. Every response, the 401 included, carries a Content-Security-Policy that lets a
page load only the console's own scripts and styles (no CDN, no inline script), so a
value that escaped escaping still could not run.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REALM = "univoice console"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


class BasicAuth:
    """Answers 401 to any request without the configured credentials."""

    def __init__(self, app: ASGIApp, username: str, password: str) -> None:
        self.app = app
        self._user = username.encode()
        self._password = password.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        if self.allows(_authorization(scope)):
            await self.app(scope, receive, secured)
            return
        body = b"401: the univoice console needs its username and password\n"
        await secured({"type": "http.response.start", "status": 401, "headers": [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", f'Basic realm="{REALM}", charset="UTF-8"'.encode())]})
        await send({"type": "http.response.body", "body": body})

    def allows(self, header: bytes | None) -> bool:
        user, password = _decode(header)
        # Both compared, whatever the first gives: the time says nothing about which.
        same_user = hmac.compare_digest(user, self._user)
        same_password = hmac.compare_digest(password, self._password)
        return same_user & same_password


def _authorization(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bytes(value)
    return None


def _decode(header: bytes | None) -> tuple[bytes, bytes]:
    """(user, password) of a Basic header; two empty values for anything else (which
    never match: the configured ones are not empty)."""
    if header is None:
        return b"", b""
    scheme, _, token = header.strip().partition(b" ")
    if scheme.lower() != b"basic" or len(token) > 4096:
        return b"", b""
    try:
        pair = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return b"", b""
    user, colon, password = pair.partition(b":")
    return (user, password) if colon else (b"", b"")
