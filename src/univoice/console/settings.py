"""The ``[console]`` table of ``univoice.toml`` (``UNIVOICE_CONSOLE__*`` overrides it).

    [console]
    enabled = true
    username = "ops"
    password = "..."          # or UNIVOICE_CONSOLE__PASSWORD; masked in `config show`

The rule: the console is off unless enabled, and it cannot be enabled without a username
and a password (``check`` refuses it with a ``ConfigError``, so ``univoice serve`` does
not start). No "open on loopback" exception: behind a reverse proxy on the same host every
request comes from 127.0.0.1, so the peer address proves nothing.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from univoice.errors import ConfigError


class ConsoleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    username: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[^:\s]+$")
    password: SecretStr | None = None
    # List univoice's bundled example flows beside the configured ones.
    examples: bool = True

    def credentials(self) -> tuple[str, str]:
        """(username, password); ``ConfigError`` when either is missing or empty."""
        check(self)
        assert self.username is not None and self.password is not None
        return self.username, self.password.get_secret_value()


def check(console: ConsoleConfig) -> None:
    """Refuse an enabled console without credentials (see the module's docstring)."""
    if not console.enabled:
        return
    missing = [name for name, value in (
        ("console.username", console.username),
        ("console.password", console.password.get_secret_value() if console.password
         else None)) if not value]
    if missing:
        raise ConfigError(
            f"the console is enabled but {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set: set both in the [console] "
            "table (or UNIVOICE_CONSOLE__USERNAME / UNIVOICE_CONSOLE__PASSWORD); the "
            "console never runs without credentials")
