"""``Voice`` and ``AsyncVoice``: one client over whichever provider is configured.

    voice = univoice.Voice.from_config()          # univoice.toml + UNIVOICE_* env
    call = voice.calls.create(to="+31612345678", from_="+31201234567", flow=ivr)
    for rec in voice.recordings.list(call_id=call.id):
        rec.download("out/")
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from univoice import resources as r
from univoice.config import DEFAULT_STORE, Config, HttpConfig
from univoice.hosting import FlowHost
from univoice.plugins import get_provider
from univoice.provider import Provider
from univoice.transport import AsyncTransport, Hooks, HttpSettings, SyncTransport

if TYPE_CHECKING:
    import httpx

    from univoice.store import FlowStore


def _provider(provider: str | Provider | None, settings: dict[str, Any]) -> Provider:
    if isinstance(provider, Provider):
        return provider
    return get_provider(provider, **settings)


def _host(public_url: str | None, flow_store: str | FlowStore | None) -> FlowHost | None:
    # Only a provider that fetches documents from the app uses it; the store opens lazily.
    if public_url is None:
        return None
    return FlowHost(public_url, flow_store or DEFAULT_STORE)


def _http(http: HttpSettings | HttpConfig | dict[str, Any] | None) -> HttpSettings:
    if http is None:
        return HttpSettings()
    if isinstance(http, HttpSettings):
        return http
    if isinstance(http, dict):
        http = HttpConfig(**http)
    return http.settings()


class Voice:
    """The synchronous client. ``Voice(provider="bandwidth", account_id=..., ...)``.

    Pass ``http=`` (timeouts, pool limits, retry policy), ``client=`` (your own
    ``httpx.Client``) or ``hooks=`` (request/response/retry observers) to tune it.
    ``public_url`` and ``flow_store`` say where the univoice webhook app runs and which
    store it reads, for providers that fetch each document of a call from it (Bandwidth).
    """

    def __init__(self, provider: str | Provider | None = None, *,
                 http: HttpSettings | HttpConfig | dict[str, Any] | None = None,
                 client: httpx.Client | None = None, hooks: Hooks | None = None,
                 public_url: str | None = None, flow_store: str | FlowStore | None = None,
                 **provider_settings: Any) -> None:
        self.provider = _provider(provider, provider_settings)
        self._transport = SyncTransport(self.provider, _http(http), client=client, hooks=hooks)
        self._host = _host(public_url, flow_store)
        run, p = self._transport.run, self.provider
        self.calls = r.Calls(run, p, self._host)
        self.recordings = r.Recordings(run, p)
        self.transcriptions = r.Transcriptions(run, p)
        self.conferences = r.Conferences(run, p, self.recordings.download)
        self.flows = r.Flows(run, p)
        self.webhooks = r.Webhooks(run, p)

    @classmethod
    def from_config(cls, path: str | Path | None = None, *, provider: str | None = None,
                    client: httpx.Client | None = None, hooks: Hooks | None = None) -> Self:
        """Build from ``univoice.toml`` (or ``path``) and ``UNIVOICE_*`` variables.

        With a ``[routing]`` table (and no ``provider`` asked for) the client is a
        ``univoice.routing.client.RoutedVoice`` over every provider it names."""
        config = Config.load(path)
        if config.routing is not None and provider is None and cls is Voice:
            from univoice.routing.client import RoutedVoice

            return RoutedVoice.from_loaded(config, client=client, hooks=hooks)  # type: ignore[return-value]
        return cls(config.make_provider(provider), http=config.http, client=client,
                   hooks=hooks, public_url=config.public_url, flow_store=config.flow_store)

    def __repr__(self) -> str:
        return f"<Voice provider={self.provider.name!r}>"

    def close(self) -> None:
        self._transport.close()
        if self._host is not None:
            self._host.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class AsyncVoice:
    """The asynchronous client: the same resources, each method awaited.

    By default it runs httpx over aiohttp (``http={"async_backend": "httpx"}`` selects
    httpx's own transport); see ``bench/rest_bench.py`` for why.
    """

    def __init__(self, provider: str | Provider | None = None, *,
                 http: HttpSettings | HttpConfig | dict[str, Any] | None = None,
                 client: httpx.AsyncClient | None = None, hooks: Hooks | None = None,
                 public_url: str | None = None, flow_store: str | FlowStore | None = None,
                 **provider_settings: Any) -> None:
        self.provider = _provider(provider, provider_settings)
        self._transport = AsyncTransport(self.provider, _http(http), client=client,
                                         hooks=hooks)
        self._host = _host(public_url, flow_store)
        run, p = self._transport.run, self.provider
        self.calls = r.AsyncCalls(run, p, self._host)
        self.recordings = r.AsyncRecordings(run, p)
        self.transcriptions = r.AsyncTranscriptions(run, p)
        self.conferences = r.AsyncConferences(run, p, self.recordings.download)
        self.flows = r.AsyncFlows(run, p)
        self.webhooks = r.AsyncWebhooks(run, p)

    @classmethod
    def from_config(cls, path: str | Path | None = None, *, provider: str | None = None,
                    client: httpx.AsyncClient | None = None, hooks: Hooks | None = None
                    ) -> Self:
        config = Config.load(path)
        if config.routing is not None and provider is None and cls is AsyncVoice:
            from univoice.routing.client import AsyncRoutedVoice

            return AsyncRoutedVoice.from_loaded(  # type: ignore[return-value]
                config, client=client, hooks=hooks)
        return cls(config.make_provider(provider), http=config.http, client=client,
                   hooks=hooks, public_url=config.public_url, flow_store=config.flow_store)

    def __repr__(self) -> str:
        return f"<AsyncVoice provider={self.provider.name!r}>"

    async def aclose(self) -> None:
        await self._transport.aclose()
        if self._host is not None:
            self._host.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()
