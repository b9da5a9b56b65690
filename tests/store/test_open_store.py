"""open_store: dispatch on the URL scheme, one-line errors, secrets masked."""

from __future__ import annotations

import pytest

from univoice.errors import ConfigError
from univoice.store import FlowStore, open_store
from univoice.store.base import mask_url
from univoice.store.sqlite import SqliteStore


def test_sqlite_url_opens_a_sqlite_store() -> None:
    with open_store("sqlite://:memory:", ttl=10) as store:
        assert isinstance(store, SqliteStore)
        assert isinstance(store, FlowStore)
        assert store.ttl == 10


@pytest.mark.parametrize("url", [
    "postgres://user:hunter22@db/univoice", "univoice.db", "memcached://x", "",
])
def test_unknown_scheme_is_a_one_line_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="unsupported flow store URL") as caught:
        open_store(url)
    assert "\n" not in str(caught.value)
    assert "hunter22" not in str(caught.value)


def test_bad_ttl_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ttl"):
        open_store("sqlite://:memory:", ttl=0)


@pytest.mark.parametrize(("url", "shown"), [
    ("redis://:pw@host:6379/0", "redis://:***@host:6379/0"),
    ("rediss://user:pw@host/1", "rediss://user:***@host/1"),
    ("redis://host:6379/0", "redis://host:6379/0"),
    ("redis://host/0?password=pw&timeout=1", "redis://host/0?password=***&timeout=1"),
    ("redis://user@host/0", "redis://user@host/0"),
])
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown
