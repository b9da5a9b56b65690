"""The ``[bandwidth]`` table of ``univoice.toml`` (or ``UNIVOICE_BANDWIDTH__*``).

    [bandwidth]
    account_id = "9900000"
    application_id = "04e88489-df02-4e34-a0ee-27a91849555f"
    client_id = "..."                 # OAuth2 client credentials (Bandwidth's current way)
    client_secret = "..."             # or: username + password (legacy API user, HTTP Basic)
    callback_username = "univoice"    # what Bandwidth must send on every callback
    callback_password = "..."

Bandwidth does not sign callbacks: it sends the HTTP Basic credentials the call was given
for each callback URL. univoice gives ``callback_username``/``callback_password`` on every
URL it hands out, and the webhook app refuses any callback without them.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, SecretStr, model_validator

from univoice.flow.fields import HttpUrl
from univoice.provider import ProviderSettings

API_URL = "https://voice.bandwidth.com/api/v2"
# Bandwidth's OAuth2 token endpoint (client credentials, HTTP Basic client_id:secret).
# S105: a public endpoint, not a secret
TOKEN_URL = "https://api.bandwidth.com/api/v1/oauth2/token"  # noqa: S105

AccountId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
# Bandwidth: username/password on callbacks are strings of at most 1024 characters.
Credential = Annotated[str, Field(min_length=1, max_length=1024)]


class BandwidthSettings(ProviderSettings):
    account_id: AccountId
    application_id: str | None = Field(None, min_length=1, max_length=128)
    # API credentials: an OAuth2 client (client_id + client_secret) or a legacy API user
    # (username + password, HTTP Basic). Only needed for REST calls.
    client_id: str | None = Field(None, min_length=1, max_length=256)
    client_secret: SecretStr | None = None
    username: str | None = Field(None, min_length=1, max_length=256)
    password: SecretStr | None = None
    # Sent by Bandwidth on every callback univoice asks for; checked by the webhook app.
    callback_username: Credential | None = None
    callback_password: SecretStr | None = Field(None, min_length=1, max_length=1024)
    api_url: HttpUrl = API_URL
    token_url: HttpUrl = TOKEN_URL

    @model_validator(mode="after")
    def _pairs(self) -> Self:
        for first, second in (("client_id", "client_secret"), ("username", "password"),
                              ("callback_username", "callback_password")):
            if (getattr(self, first) is None) != (getattr(self, second) is None):
                given, absent = (first, second) if getattr(self, first) else (second, first)
                raise ValueError(f"{given} is set but {absent} is not: give both or neither")
        if self.client_id is not None and self.username is not None:
            raise ValueError("give either client_id/client_secret (OAuth2) or "
                             "username/password (API user), not both")
        return self
