"""``FakeProvider``: a provider adapter for ``tests.support.fault_server.FaultServer``.

Everything provider-specific (routes, JSON shapes, status words, auth scheme) lives here,
so the transport is tested exactly as a real adapter would drive it.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr

from univoice.capabilities import Capabilities, Resource
from univoice.errors import FlowIssue, InvalidArguments
from univoice.flow import Flow
from univoice.models import Call, CallStatus, Page
from univoice.operations import Operation, json_body
from univoice.params import CallFilters, CreateCall
from univoice.provider import Document, Provider, ProviderSettings
from univoice.redact import Redactor

STATUSES = {
    "queued": CallStatus.QUEUED,
    "initiated": CallStatus.INITIATED,
    "ringing": CallStatus.RINGING,
    "in-progress": CallStatus.IN_PROGRESS,
    "completed": CallStatus.COMPLETED,
    "busy": CallStatus.BUSY,
    "no-answer": CallStatus.NO_ANSWER,
    "failed": CallStatus.FAILED,
    "canceled": CallStatus.CANCELED,
}


class FakeSettings(ProviderSettings):
    base_url: str
    token: SecretStr


class BearerAuth(httpx.Auth):
    """Sets ``Authorization: Bearer <token>`` on every request."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        yield request

    def __repr__(self) -> str:
        return "<BearerAuth ***>"


class FakeProvider(Provider):
    name: ClassVar[str] = "fake"
    title: ClassVar[str] = "Fake provider (the fault server of the test suite)"
    capabilities: ClassVar[Capabilities] = Capabilities.all_but(
        resources=[Resource.CALLS_CREATE, Resource.CALLS_GET, Resource.CALLS_LIST])
    settings_model: ClassVar[type[ProviderSettings]] = FakeSettings
    # Whether an ambiguous create can be looked up by its tag.
    reconciles: ClassVar[bool] = True

    settings: FakeSettings

    def __init__(self, settings: ProviderSettings | None = None, **values: Any) -> None:
        super().__init__(settings, **values)
        self._redactor = Redactor(self.secrets())

    # Flows and transport ----------------------------------------------------------------

    def compile_flow(self, flow: Flow) -> Document:
        self.check_flow(flow)
        return Document(provider=self.name, media_type="application/json",
                        body=flow.to_json(indent=None), native=flow.to_dict())

    def auth(self) -> httpx.Auth:
        return BearerAuth(self.settings.token)

    def _url(self, path: str, query: dict[str, str] | None = None) -> str:
        url = self.settings.base_url.rstrip("/") + path
        return f"{url}?{urlencode(query)}" if query else url

    # Operations --------------------------------------------------------------------------

    def create_call(self, params: CreateCall) -> Operation[Call]:
        body: dict[str, Any] = {"to": params.to, "from": params.from_, "tag": params.tag}
        if params.flow is not None:
            body["flow"] = self.compile_flow(params.flow).native
        else:
            body["answer_url"] = params.answer_url
        tag = params.tag
        reconcile = (lambda: self.find_call(tag)) if self.reconciles and tag else None
        return Operation("calls.create", httpx.Request("POST", self._url("/calls"), json=body),
                         self._parse_call("calls.create"), creates=True, tag=tag,
                         reconcile=reconcile)

    def find_call(self, tag: str) -> Operation[Call | None]:
        """The call created with ``tag``, or None: how an ambiguous create is settled."""
        def parse(response: httpx.Response) -> Call | None:
            data = json_body(response, self.name, "calls.find")
            items = data["items"]
            return self._call(items[0]) if items else None

        return Operation("calls.find",
                         httpx.Request("GET", self._url("/calls", {"tag": tag})), parse)

    def get_call(self, call_id: str) -> Operation[Call]:
        return Operation("calls.get", httpx.Request("GET", self._url(f"/calls/{call_id}")),
                         self._parse_call("calls.get"))

    def list_calls(self, filters: CallFilters, cursor: str | None, page_size: int
                   ) -> Operation[Page[Call]]:
        unsupported = [name for name in filters.used() if name != "tag"]
        if unsupported:
            raise InvalidArguments([FlowIssue(name, "the fake provider filters by tag only")
                                    for name in unsupported])
        query = {"limit": str(page_size)}
        if filters.tag is not None:
            query["tag"] = filters.tag
        if cursor is not None:
            query["cursor"] = cursor

        def parse(response: httpx.Response) -> Page[Call]:
            data = json_body(response, self.name, "calls.list")
            return Page[Call](items=[self._call(item) for item in data["items"]],
                              next_cursor=data.get("next"))

        return Operation("calls.list", httpx.Request("GET", self._url("/calls", query)), parse)

    # Parsing -----------------------------------------------------------------------------

    def _parse_call(self, operation: str) -> Any:
        def parse(response: httpx.Response) -> Call:
            return self._call(json_body(response, self.name, operation))

        return parse

    def _call(self, data: dict[str, Any]) -> Call:
        status_raw = data.get("status")
        return Call(provider=self.name, id=data["id"], to=data.get("to"),
                    from_=data.get("from"), tag=data.get("tag"),
                    status=STATUSES.get(status_raw or "", CallStatus.UNKNOWN),
                    status_raw=status_raw, raw=self._redactor.payload(data))


class FakeProviderNoReconcile(FakeProvider):
    """The same provider, without a way to look a create up: ambiguity is final."""

    reconciles: ClassVar[bool] = False
