"""Plant known secrets, then scan every channel univoice writes to: none may show them."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from univoice import Config, Voice
from univoice.errors import AuthenticationError, ConfigError, UnivoiceError
from univoice.transport import Hooks

from ..cli.conftest import Result

KEY = "sk-planted-0123456789abcdef"
PASSWORD = "pw-planted-s3cr3t-value"


def test_client_channels_never_show_the_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="univoice")
    seen: list[str] = []

    def request_hook(request: httpx.Request) -> None:
        seen.append(f"{request.method} {request.url} {dict(request.headers)} "
                    f"{request.content!r}")

    def response_hook(request: httpx.Request, response: httpx.Response) -> None:
        seen.append(f"{dict(request.headers)} {response.status_code}")

    voice = Voice("simulator", api_key=KEY, hooks=Hooks(request=[request_hook],
                                                        response=[response_hook]))
    call = voice.calls.create("+31612345678", "+31201234567",
                              flow={"steps": [{"say": f"the key is not {KEY[:5]}"}]})
    voice.calls.get(call.id)
    voice.provider.backend.api_key = "something-else"  # type: ignore[attr-defined]
    with pytest.raises(AuthenticationError) as err:
        voice.calls.get(call.id)
    texts = [*seen, str(err.value), repr(err.value), str(err.value.raw), repr(voice),
             repr(voice.provider), repr(voice.provider.settings), str(voice.provider.settings),
             caplog.text]
    # The key was sent (the response hook sees the final request), masked.
    assert any("'authorization': '***'" in text for text in seen)
    for text in texts:
        assert KEY not in text


def test_config_never_shows_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        cli: object) -> None:
    cfg = tmp_path / "univoice.toml"
    cfg.write_text(f'provider = "simulator"\n[bandwidth]\npassword = "{PASSWORD}"\n'
                   'username = "api-user"\n')
    monkeypatch.setenv("UNIVOICE_SIMULATOR__API_KEY", KEY)
    config = Config.load(cfg)
    assert config.provider_table()["api_key"] == KEY  # it is there to be used...
    shown = str(config.shown())
    for text in (shown, repr(config), str(config), str(config.model_dump())):
        assert KEY not in text
        assert PASSWORD not in text
    assert "api-user" in shown
    run = cli  # the in-process CLI runner fixture
    assert callable(run)
    for args in (["config", "show", "--config", str(cfg)],
                 ["config", "show", "--json", "--config", str(cfg)],
                 ["config", "check", "--config", str(cfg)]):
        result: Result = run(*args)
        assert result.code == 0, result.err
        assert KEY not in result.out + result.err
        assert PASSWORD not in result.out + result.err


def test_bad_settings_error_does_not_echo_values() -> None:
    with pytest.raises(ConfigError) as err:
        Voice("simulator", api_key=KEY, speed=-5)
    assert "speed" in str(err.value)
    assert KEY not in str(err.value)


def test_unknown_setting_is_a_config_error() -> None:
    with pytest.raises(UnivoiceError, match="colour"):
        Voice("simulator", colour="red")
