"""Keeping secrets out of everything univoice shows: reprs, logs, errors, hooks, raw payloads.

Two nets: header and field names that always hold secrets, and the configured secret
values themselves (so a password echoed back inside some other field is caught too).
"""

from __future__ import annotations

import json
import re
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


class Redactor:
    """Masks known secret values and secret-named fields."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Short values would mask innocent text; providers' secrets are long. Each is also
        # masked as it reads once URL-encoded or JSON-escaped.
        forms = set()
        for secret in secrets:
            if secret and len(secret) >= 4:
                forms |= {secret, quote(secret, safe=""), quote_plus(secret),
                          json.dumps(secret)[1:-1]}
        self._secrets = sorted(forms, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._secrets:
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
