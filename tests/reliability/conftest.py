"""Fixtures for the reliability tests (see harness.py)."""

from __future__ import annotations

import functools
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import httpx._transports.default as httpx_transports
import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True, scope="module")
def _one_ssl_context() -> Iterator[None]:
    """Every client these tests build talks plain HTTP to 127.0.0.1, yet httpx loads the
    CA bundle for each (about 0.1 s of CPU here, for hundreds of clients): one context,
    built once, serves them all. Nothing else about the clients changes."""
    made = functools.cache(_context)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(httpx_transports, "create_ssl_context", made)
        patch.setattr(httpx, "create_ssl_context", made)
        yield


def _context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> ssl.SSLContext:
    return httpx._config.create_ssl_context(verify=verify, cert=cert, trust_env=trust_env)
