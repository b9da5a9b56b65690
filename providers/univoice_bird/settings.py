"""The ``[bird]`` table of ``univoice.toml`` (or ``UNIVOICE_BIRD__*``).

    [bird]
    access_key = "..."          # Authorization: AccessKey <key>
    workspace_id = "..."        # the workspace and the Voice channel (a number) calls use
    channel_id = "..."
    signing_key = "..."         # the webhook subscription's signing key
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr

from univoice.flow.fields import HttpUrl
from univoice.provider import ProviderSettings

API_URL = "https://api.bird.com"
Uuid = Annotated[str, Field(pattern=r"^[0-9a-fA-F-]{8,64}$")]


class BirdSettings(ProviderSettings):
    workspace_id: Uuid
    channel_id: Uuid
    access_key: SecretStr | None = None  # needed for REST calls only
    signing_key: SecretStr | None = None  # verifies callbacks; without it all are refused
    api_url: HttpUrl = API_URL
