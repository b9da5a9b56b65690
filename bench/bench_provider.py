"""A bench-only provider adapter: ``calls.create`` and ``calls.get`` against the local server
that ``bench/rest_bench.py`` starts. It is shaped like a real adapter (own settings with a
secret, header auth applied by the transport, provider words mapped onto the neutral models)
so the benchmark measures what a real provider costs, minus the provider's own quirks.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr

from univoice.capabilities import Capabilities, Resource
from univoice.flow import Flow
from univoice.models import Call, CallStatus, Direction
from univoice.operations import Operation, build_request, json_body
from univoice.params import CreateCall
from univoice.provider import Document, Provider, ProviderSettings

STATUSES = {"queued": CallStatus.QUEUED, "ringing": CallStatus.RINGING,
            "ongoing": CallStatus.IN_PROGRESS, "ended": CallStatus.COMPLETED}
DIRECTIONS = {"outgoing": Direction.OUTBOUND, "incoming": Direction.INBOUND}


class BenchSettings(ProviderSettings):
    base_url: str
    access_key: SecretStr


class AccessKeyAuth(httpx.Auth):
    """``Authorization: AccessKey <key>``, the MessageBird scheme."""

    def __init__(self, key: str) -> None:
        self._header = f"AccessKey {key}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


class BenchProvider(Provider):
    name: ClassVar[str] = "bench"
    title: ClassVar[str] = "Local benchmark server"
    capabilities: ClassVar[Capabilities] = Capabilities.all_but(
        resources=[Resource.CALLS_CREATE, Resource.CALLS_GET])
    settings_model: ClassVar[type[ProviderSettings]] = BenchSettings
    settings: BenchSettings

    def compile_flow(self, flow: Flow) -> Document:
        self.check_flow(flow)
        return Document(provider=self.name, media_type="application/json",
                        body=flow.to_json(), native=flow.to_dict())

    def auth(self) -> httpx.Auth:
        return AccessKeyAuth(self.settings.access_key.get_secret_value())

    def create_call(self, params: CreateCall) -> Operation[Call]:
        body: dict[str, Any] = {"to": params.to, "from": params.from_,
                                "ringTimeout": params.ring_timeout, "tag": params.tag}
        if params.flow is not None:
            body["callFlow"] = self.compile_flow(params.flow).native
        else:
            body["answerUrl"] = str(params.answer_url)
        request = build_request("POST", f"{self.settings.base_url}/calls", json=body)
        return Operation("calls.create", request, self._parse("calls.create"), creates=True,
                         tag=params.tag)

    def get_call(self, call_id: str) -> Operation[Call]:
        request = build_request("GET", f"{self.settings.base_url}/calls/{call_id}")
        return Operation("calls.get", request, self._parse("calls.get"))

    def _parse(self, operation: str) -> Any:
        def parse(response: httpx.Response) -> Call:
            data = json_body(response, self.name, operation)
            return Call(provider=self.name, id=data["id"],
                        direction=DIRECTIONS.get(data.get("direction"), Direction.UNKNOWN),
                        from_=data.get("from"), to=data.get("to"),
                        status=STATUSES.get(data.get("status"), CallStatus.UNKNOWN),
                        status_raw=data.get("status"), created_at=data.get("createdAt"),
                        tag=data.get("tag"), raw=data)
        return parse
