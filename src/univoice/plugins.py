"""Finding providers and other plugins through the ``univoice`` entry-point group.

Bundled providers (the simulator included) are registered by entry point exactly as a
third-party plugin is, so the core never imports a provider by name. A plugin that fails
to load is recorded and reported, not allowed to break every other provider.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import pluggy

from univoice import hooks
from univoice.errors import ProviderNotFound

if TYPE_CHECKING:
    from univoice.capabilities import Feature, Resource
    from univoice.provider import Provider

GROUP = "univoice"
DEFAULT_PROVIDER = "simulator"


@dataclass
class Registry:
    manager: pluggy.PluginManager
    broken: dict[str, str] = field(default_factory=dict)  # entry point -> why it failed

    def providers(self) -> dict[str, type[Provider]]:
        found: dict[str, type[Provider]] = {}
        for provided in self.manager.hook.univoice_providers():
            for cls in provided:
                found.setdefault(cls.name, cls)
        return dict(sorted(found.items(), key=lambda kv: (kv[0] != DEFAULT_PROVIDER, kv[0])))


def new_registry(*, load_entry_points: bool = True, plugins: tuple[Any, ...] = ()) -> Registry:
    manager = pluggy.PluginManager(hooks.PROJECT)
    manager.add_hookspecs(hooks)
    registry = Registry(manager)
    if load_entry_points:
        for ep in entry_points(group=GROUP):
            if manager.get_plugin(ep.name) is not None:
                continue
            try:
                manager.register(ep.load(), name=ep.name)
            except Exception as exc:  # a third party's bug must not break the others
                registry.broken[ep.name] = f"{type(exc).__name__}: {exc}"
    for plugin in plugins:
        manager.register(plugin)
    return registry


@cache
def registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    return new_registry()


def providers() -> dict[str, type[Provider]]:
    return registry().providers()


def provider_names() -> list[str]:
    return list(providers())


def provider_class(name: str | None = None) -> type[Provider]:
    name = name or DEFAULT_PROVIDER
    if registry.cache_info().currsize == 0:  # every plugin not loaded yet: try just one
        alone = _alone(name)
        if alone is not None:
            return alone
    found = providers()
    if name not in found:
        raise ProviderNotFound(name, list(found))
    return found[name]


@cache
def _alone(name: str) -> type[Provider] | None:
    """The provider ``name`` from the entry point of that name alone (a bundled provider's
    is), without importing every other plugin: a serverless cold start pays for one."""
    found = new_registry(load_entry_points=False)
    for ep in entry_points(group=GROUP, name=name):
        try:
            found.manager.register(ep.load(), name=ep.name)
        except Exception:  # reported when the whole registry loads
            return None
    return found.providers().get(name)


def get_provider(name: str | None = None, **settings: Any) -> Provider:
    """An instance of the provider called ``name`` (default: the simulator)."""
    return provider_class(name)(**settings)


def providers_supporting(feature: Feature | Resource) -> list[str]:
    return [name for name, cls in providers().items()
            if feature in cls.capabilities.features or feature in cls.capabilities.resources]
