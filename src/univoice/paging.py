"""Lazy iteration over paged lists: nothing is fetched until the first item is asked for."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Generic, TypeVar

from univoice.errors import ProviderError
from univoice.models import Page

T = TypeVar("T")


class _Cursor:
    """Tracks the position in a list and refuses a provider's cursor that goes nowhere."""

    def __init__(self, provider: str, operation: str, limit: int | None) -> None:
        self.provider, self.operation, self.limit = provider, operation, limit
        self.cursor: str | None = None
        self.seen: set[str] = set()
        self.count = 0

    def full(self) -> bool:
        return self.limit is not None and self.count >= self.limit

    def advance(self, page: Page[T]) -> bool:
        """Move to the next page; False when the list is done."""
        nxt = page.next_cursor
        if not nxt:  # an empty page with a cursor is followed: some providers page sparsely
            return False
        if nxt in self.seen:
            raise ProviderError("pagination returned a cursor it had already returned",
                                provider=self.provider, operation=self.operation)
        self.seen.add(nxt)
        self.cursor = nxt
        return True


class Pager(Generic[T]):
    """``for call in voice.calls.list(limit=100): ...`` — pages are fetched as needed."""

    def __init__(self, fetch: Callable[[str | None], Page[T]], *, provider: str,
                 operation: str, limit: int | None = None) -> None:
        self._fetch = fetch
        self._state = (provider, operation, limit)

    def __iter__(self) -> Iterator[T]:
        pos = _Cursor(*self._state)
        while not pos.full():
            page = self._fetch(pos.cursor)
            for item in page.items:
                if pos.full():
                    return
                pos.count += 1
                yield item
            if not pos.advance(page):
                return


class AsyncPager(Generic[T]):
    """``async for call in voice.calls.list(limit=100): ...``"""

    def __init__(self, fetch: Callable[[str | None], Awaitable[Page[T]]], *, provider: str,
                 operation: str, limit: int | None = None) -> None:
        self._fetch = fetch
        self._state = (provider, operation, limit)

    async def __aiter__(self) -> AsyncIterator[T]:
        pos = _Cursor(*self._state)
        while not pos.full():
            page = await self._fetch(pos.cursor)
            for item in page.items:
                if pos.full():
                    return
                pos.count += 1
                yield item
            if not pos.advance(page):
                return
