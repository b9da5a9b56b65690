"""The ``[messagebird]`` table of ``univoice.toml`` (or ``UNIVOICE_MESSAGEBIRD__*``).

    [messagebird]
    access_key = "..."        # live or test key: Authorization: AccessKey <key>
    signing_key = "..."       # dashboard signing key: verifies MessageBird's signed callbacks
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from univoice.flow.fields import HttpUrl
from univoice.provider import ProviderSettings

API_URL = "https://voice.messagebird.com"
API_VERSION = "20170314"  # the documented default of the X-MessageBird-Version header


class MessageBirdSettings(ProviderSettings):
    access_key: SecretStr | None = None  # needed for REST calls only
    # Verifies callbacks (MessageBird-Signature-JWT). Without it every callback is refused.
    signing_key: SecretStr | None = None
    api_url: HttpUrl = API_URL
    api_version: str = Field(API_VERSION, pattern=r"^[0-9]{8}$")
