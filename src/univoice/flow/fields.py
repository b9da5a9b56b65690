"""Constrained field types shared by the flow steps.

Each type checks one thing and says what it expected; the step models combine them.
Limits are documented here so users and providers see one set of numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

# Documented limits (README "Flow limits").
MAX_TEXT = 3000  # characters in one say step (Bandwidth SpeakSentence caps near this)
MAX_LOOP = 100
MAX_PAUSE = 600.0  # seconds
MAX_GATHER_TIMEOUT = 300.0
MAX_DIGITS = 64
MAX_RECORD = 10800.0  # three hours, the longest any provider records in one go
MAX_RING = 300.0
MAX_TARGETS = 10
MAX_STEPS = 1000  # in one list of steps
MAX_DEPTH = 8  # nested branches below the top level

Gender = Literal["female", "male"]
HttpMethod = Literal["GET", "POST"]

_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_SIP = re.compile(r"sips?:[^@\s]+@[A-Za-z0-9.\-\[\]:]+(;[^\s]*)?")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")
_KEYS = re.compile(r"[0-9*#]+")
_DTMF = re.compile(r"[0-9*#wW]+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def shown(value: str) -> str:
    """A value as it may appear in a message: lone surrogates escaped (they cannot be
    encoded, and an error message about them must not itself fail)."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _e164(value: str) -> str:
    if not _E164.fullmatch(value):
        raise PydanticCustomError(
            "e164",
            "'{value}' is not an E.164 number (expected '+', a country code and at most 15 "
            "digits in all)",
            {"value": shown(value)},
        )
    if not _is_valid_number(value):
        raise PydanticCustomError(
            "e164", "'{value}' is not a valid phone number in E.164 form",
            {"value": shown(value)})
    return value


@lru_cache(maxsize=4096)
def _is_valid_number(value: str) -> bool:
    """phonenumbers' verdict, cached: it costs ~14 us and the same numbers recur."""
    import phonenumbers  # lazy: its metadata costs import time nobody else needs

    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse(value, None)))
    except phonenumbers.NumberParseException:
        return False


def _target(value: str) -> str:
    if value.startswith(("sip:", "sips:")):
        if not _SIP.fullmatch(value):
            raise PydanticCustomError(
                "sip_uri", "'{value}' is not a SIP URI (expected sip:user@host)",
                {"value": shown(value)}
            )
        return value
    return _e164(value)


def _without_password(url: str) -> str:
    """``url`` as an error may show it: a password in its authority masked."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    user, at, host = authority.rpartition("@")
    if not (sep and at and ":" in user):
        return url
    return f"{scheme}://{user.partition(':')[0]}:***@{host}{slash}{path}"


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError(
            "http_url", "'{value}' is not an http(s) URL with a host",
            {"value": shown(_without_password(value))}
        )
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "must not be empty or only white space")
    return value


def _language(value: str) -> str:
    if not _LANGUAGE.fullmatch(value):
        raise PydanticCustomError(
            "language", "'{value}' is not a language tag such as 'en-US'", {"value": shown(value)}
        )
    return value


def _pattern(regex: re.Pattern[str], code: str, expected: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise PydanticCustomError(code, "'{value}' " + expected, {"value": shown(value)})
        return value

    return check


PhoneNumber = Annotated[str, AfterValidator(_e164)]
Target = Annotated[str, AfterValidator(_target)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
Language = Annotated[str, AfterValidator(_language)]
Keys = Annotated[str, AfterValidator(_pattern(_KEYS, "keys", "may only hold 0-9, * and #"))]
Key = Annotated[str, Field(min_length=1, max_length=1), AfterValidator(
    _pattern(_KEYS, "key", "is not one of 0-9, * or #"))]
Dtmf = Annotated[str, AfterValidator(
    _pattern(_DTMF, "dtmf", "may only hold 0-9, *, # and w (a half-second wait)"))]
VariableName = Annotated[str, AfterValidator(
    _pattern(_NAME, "variable", "is not a variable name (letters, digits, _; not first a digit)"))]
Text = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(_not_blank)]
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")]
Loop = Annotated[int, Field(ge=1, le=MAX_LOOP)]
PauseSeconds = Annotated[float, Field(gt=0, le=MAX_PAUSE)]
GatherTimeout = Annotated[float, Field(gt=0, le=MAX_GATHER_TIMEOUT)]
RecordSeconds = Annotated[float, Field(gt=0, le=MAX_RECORD)]
RingSeconds = Annotated[float, Field(gt=0, le=MAX_RING)]
