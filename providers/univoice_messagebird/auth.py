"""How univoice authenticates to the MessageBird Voice Calling API: ``Authorization:
AccessKey <key>`` on every request (PROVIDERS.md §1.1; a live or a test key).

Nothing here shows the key: the auth's repr names the class only, and the error for a
missing key names the setting, never a value.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

import httpx

from univoice.errors import ConfigError

if TYPE_CHECKING:
    from univoice_messagebird.settings import MessageBirdSettings


class AccessKeyAuth(httpx.Auth):
    """``Authorization: AccessKey <key>`` on every request."""

    __slots__ = ("_header",)

    def __init__(self, access_key: str) -> None:
        self._header = f"AccessKey {access_key}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return "<AccessKeyAuth>"


def api_auth(settings: MessageBirdSettings) -> AccessKeyAuth:
    """The auth the settings configure; ``ConfigError`` naming the setting when there is
    no access key (raised when a client is built, before any request)."""
    key = settings.access_key.get_secret_value() if settings.access_key is not None else ""
    if not key.strip():
        raise ConfigError(
            "[messagebird] access_key is not set: MessageBird's REST API needs an access key "
            "(dashboard > Developers > API access; a live or a test key). Set access_key in "
            "the [messagebird] table of univoice.toml, as UNIVOICE_MESSAGEBIRD__ACCESS_KEY, "
            "or as Voice('messagebird', access_key=...)")
    return AccessKeyAuth(key.strip())
