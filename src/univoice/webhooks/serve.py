"""The app ``univoice serve`` runs: built from the configuration in each worker process.

uvicorn imports ``create_app`` by name in every worker, so the options travel through
``UNIVOICE_*`` environment variables (``UNIVOICE_SERVE_FLOW`` for the inbound flow file,
``UNIVOICE_SERVE_APP`` for a ``module:attribute`` VoiceApp of the user's own).
"""

from __future__ import annotations

import importlib
import os

from univoice.config import Config
from univoice.errors import ConfigError
from univoice.webhooks.app import VoiceApp


def create_app() -> VoiceApp:
    target = os.environ.get("UNIVOICE_SERVE_APP")
    if target:
        return with_console(load_app(target), Config.load(), own=True)
    from univoice.flow import Flow

    config = Config.load()
    numbers = {k: Flow.load(v) for k, v in config.inbound.items() if k != "default"}
    flow_file = os.environ.get("UNIVOICE_SERVE_FLOW") or config.inbound.get("default")
    default_flow = Flow.load(flow_file) if flow_file else None
    public = str(config.public_url or os.environ.get("UNIVOICE_SERVE_URL", "http://127.0.0.1:8000"))
    app = VoiceApp(public_url=public, store=config.flow_store, default_flow=default_flow,
                   inbound=numbers, routing=config.routing,
                   providers=[config.make_provider(name) for name in _configured(config)])
    return with_console(app, config, flow_file=flow_file)


def with_console(app: VoiceApp, config: Config, *, flow_file: str | None = None,
                 own: bool = False) -> VoiceApp:
    """Mount the web console on ``app`` when ``[console] enabled`` (``univoice.console``),
    listing the configured inbound flows; for an app of the user's (``own``), its
    default flow."""
    if config.console.enabled:
        from univoice.console.catalog import catalog_of
        from univoice.console.mount import attach

        numbers = {k: v for k, v in config.inbound.items() if k != "default"}
        catalog = catalog_of({} if own else numbers, flow_file,
                             examples=config.console.examples,
                             default_flow=app.inbound_flow(None) if own else None)
        attach(app, config, catalog)
    return app


def load_app(target: str) -> VoiceApp:
    """``module:attribute`` naming a VoiceApp, or a function that makes one (as uvicorn
    names apps and factories)."""
    module_name, _, attribute = target.partition(":")
    try:
        app = getattr(importlib.import_module(module_name), attribute or "app")
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load the app {target!r}: {exc}") from None
    if callable(app) and not isinstance(app, VoiceApp):
        app = app()
    if not isinstance(app, VoiceApp):
        raise ConfigError(f"{target!r} is a {type(app).__name__}, not a univoice VoiceApp")
    return app


def _configured(config: Config) -> list[str]:
    # The configured provider, and every routed one, with its settings (each verifies its
    # callbacks with them); others are created on demand.
    routed = config.routing.members() if config.routing is not None else []
    return [config.provider, *(n for n in routed if n != config.provider)]
