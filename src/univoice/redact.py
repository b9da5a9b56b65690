"""Keeping secrets out of everything univoice shows: reprs, logs, errors, hooks, raw payloads.

Two nets: header and field names that always hold secrets, and the configured secret
values themselves (so a password echoed back inside some other field is caught too).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie",
                            "x-api-key"})
_SECRET_FIELD = re.compile(
    r"(pass(word)?|secret|token|access[_-]?key|api[_-]?key|signing[_-]?key|authorization"
    r"|credentials?)$", re.IGNORECASE)


def is_secret_field(name: str) -> bool:
    return bool(_SECRET_FIELD.search(name.replace("-", "_")))


class LiveSecrets(list[str]):
    """A provider's secrets, some of which become known only later: an OAuth2 access token
    is fetched on the first request, after the transport built its ``Redactor``. A
    ``Redactor`` made from this list re-reads it whenever ``learn`` changed it, so a token
    an API echoes back (in an error description, say) is masked like any configured secret.

    The settings' secrets stay; of the learned ones only the latest ``keep`` are kept (a
    long-running client renews its token every hour).
    """

    def __init__(self, secrets: Iterable[str] = (), *, keep: int = 8) -> None:
        super().__init__(secrets)
        self._fixed = len(self)
        self._keep = keep
        self._lock = threading.Lock()
        self.version = 0

    def __repr__(self) -> str:  # a list's repr would print every secret it holds
        return f"<LiveSecrets: {len(self)} values>"

    def learn(self, secret: str) -> None:
        with self._lock:
            if not secret or secret in self:
                return
            self.append(secret)
            if len(self) - self._fixed > self._keep:
                del self[self._fixed]
            self.version += 1


def _forms(secrets: Iterable[str]) -> list[str]:
    # Short values would mask innocent text; providers' secrets are long. Each is also
    # masked as it reads once URL-encoded or JSON-escaped.
    forms = set()
    for secret in secrets:
        if secret and len(secret) >= 4:
            forms |= {secret, quote(secret, safe=""), quote_plus(secret),
                      json.dumps(secret)[1:-1]}
    return sorted(forms, key=len, reverse=True)


class Redactor:
    """Masks known secret values and secret-named fields."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._live = secrets if isinstance(secrets, LiveSecrets) else None
        self._version = self._live.version if self._live is not None else 0
        self._secrets = _forms(list(secrets))

    def _current(self) -> list[str]:
        live = self._live
        if live is not None and live.version != self._version:
            version = live.version  # read first: a change while copying is seen next time
            self._secrets = _forms(list(live))
            self._version = version
        return self._secrets

    def secrets(self) -> list[str]:
        """The secret values (and their encoded forms) being masked."""
        return self._current()

    def text(self, value: str) -> str:
        for secret in self._current():
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {k: MASK if k.lower() in SECRET_HEADERS else self.text(v)
                for k, v in headers.items()}

    def payload(self, value: Any) -> Any:
        """A copy of a JSON-like value with secret fields and secret values masked."""
        if isinstance(value, dict):
            return {k: MASK if isinstance(k, str) and is_secret_field(k) and v not in (None, "")
                    else self.payload(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.payload(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value
