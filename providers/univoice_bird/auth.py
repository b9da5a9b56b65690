"""How univoice authenticates to Bird's API: ``Authorization: AccessKey <key>`` on every
request (PROVIDERS.md §1.2; the docs' security scheme ``accessKey``).

One more thing happens here, because only an auth flow can do it without a change to the
core transport: a recording's media (``GET /workspaces/{ws}/recordings/{id}.mp3``) may be
answered with a redirect to Bird's media host (PROVIDERS.md §1.2 names
``https://media.api.bird.com``; the docs' sentence on what the ``.mp3`` request returns is
cut off in our sources). httpx does not follow redirects for univoice's clients, so the
download would "succeed" with an empty body. ``AccessKeyAuth`` therefore follows one
redirect of a media download (a GET whose path ends in ``.mp3``), over https only, and sends
the key with it only when the target is a Bird host (``*.bird.com``); a redirect elsewhere
(a pre-signed storage URL) is fetched without any credentials.

Nothing here shows the key: the auth's repr names the class only, and the error for a
missing key names the setting, never a value.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

import httpx

from univoice.errors import ConfigError

if TYPE_CHECKING:
    from univoice_bird.settings import BirdSettings

REDIRECTS = frozenset({301, 302, 303, 307, 308})
BIRD_DOMAIN = "bird.com"


def is_bird_host(url: httpx.URL, api: httpx.URL | None = None) -> bool:
    """Whether ``url`` is on Bird's own hosts (or on the configured API's host, which a
    test or a proxy may have moved)."""
    host = url.host.lower()
    if api is not None and (url.scheme, host, url.port) == (api.scheme, api.host.lower(),
                                                            api.port):
        return True
    return url.scheme == "https" and (host == BIRD_DOMAIN or host.endswith("." + BIRD_DOMAIN))


class AccessKeyAuth(httpx.Auth):
    """``Authorization: AccessKey <key>`` on every request; follows one redirect of a
    recording-media download (see the module docstring)."""

    __slots__ = ("_api", "_header")

    def __init__(self, access_key: str, api_url: str = "https://api.bird.com") -> None:
        self._header = f"AccessKey {access_key}"
        self._api = httpx.URL(api_url)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        response = yield request
        # Cheap checks first: most answers are not redirects, and reading request.url
        # builds a lazily built request.
        if response.status_code not in REDIRECTS or request.method != "GET":
            return
        location = response.headers.get("location")
        if not location or not request.url.path.endswith(".mp3"):
            return
        target = request.url.join(location)
        if target.scheme != "https" and not is_bird_host(target, self._api):
            return  # never follow to plain http (the caller sees the redirect as is)
        headers = {"Accept": request.headers.get("accept", "*/*")}
        if is_bird_host(target, self._api):
            headers["Authorization"] = self._header
        yield httpx.Request("GET", target, headers=headers)

    def __repr__(self) -> str:
        return "<AccessKeyAuth>"


def api_auth(settings: BirdSettings) -> AccessKeyAuth:
    """The auth the settings configure; ``ConfigError`` naming the setting when there is
    no access key (raised when a client is built, before any request)."""
    key = settings.access_key.get_secret_value() if settings.access_key is not None else ""
    if not key.strip():
        raise ConfigError(
            "[bird] access_key is not set: Bird's API needs an access key (Bird dashboard > "
            "Settings > Access keys, with a role that may use the Voice channel). Set "
            "access_key in the [bird] table of univoice.toml, as UNIVOICE_BIRD__ACCESS_KEY, "
            "or as Voice('bird', access_key=...)")
    return AccessKeyAuth(key.strip(), str(settings.api_url))
