"""Configuration: ``univoice.toml`` overridden by ``UNIVOICE_*`` environment variables.

    provider = "bandwidth"                  # one line switches provider
    public_url = "https://voice.example.com/univoice"

    [bandwidth]                             # one table per provider, checked by it
    account_id = "9900000"
    username = "api-user"
    password = "..."                        # or UNIVOICE_BANDWIDTH__PASSWORD

    [http]
    timeout = 10
    max_attempts = 3

    [inbound]                               # which flow answers a call to which number
    "+31201234567" = "flows/support.yaml"
    default = "flows/closed.yaml"

    [console]                               # the web console of ``univoice serve``
    enabled = true
    username = "ops"
    password = "..."                        # or UNIVOICE_CONSOLE__PASSWORD

pydantic-settings reads the file and the environment; each provider validates its own
table with its settings model (secrets as ``SecretStr``: masked wherever shown).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from univoice.console.settings import ConsoleConfig
from univoice.errors import ConfigError
from univoice.flow.fields import HttpUrl
from univoice.redact import MASK, is_secret_field
from univoice.retry import RetryPolicy
from univoice.routing.config import RoutingConfig
from univoice.transport import HttpSettings

if TYPE_CHECKING:
    from univoice.provider import Provider

ENV_PREFIX = "UNIVOICE_"
DEFAULT_FILE = "univoice.toml"
DEFAULT_STORE = "sqlite:///univoice.sqlite3"


class HttpConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout: float = Field(15.0, gt=0, le=600)
    connect_timeout: float = Field(5.0, gt=0, le=120)
    max_connections: int = Field(100, ge=1, le=10_000)
    max_keepalive: int = Field(20, ge=0, le=10_000)
    max_attempts: int = Field(3, ge=1, le=10)
    backoff: float = Field(0.5, ge=0, le=60)
    max_backoff: float = Field(8.0, ge=0, le=600)
    max_retry_after: float = Field(60.0, ge=0, le=3600)
    settle: float = Field(5.0, ge=0, le=600)
    async_backend: Literal["aiohttp", "httpx"] = "aiohttp"

    def settings(self) -> HttpSettings:
        return HttpSettings(
            timeout=self.timeout, connect_timeout=self.connect_timeout,
            max_connections=self.max_connections, max_keepalive=self.max_keepalive,
            retry=RetryPolicy(max_attempts=self.max_attempts, backoff=self.backoff,
                              max_backoff=self.max_backoff,
                              max_retry_after=self.max_retry_after, settle=self.settle),
            async_backend=self.async_backend)


class Config(BaseSettings):
    """The effective configuration. Provider tables are kept as given until checked."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__",
                                      extra="forbid", frozen=True)

    # A plugin name (an entry point): anything else is a mistake, maybe a pasted secret.
    provider: str = Field("simulator", pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    public_url: HttpUrl | None = None
    flow_store: str = DEFAULT_STORE
    http: HttpConfig = Field(default_factory=HttpConfig)
    # Inbound calls: called number (E.164) -> flow file; "default" answers the rest.
    inbound: dict[str, str] = Field(default_factory=dict)
    # Several providers with rules and failover (univoice.routing); None: ``provider`` only.
    routing: RoutingConfig | None = None
    # The web console ``univoice serve`` mounts (off unless enabled; needs credentials).
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)
    source: str | None = Field(None, exclude=True)  # the file read, if any
    # Provider tables as given (credentials included): private, so never in a repr or dump.
    _tables: dict[str, dict[str, Any]] = PrivateAttr(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file arrives as init values; the environment must override it.
        return (env_settings, init_settings)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Config:
        """Read ``path`` (or ``$UNIVOICE_CONFIG``, or ./univoice.toml if present) and the
        environment."""
        data, source = _read_file(path)
        tables = {k: data.pop(k) for k in list(data)
                  if isinstance(data[k], dict) and k not in cls.model_fields}
        try:
            config = cls(**data, source=source)
        except ValidationError as exc:
            raise ConfigError(_problems(exc, source)) from None
        config._tables = tables
        return config

    def with_table(self, name: str, values: dict[str, Any]) -> Config:
        """A copy whose ``name`` table has ``values`` on top (for programmatic overrides)."""
        copy = self.model_copy()
        copy._tables = {**self._tables, name: {**self._tables.get(name, {}), **values}}
        return copy

    def provider_table(self, name: str | None = None) -> dict[str, Any]:
        """The settings of provider ``name``: its file table, overridden by the environment."""
        name = name or self.provider
        table = dict(self._tables.get(name) or {})
        prefix = f"{ENV_PREFIX}{name.upper()}__"
        for key, value in os.environ.items():
            if key.upper().startswith(prefix):
                table[key[len(prefix):].lower()] = value
        return table

    def make_provider(self, name: str | None = None) -> Provider:
        from univoice.plugins import get_provider

        return get_provider(name or self.provider, **self.provider_table(name))

    def missing(self) -> list[str]:
        """What the chosen provider, and every routed one, still needs, one line each
        ([] when complete)."""
        routed = self.routing.members() if self.routing is not None else []
        names = [self.provider, *(n for n in routed if n != self.provider)]
        return [line for name in names for line in self._missing(name)]

    def _missing(self, name: str) -> list[str]:
        from univoice.plugins import providers

        found = providers()
        if name not in found:
            return [f"provider '{name}' is not installed; installed: "
                    f"{', '.join(found)}"]
        model = found[name].settings_model
        try:
            model(**self.provider_table(name))
        except ValidationError as exc:
            out = []
            for err in exc.errors(include_url=False, include_input=False):
                field = ".".join(str(p) for p in err["loc"])
                env = f"{ENV_PREFIX}{name.upper()}__{field.upper()}"
                if err["type"] == "missing":
                    out.append(f"{name}.{field} is missing (set it in the "
                               f"[{name}] table or {env})")
                elif err["type"] == "extra_forbidden":
                    out.append(f"{name}.{field} is not a setting of {name}")
                else:
                    out.append(f"{name}.{field}: {err['msg']}")
            return out
        return []

    def __repr_args__(self) -> Any:
        # A URL may carry a password (redis://:pw@host): masked, as in ``shown``.
        for name, value in super().__repr_args__():
            yield name, (_mask_url(value) if name in _URLS and isinstance(value, str)
                         else value)

    def shown(self) -> dict[str, Any]:
        """The effective configuration with every secret masked (for ``config show``)."""
        out: dict[str, Any] = self.model_dump(mode="json")
        for name in _URLS:
            if isinstance(out.get(name), str):
                out[name] = _mask_url(out[name])
        out["source"] = self.source or "(no file: defaults and environment)"
        for name in {*self._tables, self.provider}:
            out[name] = _masked(self.provider_table(name))
        return out


_URLS = ("flow_store", "public_url")  # fields holding URLs that may carry a password


def _mask_url(url: str) -> str:
    from univoice.store.base import mask_url

    return mask_url(url)


def _masked(table: dict[str, Any]) -> dict[str, Any]:
    return {k: MASK if (is_secret_field(k) or isinstance(v, SecretStr)) and v else
            _masked(v) if isinstance(v, dict) else
            _mask_url(v) if isinstance(v, str) and "://" in v else v  # a URL's password
            for k, v in table.items()}


def _read_file(path: str | Path | None) -> tuple[dict[str, Any], str | None]:
    explicit = path or os.environ.get(f"{ENV_PREFIX}CONFIG")
    file = Path(explicit) if explicit else Path(DEFAULT_FILE)
    if not file.is_file():
        if explicit:
            raise ConfigError(f"config file {file} does not exist")
        return {}, None
    try:
        return tomllib.loads(file.read_text(encoding="utf-8")), str(file)
    # ValueError: TOMLDecodeError, UnicodeDecodeError, and an integer of more digits than
    # int() reads (4,300).
    except (ValueError, OSError) as exc:
        raise ConfigError(f"cannot read config file {file}: {exc}") from None


def _problems(exc: ValidationError, source: str | None) -> str:
    where = f" in {source}" if source else ""
    lines = [f"invalid configuration{where}:"]
    for err in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in err["loc"])
        lines.append(f"  {field}: {'missing' if err['type'] == 'missing' else err['msg']}")
    return "\n".join(lines)
