"""``RoutedVoice`` / ``AsyncRoutedVoice``: one client over several providers.

``Voice.from_config()`` returns one when the configuration has a ``[routing]`` table.
``calls.create`` routes (``univoice.routing.decide``) and fails over when that is safe
(``univoice.routing.failover``); a call's later operations (``get``, ``hangup``,
``update``, ``wait``) go to the provider that placed it. The other resources, and
``calls.list``, are the first default provider's; ``voice.using(name)`` is the client of
any one provider.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from anyio import to_thread

from univoice.client import AsyncVoice, Voice
from univoice.errors import (
    AmbiguousCreate,
    ConfigError,
    InvalidArguments,
    UnivoiceError,
    UnsupportedFeature,
)
from univoice.flow import Flow
from univoice.models import Call
from univoice.resources import LOST_CREATE_LOOKUP, AsyncCalls, Calls, _flow
from univoice.routing.breaker import Breakers
from univoice.routing.config import RoutingConfig
from univoice.routing.decide import Decision, check_destination
from univoice.routing.route import EventSink, Router, RouteRun, create_args
from univoice.store import FlowStore, open_store

if TYPE_CHECKING:
    import httpx

    from univoice.config import Config
    from univoice.transport import Hooks

FlowArg = Flow | str | Path | dict[str, Any] | None


def _tag(tag: str | None) -> str:
    return tag if tag is not None else f"uv-{os.urandom(12).hex()}"


class _Routed:
    """What both routed clients share: members, router, store ownership."""

    def __init__(self, members: Mapping[str, Any], routing: RoutingConfig, *,
                 store: FlowStore | str | None, app_known: bool,
                 on_event: EventSink | None, clock: Callable[[], float]) -> None:
        missing = [n for n in routing.members() if n not in members]
        if missing:
            raise ConfigError(f"routing names {', '.join(missing)}, but no client for it "
                              "was given")
        self._owns_store = not isinstance(store, FlowStore)
        opened = store if isinstance(store, FlowStore) else open_store(
            store or "sqlite://:memory:")
        self.router = Router(routing, {n: m.provider for n, m in members.items()},
                             Breakers(opened, routing.breaker, clock=clock), opened,
                             app_known=app_known, sinks=[on_event] if on_event else [])

    def route(self, to: str, *, flow: FlowArg = None, tag: str | None = None,
              machine_detection: bool = False) -> Decision:
        """How a call to ``to`` would be routed now (no request is made)."""
        return self.router.decide(to, tag=_tag(tag), flow=_flow(flow),
                                  machine_detection=machine_detection)

    def health(self) -> dict[str, dict[str, Any]]:
        return self.router.breakers.states(list(self.router.providers))


def _members_from(config: Config, make: Callable[..., Any], **client: Any) -> dict[str, Any]:
    assert config.routing is not None
    return {name: make(config.make_provider(name), http=config.http,
                       public_url=config.public_url, flow_store=config.flow_store, **client)
            for name in config.routing.members()}


class RoutedCalls(Calls):
    """``voice.calls`` of a routed client: routed creates; a call's operations go to the
    provider that placed it (``calls.list`` lists the first default provider's)."""

    def __init__(self, voice: RoutedVoice) -> None:
        primary = voice.members[voice.primary].calls
        super().__init__(primary._run, primary._p, primary._ops.host)
        self._voice = voice

    def create(self, to: str, from_: str | None = None, *, flow: FlowArg = None,
               answer_url: str | None = None, ring_timeout: float | None = None,
               max_duration: float | None = None, machine_detection: bool | None = None,
               record: bool | None = None, callback_url: str | None = None,
               tag: str | None = None) -> Call:
        """Place the call on the first provider of its route that takes it; a provider
        that provably placed nothing is followed by the next. The ``Call`` carries the
        route (``call.route``); a failure carries it as ``error.route``."""
        router, tag = self._voice.router, _tag(tag)
        to, neutral = check_destination(to), _flow(flow)
        run = RouteRun(router, router.decide(to, tag=tag, flow=neutral,
                                             machine_detection=bool(machine_detection)), tag)
        options = {"flow": neutral, "answer_url": answer_url, "ring_timeout": ring_timeout,
                   "max_duration": max_duration, "machine_detection": machine_detection,
                   "record": record, "callback_url": callback_url, "tag": tag}
        for name in run.decision.order:
            if not run.admit(name):
                continue
            try:
                call = self._voice.members[name].calls.create(
                    to, **create_args(router.config, name, from_, options))
            except UnivoiceError as exc:
                run.failed(name, exc)
                continue
            return run.placed(name, call)
        raise run.exhausted()

    def find_created(self, to: str, from_: str | None = None, *, tag: str,
                     flow: FlowArg = None, answer_url: str | None = None,
                     since: datetime | None = None) -> Call | None:
        """The call a routed create with ``tag`` placed on any of the providers, or None
        when none shows one; ``AmbiguousCreate`` when a provider that could have placed it
        cannot be asked."""
        router, neutral = self._voice.router, _flow(flow)
        unknown: list[str] = []
        for name in router.config.members():
            try:
                found = self._voice.members[name].calls.find_created(
                    to, **create_args(router.config, name, from_, {
                        "tag": tag, "flow": neutral, "answer_url": answer_url,
                        "since": since}))
            except (UnsupportedFeature, ConfigError, InvalidArguments) as exc:
                if getattr(exc, "feature", None) == LOST_CREATE_LOOKUP:
                    unknown.append(name)
                continue  # this provider could not have taken the call
            except UnivoiceError as exc:
                unknown.append(f"{name} ({exc})")
                continue
            if found is not None:
                router.remember(found.id, name)
                return found
        if unknown:
            raise AmbiguousCreate(f"cannot tell whether {', '.join(unknown)} placed it",
                                  provider="routing", operation="calls.create", tag=tag)
        return None

    def of(self, call_id: str) -> Calls:
        """The calls resource of the provider that placed ``call_id``."""
        name = self._voice.router.provider_of(call_id) or self._voice.primary
        return self._voice.members[name].calls

    def get(self, call_id: str) -> Call:
        return self.of(call_id).get(call_id)

    def update(self, call_id: str, *, flow: FlowArg = None,
               redirect_url: str | None = None) -> Call:
        return self.of(call_id).update(call_id, flow=flow, redirect_url=redirect_url)

    def hangup(self, call_id: str) -> None:
        self.of(call_id).hangup(call_id)

    def wait(self, call_id: str, *, timeout: float = 600.0, interval: float = 1.0) -> Call:
        return self.of(call_id).wait(call_id, timeout=timeout, interval=interval)


class RoutedVoice(_Routed, Voice):
    """A ``Voice`` over several providers, routed by ``[routing]`` (see the module doc).

        voice = RoutedVoice({"bandwidth": Voice("bandwidth", ...), "bird": Voice(...)},
                            RoutingConfig(providers=["bandwidth", "bird"]),
                            store="sqlite:///univoice.sqlite3")
    """

    def __init__(self, members: Mapping[str, Voice], routing: RoutingConfig, *,
                 store: FlowStore | str | None = None, app_known: bool = True,
                 on_event: EventSink | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        # Not Voice.__init__: the members are the clients; this one only routes.
        _Routed.__init__(self, members, routing, store=store, app_known=app_known,
                         on_event=on_event, clock=clock)
        self.members = dict(members)
        self.primary = routing.providers[0]
        first = self.members[self.primary]
        self.provider = first.provider
        self.calls = RoutedCalls(self)
        self.recordings, self.transcriptions = first.recordings, first.transcriptions
        self.conferences, self.flows, self.webhooks = (first.conferences, first.flows,
                                                       first.webhooks)

    @classmethod
    def from_loaded(cls, config: Config, *, client: httpx.Client | None = None,
                    hooks: Hooks | None = None, on_event: EventSink | None = None) -> Self:
        assert config.routing is not None
        members = _members_from(config, Voice, client=client, hooks=hooks)
        return cls(members, config.routing, store=config.flow_store,
                   app_known=config.public_url is not None, on_event=on_event)

    def using(self, provider: str) -> Voice:
        """The client of one of the routed providers."""
        try:
            return self.members[provider]
        except KeyError:
            raise ConfigError(f"'{provider}' is not one of the routed providers: "
                              f"{', '.join(self.members)}") from None

    def __repr__(self) -> str:
        return f"<RoutedVoice providers={list(self.members)!r}>"

    def close(self) -> None:
        for member in self.members.values():
            member.close()
        if self._owns_store:
            self.router.store.close()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class AsyncRoutedCalls(AsyncCalls):
    """``voice.calls`` of an ``AsyncRoutedVoice`` (see ``RoutedCalls``)."""

    def __init__(self, voice: AsyncRoutedVoice) -> None:
        primary = voice.members[voice.primary].calls
        super().__init__(primary._run, primary._p, primary._ops.host)
        self._voice = voice

    async def create(self, to: str, from_: str | None = None, *, flow: FlowArg = None,
                     answer_url: str | None = None, ring_timeout: float | None = None,
                     max_duration: float | None = None,
                     machine_detection: bool | None = None, record: bool | None = None,
                     callback_url: str | None = None, tag: str | None = None) -> Call:
        router, tag = self._voice.router, _tag(tag)
        to, neutral = check_destination(to), _flow(flow)
        run = RouteRun(router, router.decide(to, tag=tag, flow=neutral,
                                             machine_detection=bool(machine_detection)), tag)
        options = {"flow": neutral, "answer_url": answer_url, "ring_timeout": ring_timeout,
                   "max_duration": max_duration, "machine_detection": machine_detection,
                   "record": record, "callback_url": callback_url, "tag": tag}
        # The store's calls are blocking: in a worker thread, off the event loop.
        for name in run.decision.order:
            if not await to_thread.run_sync(run.admit, name):
                continue
            try:
                call = await self._voice.members[name].calls.create(
                    to, **create_args(router.config, name, from_, options))
            except UnivoiceError as exc:
                await to_thread.run_sync(run.failed, name, exc)
                continue
            placed: Call = await to_thread.run_sync(run.placed, name, call)
            return placed
        raise run.exhausted()

    async def find_created(self, to: str, from_: str | None = None, *, tag: str,
                           flow: FlowArg = None, answer_url: str | None = None,
                           since: datetime | None = None) -> Call | None:
        router, neutral = self._voice.router, _flow(flow)
        unknown: list[str] = []
        for name in router.config.members():
            try:
                found = await self._voice.members[name].calls.find_created(
                    to, **create_args(router.config, name, from_, {
                        "tag": tag, "flow": neutral, "answer_url": answer_url,
                        "since": since}))
            except (UnsupportedFeature, ConfigError, InvalidArguments) as exc:
                if getattr(exc, "feature", None) == LOST_CREATE_LOOKUP:
                    unknown.append(name)
                continue
            except UnivoiceError as exc:
                unknown.append(f"{name} ({exc})")
                continue
            if found is not None:
                await to_thread.run_sync(router.remember, found.id, name)
                return found
        if unknown:
            raise AmbiguousCreate(f"cannot tell whether {', '.join(unknown)} placed it",
                                  provider="routing", operation="calls.create", tag=tag)
        return None

    async def of(self, call_id: str) -> AsyncCalls:
        name = await to_thread.run_sync(self._voice.router.provider_of, call_id)
        return self._voice.members[name or self._voice.primary].calls

    async def get(self, call_id: str) -> Call:
        return await (await self.of(call_id)).get(call_id)

    async def update(self, call_id: str, *, flow: FlowArg = None,
                     redirect_url: str | None = None) -> Call:
        return await (await self.of(call_id)).update(call_id, flow=flow,
                                                      redirect_url=redirect_url)

    async def hangup(self, call_id: str) -> None:
        await (await self.of(call_id)).hangup(call_id)

    async def wait(self, call_id: str, *, timeout: float = 600.0, interval: float = 1.0
                   ) -> Call:
        return await (await self.of(call_id)).wait(call_id, timeout=timeout,
                                                    interval=interval)


class AsyncRoutedVoice(_Routed, AsyncVoice):
    """The asynchronous ``RoutedVoice``."""

    def __init__(self, members: Mapping[str, AsyncVoice], routing: RoutingConfig, *,
                 store: FlowStore | str | None = None, app_known: bool = True,
                 on_event: EventSink | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        _Routed.__init__(self, members, routing, store=store, app_known=app_known,
                         on_event=on_event, clock=clock)
        self.members = dict(members)
        self.primary = routing.providers[0]
        first = self.members[self.primary]
        self.provider = first.provider
        self.calls = AsyncRoutedCalls(self)
        self.recordings, self.transcriptions = first.recordings, first.transcriptions
        self.conferences, self.flows, self.webhooks = (first.conferences, first.flows,
                                                       first.webhooks)

    @classmethod
    def from_loaded(cls, config: Config, *, client: httpx.AsyncClient | None = None,
                    hooks: Hooks | None = None, on_event: EventSink | None = None) -> Self:
        assert config.routing is not None
        members = _members_from(config, AsyncVoice, client=client, hooks=hooks)
        return cls(members, config.routing, store=config.flow_store,
                   app_known=config.public_url is not None, on_event=on_event)

    def using(self, provider: str) -> AsyncVoice:
        try:
            return self.members[provider]
        except KeyError:
            raise ConfigError(f"'{provider}' is not one of the routed providers: "
                              f"{', '.join(self.members)}") from None

    def __repr__(self) -> str:
        return f"<AsyncRoutedVoice providers={list(self.members)!r}>"

    async def aclose(self) -> None:
        for member in self.members.values():
            await member.aclose()
        if self._owns_store:
            self.router.store.close()
