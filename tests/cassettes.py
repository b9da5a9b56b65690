"""The cassette harness for univoice's contract tests.

Every REST operation of a provider adapter is tested by replaying a vcrpy cassette from
``cassettes/<provider>/``, and every recorded request and response is validated against the
provider's OpenAPI document (``tests/specs/``, see ``tests/specs/CORRECTIONS.md``).

Using it in a contract test::

    from tests.cassettes import provider_env, use_cassette, validate_cassette

    def test_get_call() -> None:
        env = provider_env("bandwidth")            # real values when recording, placeholders else
        with use_cassette("bandwidth", "get_call") as cassette:
            ...                                    # drive the adapter through httpx
        validate_cassette("bandwidth", cassette)   # every interaction against the spec

Record modes
    * ``none`` (default): replay only. A request with no recorded match raises
      ``vcr.errors.CannotOverwriteExistingCassetteException``; nothing reaches the network.
    * ``CI`` set (to anything but ``""``, ``0``, ``false``): always ``none``, whatever else
      is asked for, including an explicit ``record_mode=`` argument.
    * ``UNIVOICE_RECORD=1`` (or ``once``): vcrpy mode ``once`` - a cassette whose file is
      missing is recorded against the live API; an existing cassette is replayed and a request
      it lacks fails. To re-record a cassette, delete its file first (or use ``all``).
      ``UNIVOICE_RECORD=new_episodes`` appends new interactions to existing cassettes;
      ``UNIVOICE_RECORD=all`` re-records every cassette used.

Re-recording against a live account (see also cassettes/README.md)::

    UNIVOICE_RECORD=1 BANDWIDTH_ACCOUNT_ID=... BANDWIDTH_USERNAME=... BANDWIDTH_PASSWORD=... \\
        BANDWIDTH_APPLICATION_ID=... python -m pytest tests/contract -k bandwidth
    # or, with an OAuth2 client instead of an API user:
    UNIVOICE_RECORD=1 BANDWIDTH_ACCOUNT_ID=... BANDWIDTH_CLIENT_ID=... \\
        BANDWIDTH_CLIENT_SECRET=... BANDWIDTH_APPLICATION_ID=... \\
        python -m pytest tests/contract -k bandwidth
    UNIVOICE_RECORD=1 MESSAGEBIRD_ACCESS_KEY=... python -m pytest tests/contract -k messagebird
    UNIVOICE_RECORD=1 BIRD_ACCESS_KEY=... BIRD_WORKSPACE_ID=... BIRD_CHANNEL_ID=... \\
        python -m pytest tests/contract -k bird

Optional, per provider: ``<PROVIDER>_FROM_NUMBER`` / ``<PROVIDER>_TO_NUMBER`` (the numbers
a live call uses; replaced by fictional placeholders in cassettes) and, for MessageBird and
Bird, ``<PROVIDER>_SIGNING_KEY`` (webhook signing key; scrubbed like any secret).

What never reaches a cassette (applied at record time by ``before_record_request`` /
``before_record_response`` hooks, then once more over the serialized YAML):
    * request headers that carry credentials (``Authorization``, ``Proxy-Authorization``,
      ``Cookie``, ``X-Api-Key``, any header named like a secret) -> ``<redacted>``;
    * ``Set-Cookie`` response headers -> dropped;
    * JSON fields named like credentials (``univoice.redact.is_secret_field``: password,
      token, accessKey, signingKey, ... at any depth, in request and response bodies), query
      parameters, form fields and XML (BXML) attributes so named -> ``<redacted>``;
    * the values of the provider's secret environment variables (and their URL-encoded and
      Basic-auth forms), wherever they appear -> ``<redacted>``; so are bearer tokens seen
      in a request's ``Authorization`` header (an OAuth2 access token is known only once
      fetched);
    * OAuth2 token exchanges (``PROFILES[provider].token_paths``) -> not recorded at all:
      not an operation of the provider's spec, and their answer is a credential. They go
      to the network only while recording (replays use the HTTP Basic credentials, so
      they never fetch a token);
    * account / workspace / channel ids and phone numbers taken from the environment ->
      the provider's placeholders (``PROFILES[provider].placeholders``), in URIs, headers and
      bodies, so replays work without the real values.
Matching is on method, scheme, host, port, path, query and body, after the same scrubbing
is applied to the live request. Compressed responses are stored decoded.

Validation uses openapi-core (written against 0.23.1; test extra ``openapi-core>=0.23.1,<0.24``).
Credentials in cassettes are ``<redacted>``, so the security check only requires the
``Authorization`` header to be present. ``check_request=False`` skips request validation for
exchanges that send a deliberately invalid request (a 415 test, say).
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

import httpx
import vcr
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.security.exceptions import SecurityProviderError
from openapi_core.security.factories import SecurityProviderFactory
from openapi_core.security.providers import BaseProvider
from openapi_core.templating.paths.finders import APICallPathFinder
from vcr.cassette import Cassette
from vcr.request import Request as VcrRequest
from vcr.serialize import deserialize as vcr_deserialize
from vcr.serializers import yamlserializer
from werkzeug.datastructures import Headers, ImmutableMultiDict

from univoice.redact import SECRET_HEADERS, is_secret_field

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
CASSETTES = REPO / "cassettes"
SPECS = TESTS / "specs"

REDACTED = "<redacted>"
MATCH_ON = ("method", "scheme", "host", "port", "path", "query", "body")
RECORD_MODES = ("none", "once", "new_episodes", "all")
# Values shorter than this are never substituted: they would corrupt innocent text.
MIN_SECRET_LENGTH = 4


@dataclass(frozen=True)
class ProviderProfile:
    """What the harness knows about one provider's environment and spec."""

    name: str
    spec: str  # file name under tests/specs/
    # Environment variable -> the placeholder that stands for its value in cassettes.
    placeholders: Mapping[str, str] = field(default_factory=dict)
    # Environment variables whose values are secrets (scrubbed to <redacted>).
    secrets: tuple[str, ...] = ()
    # The variables a recording session needs (the rest are optional).
    required: tuple[str, ...] = ()
    # Alternative credential kinds (e.g. an API user, an OAuth2 client): a recording session
    # needs every variable of at least one; replays use the first (with dummy values).
    credentials: tuple[tuple[str, ...], ...] = ()
    # (user variable, secret variable) pairs sent as HTTP Basic auth (the API user's, the
    # OAuth2 client's at the token endpoint): their base64 token is scrubbed too.
    basic_auth: tuple[tuple[str, str], ...] = ()
    # Paths of OAuth2 token endpoints: exchanges with them are never recorded.
    token_paths: tuple[str, ...] = ()


PROFILES: dict[str, ProviderProfile] = {
    "bandwidth": ProviderProfile(
        name="bandwidth",
        spec="bandwidth-voice.openapi.yml",
        placeholders={
            # The ids Bandwidth's own spec uses in its examples.
            "BANDWIDTH_ACCOUNT_ID": "9900000",
            "BANDWIDTH_APPLICATION_ID": "04e88489-df02-4e34-a0ee-27a91849555f",
            "BANDWIDTH_FROM_NUMBER": "+19195550100",
            "BANDWIDTH_TO_NUMBER": "+19195550199",
        },
        secrets=("BANDWIDTH_USERNAME", "BANDWIDTH_PASSWORD", "BANDWIDTH_CLIENT_ID",
                 "BANDWIDTH_CLIENT_SECRET"),
        required=("BANDWIDTH_ACCOUNT_ID", "BANDWIDTH_APPLICATION_ID"),
        # An API user (HTTP Basic) or an OAuth2 client (client credentials grant).
        credentials=(("BANDWIDTH_USERNAME", "BANDWIDTH_PASSWORD"),
                     ("BANDWIDTH_CLIENT_ID", "BANDWIDTH_CLIENT_SECRET")),
        basic_auth=(("BANDWIDTH_USERNAME", "BANDWIDTH_PASSWORD"),
                    ("BANDWIDTH_CLIENT_ID", "BANDWIDTH_CLIENT_SECRET")),
        token_paths=("/api/v1/oauth2/token",),
    ),
    "messagebird": ProviderProfile(
        name="messagebird",
        spec="messagebird-voice-seed.openapi.yml",
        placeholders={
            # MessageBird numbers are digits without "+".
            "MESSAGEBIRD_FROM_NUMBER": "31644556677",  # valid numbers: the client checks
            "MESSAGEBIRD_TO_NUMBER": "31612345678",
        },
        secrets=("MESSAGEBIRD_ACCESS_KEY", "MESSAGEBIRD_SIGNING_KEY"),
        required=("MESSAGEBIRD_ACCESS_KEY",),
    ),
    "bird": ProviderProfile(
        name="bird",
        spec="bird-voice.openapi.yml",
        placeholders={
            "BIRD_WORKSPACE_ID": "00000000-0000-4000-8000-000000000001",
            "BIRD_CHANNEL_ID": "00000000-0000-4000-8000-000000000002",
            "BIRD_FROM_NUMBER": "+3197058016631",
            "BIRD_TO_NUMBER": "+351910648517",
        },
        secrets=("BIRD_ACCESS_KEY", "BIRD_SIGNING_KEY"),
        required=("BIRD_ACCESS_KEY", "BIRD_WORKSPACE_ID", "BIRD_CHANNEL_ID"),
    ),
}


def profile(provider: str) -> ProviderProfile:
    try:
        return PROFILES[provider]
    except KeyError:
        raise ValueError(f"unknown provider {provider!r}; known: {sorted(PROFILES)}") from None


def cassette_dir(provider: str) -> Path:
    """``<repo>/cassettes/<provider>/``."""
    return CASSETTES / profile(provider).name


# Record mode ------------------------------------------------------------------------------

def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() not in ("", "0", "false", "no")


def resolve_record_mode(explicit: str | None = None, environ: Mapping[str, str] | None = None
                        ) -> str:
    """The vcrpy record mode: ``none`` unless asked otherwise, and always under CI."""
    env = os.environ if environ is None else environ
    if _flag(env.get("CI")):
        return "none"
    if explicit is not None:
        if explicit not in RECORD_MODES:
            raise ValueError(f"record_mode must be one of {RECORD_MODES}, not {explicit!r}")
        return explicit
    flag = (env.get("UNIVOICE_RECORD") or "").strip().lower()
    if flag in ("", "0", "false", "no", "none"):
        return "none"
    if flag in ("1", "true", "yes", "once"):
        return "once"
    if flag in ("new_episodes", "all"):
        return flag
    raise ValueError(f"UNIVOICE_RECORD={flag!r}: use 1 (once), new_episodes or all")


def recording(environ: Mapping[str, str] | None = None) -> bool:
    """True when cassettes may be written (UNIVOICE_RECORD set and not under CI)."""
    return resolve_record_mode(None, environ) != "none"


def provider_env(provider: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The provider's settings for a test: real values from the environment when present,
    placeholders (or obvious dummies for secrets) otherwise, so replays need no account.

    When recording, every required variable must be set, and every variable of one of the
    provider's credential kinds (``credentials_in_use`` says which).
    """
    prof = profile(provider)
    env = os.environ if environ is None else environ
    if recording(env):
        missing = [v for v in prof.required if not env.get(v)]
        if prof.credentials and not _complete(prof, env):
            missing.append(" or ".join(" and ".join(group) for group in prof.credentials))
        if missing:
            raise RuntimeError(f"recording {provider} cassettes needs {', '.join(missing)}")
    values: dict[str, str] = {}
    for var, placeholder in prof.placeholders.items():
        values[var] = env.get(var) or placeholder
    for var in prof.secrets:
        values[var] = env.get(var) or f"test-{var.lower().replace('_', '-')}"
    return values


def _complete(prof: ProviderProfile, env: Mapping[str, str]) -> tuple[str, ...] | None:
    return next((group for group in prof.credentials if all(env.get(v) for v in group)),
                None)


def credentials_in_use(provider: str, environ: Mapping[str, str] | None = None
                       ) -> tuple[str, ...]:
    """The credential variables a test authenticates with: while recording, the first
    kind fully set in the environment; when replaying, the first kind (a replay matches
    requests whatever their credentials, and the first kind needs no token exchange)."""
    prof = profile(provider)
    env = os.environ if environ is None else environ
    if not prof.credentials:
        return ()
    found = _complete(prof, env) if recording(env) else None
    return found or prof.credentials[0]


# Scrubbing ---------------------------------------------------------------------------------

_XML_ATTR = re.compile(
    r"""(?P<name>[A-Za-z_][\w:.-]*)(?P<eq>\s*=\s*)(?P<q>["'])(?P<value>.*?)(?P=q)""", re.DOTALL)
_XML_ELEMENT = re.compile(r"<(?P<name>[A-Za-z_][\w:.-]*)>(?P<value>[^<]*)</(?P=name)>")


def _variants(value: str) -> list[str]:
    """The forms a value takes on the wire: as is, URL-encoded, form-encoded (in that order,
    duplicates kept, so the variants of a value and of its placeholder pair up)."""
    return [value, quote(value, safe=""), quote_plus(value)]


class Scrubber:
    """Removes one provider's credentials and real ids from requests, responses, cassettes.

    ``environ`` defaults to ``os.environ`` read at construction. ``skip_tokens``: leave
    OAuth2 token exchanges out of the cassette (they then reach the network: only while
    recording).
    """

    def __init__(self, provider: str, environ: Mapping[str, str] | None = None, *,
                 skip_tokens: bool = False) -> None:
        self.profile = profile(provider)
        self.skip_tokens = skip_tokens
        env = os.environ if environ is None else environ
        pairs: dict[str, str] = {}
        for var, placeholder in self.profile.placeholders.items():
            real = env.get(var) or ""
            if len(real) < MIN_SECRET_LENGTH or real == placeholder:
                continue
            for r, p in zip(_variants(real), _variants(placeholder), strict=True):
                pairs.setdefault(r, p)
            if real.startswith("+") and len(real) > MIN_SECRET_LENGTH:
                # E.164 numbers also travel without their "+" (MessageBird, some queries).
                pairs.setdefault(real[1:], placeholder.lstrip("+"))
        secrets = [env.get(var) or "" for var in self.profile.secrets]
        for user_var, password_var in self.profile.basic_auth:
            user, password = env.get(user_var) or "", env.get(password_var) or ""
            if user and password:
                secrets.append(base64.b64encode(f"{user}:{password}".encode()).decode())
        for secret in secrets:
            if len(secret) >= MIN_SECRET_LENGTH:
                for variant in _variants(secret):
                    pairs[variant] = REDACTED
        self._pairs = pairs
        self.replacements: list[tuple[str, str]] = []
        self._sort()

    def _sort(self) -> None:
        # Longest first, so a value that contains another is replaced whole.
        self.replacements = sorted(self._pairs.items(), key=lambda item: len(item[0]),
                                   reverse=True)

    def learn(self, secret: str) -> None:
        """Scrub ``secret`` from now on (a credential known only at run time: a token)."""
        if len(secret) >= MIN_SECRET_LENGTH and secret not in self._pairs:
            for variant in _variants(secret):
                self._pairs[variant] = REDACTED
            self._sort()

    # Values -------------------------------------------------------------------------------

    def text(self, value: str) -> str:
        for real, replacement in self.replacements:
            if real in value:
                value = value.replace(real, replacement)
        return value

    def raw(self, value: bytes) -> bytes:
        for real, replacement in self.replacements:
            encoded = real.encode()
            if encoded in value:
                value = value.replace(encoded, replacement.encode())
        return value

    def json_value(self, value: Any) -> Any:
        """A copy with secret-named fields redacted (at any depth) and strings scrubbed."""
        if isinstance(value, dict):
            return {k: (REDACTED if isinstance(k, str) and is_secret_field(k)
                        and v not in (None, "") else self.json_value(v))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self.json_value(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def deep(self, value: Any) -> Any:
        """Every string and bytes value in a nested structure scrubbed (no field rules)."""
        if isinstance(value, dict):
            return {self.deep(k): self.deep(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.deep(v) for v in value)
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes):
            return self.raw(value)
        return value

    def query(self, query: str) -> str:
        if not query:
            return query
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_field(k) for k, _ in pairs):
            query = urlencode([(k, REDACTED if is_secret_field(k) and v else v)
                               for k, v in pairs], safe="<>")
        return self.text(query)

    def uri(self, uri: str) -> str:
        parts = urlsplit(uri)
        return self.text(urlunsplit(parts._replace(query=self.query(parts.query))))

    def body(self, body: bytes | str | None, content_type: str = "") -> bytes | str | None:
        """A body with secrets removed; unchanged bytes when there was nothing to remove."""
        if body is None or body in (b"", ""):
            return body
        raw = body.encode() if isinstance(body, str) else body
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return self.raw(raw)
        scrubbed = self._text_body(text, content_type.lower())
        if scrubbed == text:
            return body
        return scrubbed if isinstance(body, str) else scrubbed.encode("utf-8")

    def _text_body(self, text: str, content_type: str) -> str:
        stripped = text.lstrip()
        if "json" in content_type or stripped[:1] in ("{", "["):
            try:
                data = json.loads(text)
            except ValueError:
                pass
            else:
                cleaned = self.json_value(data)
                if cleaned != data:
                    return json.dumps(cleaned, ensure_ascii=False, separators=(",", ":"))
                return self.text(text)
        if "x-www-form-urlencoded" in content_type:
            return self.query(text)
        if "xml" in content_type or stripped.startswith("<"):
            text = _XML_ATTR.sub(self._xml_attr, text)
            text = _XML_ELEMENT.sub(self._xml_element, text)
        return self.text(text)

    @staticmethod
    def _xml_attr(match: re.Match[str]) -> str:
        if not is_secret_field(match["name"]) or not match["value"]:
            return match[0]
        return f'{match["name"]}{match["eq"]}{match["q"]}{REDACTED}{match["q"]}'

    @staticmethod
    def _xml_element(match: re.Match[str]) -> str:
        if not is_secret_field(match["name"]) or not match["value"].strip():
            return match[0]
        return f"<{match['name']}>{REDACTED}</{match['name']}>"

    # vcrpy hooks ----------------------------------------------------------------------------

    def before_record_request(self, request: VcrRequest) -> VcrRequest | None:
        """vcrpy ``before_record_request``: runs on a copy of every request, recorded or live.
        None (vcrpy: not recorded, sent as is) for a token exchange with ``skip_tokens``."""
        if self.skip_tokens and urlsplit(request.uri).path in self.profile.token_paths:
            return None
        for name in list(request.headers):
            scheme, _, token = str(request.headers[name]).strip().partition(" ")
            if name.lower() == "authorization" and scheme.lower() == "bearer":
                self.learn(token.strip())  # the final pass then scrubs it anywhere
        for name in list(request.headers):
            value = request.headers[name]
            if name.lower() in SECRET_HEADERS or is_secret_field(name):
                request.headers[name] = REDACTED
            elif isinstance(value, str):
                request.headers[name] = self.text(value)
        request.uri = self.uri(request.uri)
        body = request.body_bytes if hasattr(request, "body_bytes") else request.body
        if isinstance(body, bytes | str) and body:
            content_type = str(request.headers.get("Content-Type", ""))
            cleaned = self.body(body, content_type)
            if cleaned != body:
                request.body = cleaned
                if "Content-Length" in request.headers:
                    request.headers["Content-Length"] = str(len(request.body))
        return request

    def before_record_response(self, response: dict[str, Any]) -> dict[str, Any]:
        """vcrpy ``before_record_response``: the response dict about to be stored."""
        self._learn_tokens(response.get("body", {}).get("string"))
        headers: dict[str, list[str]] = {}
        for name, values in response.get("headers", {}).items():
            if name.lower() == "set-cookie":
                continue
            values = values if isinstance(values, list) else [values]
            if name.lower() in SECRET_HEADERS or is_secret_field(name):
                headers[name] = [REDACTED for _ in values]
            else:
                headers[name] = [self.text(v) if isinstance(v, str) else v for v in values]
        content_type = next((v[0] for k, v in headers.items()
                             if k.lower() == "content-type" and v), "")
        body = response.get("body", {}).get("string")
        if isinstance(body, bytes | str) and body:
            cleaned = self.body(body, content_type)
            if cleaned != body:
                response["body"]["string"] = cleaned
                for name in headers:
                    if name.lower() == "content-length":
                        size = len(cleaned.encode() if isinstance(cleaned, str)
                                   else cleaned or b"")
                        headers[name] = [str(size)]
        response["headers"] = headers
        return response

    def _learn_tokens(self, body: Any) -> None:
        """An OAuth2 token answer's tokens (should one be recorded): scrubbed everywhere."""
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        if not isinstance(body, str) or "token" not in body:
            return
        try:
            data = json.loads(body)
        except ValueError:
            return
        if isinstance(data, dict):
            for key in ("access_token", "refresh_token", "id_token"):
                if isinstance(data.get(key), str):
                    self.learn(data[key])

    def serializer(self) -> ScrubbingSerializer:
        return ScrubbingSerializer(self)


class ScrubbingSerializer:
    """vcrpy's YAML serializer plus a final pass: no known secret survives in the file."""

    def __init__(self, scrubber: Scrubber) -> None:
        self.scrubber = scrubber

    def serialize(self, cassette_dict: dict[str, Any]) -> str:
        text: str = yamlserializer.serialize(self.scrubber.deep(cassette_dict))
        scrubbed = self.scrubber.text(text)
        if scrubbed != text:
            yamlserializer.deserialize(scrubbed)  # never write a cassette that cannot load
        return scrubbed

    @staticmethod
    def deserialize(cassette_string: str) -> Any:
        return yamlserializer.deserialize(cassette_string)


def make_vcr(provider: str, *, record_mode: str | None = None,
             directory: Path | None = None, environ: Mapping[str, str] | None = None
             ) -> vcr.VCR:
    """A vcrpy ``VCR`` configured with the provider's scrubbing hooks and serializer."""
    mode = resolve_record_mode(record_mode, environ)
    # Token exchanges pass through unrecorded only while recording: in a replay nothing
    # may reach the network (and a replay's Basic credentials fetch no token).
    scrubber = Scrubber(provider, environ, skip_tokens=mode != "none")
    recorder = vcr.VCR(
        cassette_library_dir=str(directory or cassette_dir(provider)),
        record_mode=mode,
        match_on=MATCH_ON,
        decode_compressed_response=True,
        before_record_request=scrubber.before_record_request,
        before_record_response=scrubber.before_record_response,
    )
    recorder.register_serializer("univoice-yaml", scrubber.serializer())
    recorder.serializer = "univoice-yaml"
    return recorder


def cassette_path(provider: str, name: str, directory: Path | None = None) -> Path:
    file_name = name if name.endswith((".yaml", ".yml")) else f"{name}.yaml"
    return (directory or cassette_dir(provider)) / file_name


def use_cassette(provider: str, name: str, *, record_mode: str | None = None,
                 directory: Path | None = None) -> Any:
    """A vcrpy cassette (context manager or decorator) for ``cassettes/<provider>/<name>.yaml``.

    ``record_mode`` defaults from the environment (see the module docstring); under ``CI``
    it is always ``none``. ``directory`` replaces ``cassettes/<provider>/`` (tests only).
    """
    path = cassette_path(provider, name, directory)
    recorder = make_vcr(provider, record_mode=record_mode, directory=path.parent)
    return recorder.use_cassette(path.name)


# Spec validation ----------------------------------------------------------------------------

class _PresentCredentials(BaseProvider):
    """HTTP auth check for scrubbed cassettes: the header must be there; its value is
    ``<redacted>``, so it cannot be checked further."""

    def __call__(self, parameters: RequestParameters) -> Any:
        header = parameters.header
        if "Authorization" not in header:
            raise SecurityProviderError("Missing authorization header.")
        return header["Authorization"]


class _ScrubbedSecurityFactory(SecurityProviderFactory):
    PROVIDERS = {**SecurityProviderFactory.PROVIDERS, "http": _PresentCredentials}  # noqa: RUF012


def _plain_text(value: bytes) -> str:
    return value.decode("utf-8")


def spec_path(provider: str) -> Path:
    return SPECS / profile(provider).spec


@functools.cache
def load_openapi(path: Path) -> OpenAPI:
    """An OpenAPI document configured for scrubbed cassettes, loaded once per session."""
    config = Config(
        security_provider_factory=_ScrubbedSecurityFactory(),
        # BXML bodies are documents, validated as strings (the spec's schema), not parsed.
        extra_media_type_deserializers={"application/xml": _plain_text},
    )
    return OpenAPI.from_file_path(str(path), config=config)


def openapi(provider: str) -> OpenAPI:
    """The provider's (corrected) OpenAPI document."""
    return load_openapi(spec_path(provider))


class OpenAPIRequest:
    """An openapi-core request built from recorded or synthetic parts."""

    def __init__(self, method: str, url: str, headers: Iterable[tuple[str, str]],
                 body: bytes | None) -> None:
        parts = urlsplit(url)
        self.method = method.lower()
        self.url = url
        self.host_url = f"{parts.scheme}://{parts.netloc}"
        self.path = parts.path or "/"
        header_list = [(k, v) for k, v in headers]
        self.body = body or None
        self.content_type = next((v for k, v in header_list if k.lower() == "content-type"),
                                 "").lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(parts.query, keep_blank_values=True)),
            header=Headers(header_list),
            cookie=ImmutableMultiDict(),
        )


class OpenAPIResponse:
    """An openapi-core response built from recorded or synthetic parts."""

    def __init__(self, status: int, headers: Iterable[tuple[str, str]], body: bytes | None
                 ) -> None:
        self.status_code = status
        self.headers = Headers([(k, v) for k, v in headers])
        self.content_type = (self.headers.get("Content-Type") or "").lower()
        self.data = body or None


def _as_bytes(body: Any) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes):
        return body
    if hasattr(body, "read"):
        return bytes(body.read())
    return b"".join(body)


def _header_pairs(headers: Any) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    items = headers.multi_items() if isinstance(headers, httpx.Headers) else headers.items()
    for name, value in items:
        for v in value if isinstance(value, list | tuple) else [value]:
            pairs.append((str(name), v.decode() if isinstance(v, bytes) else str(v)))
    return pairs


def to_openapi_request(request: Any) -> OpenAPIRequest:
    """From an ``httpx.Request``, a vcrpy ``Request``, a cassette request dict or an
    ``OpenAPIRequest``."""
    if isinstance(request, OpenAPIRequest):
        return request
    if isinstance(request, httpx.Request):
        return OpenAPIRequest(request.method, str(request.url), _header_pairs(request.headers),
                              request.read())
    if isinstance(request, VcrRequest):
        body = request.body_bytes if hasattr(request, "body_bytes") else request.body
        return OpenAPIRequest(request.method, request.uri, _header_pairs(request.headers),
                              _as_bytes(body))
    if isinstance(request, Mapping):
        return OpenAPIRequest(request["method"], request["uri"],
                              _header_pairs(request.get("headers") or {}),
                              _as_bytes(request.get("body")))
    raise TypeError(f"cannot validate a request of type {type(request).__name__}")


def to_openapi_response(response: Any) -> OpenAPIResponse:
    """From an ``httpx.Response``, a vcrpy response dict or an ``OpenAPIResponse``."""
    if isinstance(response, OpenAPIResponse):
        return response
    if isinstance(response, httpx.Response):
        return OpenAPIResponse(response.status_code, _header_pairs(response.headers),
                               response.read())
    if isinstance(response, Mapping):
        return OpenAPIResponse(int(response["status"]["code"]),
                               _header_pairs(response.get("headers") or {}),
                               _as_bytes((response.get("body") or {}).get("string")))
    raise TypeError(f"cannot validate a response of type {type(response).__name__}")


def operation_id(spec: OpenAPI, request: OpenAPIRequest) -> str | None:
    try:
        found = APICallPathFinder(spec.spec).find(request.method, request.host_url
                                                  + request.path)
    except Exception:  # PathNotFound, OperationNotFound, ServerNotFound
        return None
    return str((found.operation / "operationId").read_str(None)
               or f"{request.method.upper()} {found.path_result.resolved}")


# openapi-core exception classes (and their bases) -> what the mismatch is about.
_LABELS = {
    "DataValidationError": "response body",
    "HeadersError": "response header", "HeaderValidationError": "response header",
    "RequestBodyValidationError": "request body",
    "ParameterValidationError": "request parameter",
    "SecurityValidationError": "request credentials",
}


def _describe(where: str, exc: BaseException) -> Iterator[str]:
    """Readable lines for one openapi-core error (schema errors one by one)."""
    cause = exc.__cause__
    schema_errors = getattr(cause, "schema_errors", None) or getattr(exc, "schema_errors", None)
    label = next((_LABELS[cls.__name__] for cls in type(exc).__mro__
                  if cls.__name__ in _LABELS), where)
    name = getattr(exc, "name", None)
    if name:
        label = f"{label} {name!r}"
    if schema_errors:
        for error in schema_errors:
            at = "/".join(str(p) for p in error.absolute_path) or "(top level)"
            message = error.message if len(error.message) <= 300 else error.message[:297] + "..."
            yield f"{label} at {at}: {message}"
        return
    text = str(exc) or type(exc).__name__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text} ({cause})"
    if type(exc).__name__ == "ResponseNotFound":
        text = f"undocumented status: {text}"
    yield f"{label}: {text}"


def exchange_errors(spec: OpenAPI, request: Any, response: Any, *,
                    check_request: bool = True) -> tuple[str | None, list[str]]:
    """(operationId, mismatch lines) of one request/response pair against ``spec``."""
    req = to_openapi_request(request)
    resp = to_openapi_response(response)
    errors: list[str] = []
    if check_request:
        for exc in spec.iter_request_errors(req):
            errors.extend(_describe("request", exc))
    for exc in spec.iter_response_errors(req, resp):
        errors.extend(_describe("response", exc))
    # A path that is not in the spec is reported by both; say it once.
    return operation_id(spec, req), list(dict.fromkeys(errors))


def _spec(spec: str | OpenAPI | Path) -> tuple[str, OpenAPI]:
    if isinstance(spec, OpenAPI):
        return "spec", spec
    if isinstance(spec, Path):
        return spec.name, load_openapi(spec.resolve())
    return spec, openapi(spec)


def validate_exchange(spec: str | OpenAPI | Path, request: Any, response: Any, *,
                      label: str = "exchange", check_request: bool = True) -> None:
    """Assert that ``request`` and ``response`` conform to the provider's OpenAPI document.

    ``spec`` is a provider name, an ``OpenAPI`` or a spec path; ``request`` an
    ``httpx.Request``, vcrpy ``Request`` or cassette dict; ``response`` an ``httpx.Response``
    or cassette dict. ``check_request=False`` validates the response only (for exchanges
    that send a deliberately invalid request, such as a 415 test).
    """
    name, document = _spec(spec)
    req = to_openapi_request(request)
    op, errors = exchange_errors(document, req, response, check_request=check_request)
    if errors:
        status = to_openapi_response(response).status_code
        raise AssertionError(
            f"[{name}] {label} {req.method.upper()} {req.url} -> {status}, "
            f"operation {op or '(none in the spec)'}:\n" + "\n".join(f"  - {e}" for e in errors))


def load_interactions(provider: str, path: Path) -> list[tuple[VcrRequest, dict[str, Any]]]:
    """The (request, response) pairs of a cassette file."""
    loaded = vcr_deserialize(path.read_text("utf-8"), ScrubbingSerializer(Scrubber(provider, {})))
    requests, responses = loaded[0], loaded[1]
    return list(zip(requests, responses, strict=True))


def validate_cassette(provider: str, path: Path | str | Cassette, *,
                      check_request: bool = True) -> int:
    """Validate every interaction of a cassette against the provider's spec.

    ``path`` is a cassette file (absolute, or relative to ``cassettes/<provider>/``) or the
    vcrpy ``Cassette`` a ``use_cassette`` block yielded. Returns the number of interactions;
    raises one ``AssertionError`` listing every mismatch, each naming the interaction, its
    operation and what is wrong.
    """
    if isinstance(path, Cassette):
        pairs = list(zip(path.requests, path.responses, strict=True))
        where = str(path._path)  # vcrpy keeps no public attribute for it in every version
    else:
        file = Path(path)
        if not file.is_absolute() and not file.exists():
            file = cassette_path(provider, str(path))
        pairs = load_interactions(provider, file)
        where = str(file)
    document = openapi(provider)
    failures: list[str] = []
    for index, (request, response) in enumerate(pairs, start=1):
        req = to_openapi_request(request)
        op, errors = exchange_errors(document, req, response, check_request=check_request)
        if errors:
            status = to_openapi_response(response).status_code
            failures.append(
                f"interaction #{index} {req.method.upper()} {req.url} -> {status}, "
                f"operation {op or '(none in the spec)'}:\n"
                + "\n".join(f"    - {e}" for e in errors))
    if failures:
        raise AssertionError(f"[{provider}] cassette {where} does not match "
                             f"{spec_path(provider).name}:\n  " + "\n  ".join(failures))
    return len(pairs)


def validate_schema(provider: str, schema: str, instance: Any) -> None:
    """Assert that ``instance`` matches ``components.schemas[schema]`` of the provider's spec
    (for documents that are not an operation's request or response: webhook bodies, ...)."""
    from openapi_schema_validator import OAS30ReadValidator, OAS31Validator

    document = raw_spec(provider)
    version = str(document.get("openapi", "3.0"))
    cls = OAS31Validator if version.startswith("3.1") else OAS30ReadValidator
    root = {"components": document.get("components", {}),
            "$ref": f"#/components/schemas/{schema}"}
    if schema not in root["components"].get("schemas", {}):
        raise KeyError(f"{spec_path(provider).name} has no schema {schema!r}")
    validator = cls(root, format_checker=cls.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  - at {'/'.join(str(p) for p in e.absolute_path) or '(top level)'}: "
                 f"{e.message}" for e in errors]
        raise AssertionError(f"[{provider}] instance does not match schema {schema!r}:\n"
                             + "\n".join(lines))


@functools.cache
def raw_spec(provider: str) -> dict[str, Any]:
    """The provider's spec as plain data (cached: do not modify)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loaded: dict[str, Any] = yaml.load(spec_path(provider).read_text("utf-8"), Loader=loader)
    return loaded


__all__ = [
    "CASSETTES",
    "MATCH_ON",
    "PROFILES",
    "REDACTED",
    "SPECS",
    "Scrubber",
    "ScrubbingSerializer",
    "cassette_dir",
    "cassette_path",
    "credentials_in_use",
    "load_interactions",
    "load_openapi",
    "make_vcr",
    "openapi",
    "provider_env",
    "raw_spec",
    "recording",
    "resolve_record_mode",
    "use_cassette",
    "validate_cassette",
    "validate_exchange",
    "validate_schema",
]
