"""Mounting the console on a ``VoiceApp`` (``univoice serve`` does, when it is enabled)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from univoice.console import PATH
from univoice.console.catalog import Catalog
from univoice.console.settings import check
from univoice.errors import UnivoiceError
from univoice.redact import Redactor

if TYPE_CHECKING:
    from univoice.config import Config
    from univoice.webhooks.app import VoiceApp

log = logging.getLogger("univoice.console")


def attach(app: VoiceApp, config: Config, catalog: Catalog) -> bool:
    """Serve the console at ``/univoice/console`` when ``config.console.enabled``;
    ``ConfigError`` when it is enabled without credentials. True when mounted."""
    settings = config.console
    check(settings)
    if not settings.enabled:
        return False
    from univoice.console.web import Console, console_app
    from univoice.plugins import provider_names

    username, password = settings.credentials()
    console = Console(app.store, catalog, provider_names(), config.provider,
                      Redactor([password, *_provider_secrets(config)]))
    app.on()(console.feed.handled)
    app.mount(PATH, console_app(console, username, password))
    log.info("console at %s (%d flows)", PATH, len(catalog))
    return True


def _provider_secrets(config: Config) -> list[str]:
    """The providers' configured secret values (settings with secret-looking names, and
    whatever each complete provider reports), masked wherever an event shows them."""
    from univoice.plugins import provider_names
    from univoice.redact import is_secret_field

    found: list[str] = []
    for name in provider_names():
        table = config.provider_table(name)
        found += [str(v) for k, v in table.items() if is_secret_field(k) and v]
        if table:
            try:
                found += config.make_provider(name).secrets()
            except UnivoiceError:  # incomplete settings: their secret fields are above
                continue
    return found
