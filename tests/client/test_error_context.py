"""A typed error carries no hidden copy of a provider's answer: an answer that echoes the
credentials must not be reachable through ``__context__`` / ``__cause__`` either (a
debugger, Sentry or ``traceback.format_exception(..., chain=True)`` would show it)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from univoice import Flow, Voice
from univoice.errors import AmbiguousCreate

SECRET = "ak-live-0123456789abcdef"
WS, CH = "0b6e2a3c-1111-4222-8333-444455556666", "9d1e2f3a-aaaa-4bbb-8ccc-ddddeeeeffff"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    stack: list[BaseException | None] = [exc]
    while stack:
        item = stack.pop()
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        stack += [item.__context__, item.__cause__]
    return seen


def _texts(exc: BaseException) -> str:
    parts: list[str] = []
    for item in _chain(exc):
        parts.append(repr(item))
        parts += [repr(v) for v in vars(item).values()]
        parts += [repr(a) for a in item.args]
    return "\n".join(parts)


@pytest.mark.parametrize("lookup", ["unreadable", "fails"])
def test_an_ambiguous_create_keeps_no_echoed_answer(lookup: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        echoed = f"<html>{request.headers.get('authorization')}"
        if request.method == "POST":
            return httpx.Response(202, text=echoed)  # accepted, but unreadable
        if lookup == "fails":
            return httpx.Response(401, text=echoed)
        return httpx.Response(200, text=echoed)

    voice = Voice("bird", workspace_id=WS, channel_id=CH, access_key=SECRET,
                  client=httpx.Client(transport=httpx.MockTransport(answer)),
                  http={"max_attempts": 1})
    with pytest.raises(AmbiguousCreate) as failure:
        voice.calls.create(to="+31612345678", from_="+31201234567",
                           flow=Flow.from_dict(["hangup"]))
    everything: Any = _texts(failure.value)
    assert SECRET not in everything


def test_the_async_client_too() -> None:
    import asyncio

    from univoice import AsyncVoice

    async def answer(request: httpx.Request) -> httpx.Response:
        echoed = f"<html>{request.headers.get('authorization')}"
        return httpx.Response(202 if request.method == "POST" else 200, text=echoed)

    async def main() -> BaseException:
        voice = AsyncVoice("bird", workspace_id=WS, channel_id=CH, access_key=SECRET,
                           client=httpx.AsyncClient(transport=httpx.MockTransport(answer)),
                           http={"max_attempts": 1})
        try:
            await voice.calls.create(to="+31612345678", from_="+31201234567",
                                     flow=Flow.from_dict(["hangup"]))
        except AmbiguousCreate as exc:
            return exc
        finally:
            await voice.aclose()
        raise AssertionError("no AmbiguousCreate")

    assert SECRET not in _texts(asyncio.run(main()))
