"""Realistic provider callbacks in bulk: Bandwidth and MessageBird calls, as they call back.

``stream(events, duplicates=0.2, seed=...)`` makes ``events`` distinct neutral events:
80% from Bandwidth calls (eight callbacks each: ``initiate`` for an inbound call, answered
with BXML, or ``machineDetectionComplete`` for an outbound one, then ``answer``,
``recordComplete``, ``recordingAvailable``, ``transcriptionAvailable``, ``transferAnswer``,
``transferComplete``, ``disconnect``), 20% from MessageBird calls (four ``callUpdated``
snapshots each: queued, ringing, ongoing, ended; a snapshot implies every stage so far, so
the last one alone carries initiated, answered and completed, and the app sees the same
event id in several callbacks). Then a fraction ``duplicates`` of the callbacks is sent a
second time, and everything is shuffled, all with one seeded RNG.

Which event ids a callback carries comes from the providers' own parsers, run here, so
the expected set does not depend on the app under test.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from univoice.webhooks.request import WebhookRequest
from univoice_bandwidth import BandwidthProvider
from univoice_messagebird import MessageBirdProvider

from .app_factory import (
    BANDWIDTH_ACCOUNT,
    BANDWIDTH_PASSWORD,
    BANDWIDTH_USER,
    MESSAGEBIRD_KEY,
    PUBLIC_URL,
)

BANDWIDTH_PER_CALL = 8
MESSAGEBIRD_PER_CALL = 4
OUR_NUMBER = "+31209990000"
EPOCH = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Callback:
    """One callback as the provider would POST it (re-signed on every delivery)."""

    provider: str
    body: bytes
    events: tuple[str, ...]  # the neutral event ids it carries

    @property
    def path(self) -> str:
        return f"/univoice/{self.provider}/events"


@dataclass(frozen=True)
class Stream:
    deliveries: list[Callback]  # in sending order, duplicates included
    callbacks: int  # distinct callbacks
    events: frozenset[str]  # distinct neutral event ids: what must be handled, once each

    @property
    def duplicates(self) -> int:
        return len(self.deliveries) - self.callbacks


def stream(events: int, *, duplicates: float = 0.2, seed: int = 9) -> Stream:
    rng = random.Random(seed)
    bw_calls = round(events * 0.8 / BANDWIDTH_PER_CALL)
    mb_calls = (events - bw_calls * BANDWIDTH_PER_CALL) // MESSAGEBIRD_PER_CALL
    callbacks = [*bandwidth(bw_calls, rng), *messagebird(mb_calls, rng)]
    expected = frozenset(e for cb in callbacks for e in cb.events)
    again = rng.sample(callbacks, round(len(callbacks) * duplicates))
    deliveries = callbacks + again
    rng.shuffle(deliveries)
    return Stream(deliveries, len(callbacks), expected)


def _time(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def bandwidth(calls: int, rng: random.Random) -> list[Callback]:
    parser = BandwidthProvider(account_id=BANDWIDTH_ACCOUNT, callback_username=BANDWIDTH_USER,
                               callback_password=BANDWIDTH_PASSWORD)
    out: list[Callback] = []
    for n in range(calls):
        call_id = f"c-{n:06d}-{rng.getrandbits(48):012x}"
        inbound = n % 2 == 0
        caller = f"+3161{rng.randrange(10**7):07d}"
        start = EPOCH + timedelta(seconds=n)
        common: dict[str, Any] = {
            "accountId": BANDWIDTH_ACCOUNT, "applicationId": "load-app",
            "from": caller if inbound else OUR_NUMBER, "to": OUR_NUMBER if inbound else caller,
            "direction": "inbound" if inbound else "outbound", "callId": call_id,
            "callUrl": f"https://voice.bandwidth.com/api/v2/accounts/{BANDWIDTH_ACCOUNT}"
                       f"/calls/{call_id}",
            "startTime": _time(start)}
        if not inbound:
            common["tag"] = f"order-{n}"
        answered = start + timedelta(seconds=rng.uniform(1, 9))
        recording = f"r-{call_id}"
        media = f"{common['callUrl']}/recordings/{recording}/media"
        leg = f"c-leg-{n:06d}"
        target = f"+3120{rng.randrange(10**7):07d}"

        def at(seconds: float, answered: datetime = answered) -> str:
            return _time(answered + timedelta(seconds=seconds))

        first = ({"eventType": "initiate", "eventTime": _time(start)} if inbound else
                 {"eventType": "machineDetectionComplete", "eventTime": at(2),
                  "answerTime": _time(answered),
                  "machineDetectionResult": {"value": "human", "duration": "PT2.1S"}})
        payloads = [
            first,
            {"eventType": "answer", "eventTime": _time(answered), "answerTime": _time(answered)},
            {"eventType": "recordComplete", "eventTime": at(20), "recordingId": recording,
             "duration": "PT12.4S", "fileFormat": "wav", "mediaUrl": media},
            {"eventType": "recordingAvailable", "eventTime": at(22), "recordingId": recording,
             "status": "complete", "duration": "PT12.4S", "fileFormat": "wav",
             "mediaUrl": media},
            {"eventType": "transcriptionAvailable", "eventTime": at(40),
             "recordingId": recording, "mediaUrl": media,
             "transcription": {"id": f"t-{call_id}", "status": "available",
                               "text": f"Please call me back about order {n}.",
                               "confidence": 0.9}},
            {"eventType": "transferAnswer", "eventTime": at(45), "transferTo": target,
             "transferCallerId": OUR_NUMBER, "callId": leg, "parentCallId": call_id},
            {"eventType": "transferComplete", "eventTime": at(80), "transferTo": target,
             "cause": "hangup"},
            {"eventType": "disconnect", "eventTime": at(81), "answerTime": _time(answered),
             "endTime": at(81), "cause": "hangup"},
        ]
        for payload in payloads:
            body = json.dumps({**common, **payload}).encode()
            out.append(Callback("bandwidth", body, _ids(parser, "bandwidth", body)))
    return out


def messagebird(calls: int, rng: random.Random) -> list[Callback]:
    parser = MessageBirdProvider(signing_key=MESSAGEBIRD_KEY)
    out: list[Callback] = []
    for n in range(calls):
        call_id = f"{rng.getrandbits(128):032x}"
        callee = f"3161{rng.randrange(10**7):07d}"
        created = EPOCH + timedelta(seconds=n)
        answered = created + timedelta(seconds=rng.uniform(2, 9))
        ended = answered + timedelta(seconds=rng.uniform(5, 90))
        leg_base = {"id": f"leg-{call_id}", "callId": call_id, "source": "31209990000",
                    "destination": callee, "direction": "outgoing",
                    "createdAt": _time(created)}
        stages: list[tuple[datetime, str, dict[str, Any] | None]] = [
            (created, "queued", None),
            (created + timedelta(seconds=1), "starting",
             {"status": "ringing", "answeredAt": None, "endedAt": None}),
            (answered, "ongoing",
             {"status": "ongoing", "answeredAt": _time(answered), "endedAt": None}),
            (ended, "ended",
             {"status": "hangup", "answeredAt": _time(answered), "endedAt": _time(ended)}),
        ]
        for when, status, leg in stages:
            call = {"id": call_id, "status": status, "source": "31209990000",
                    "destination": callee, "createdAt": _time(created),
                    "updatedAt": _time(when),
                    "endedAt": _time(ended) if status == "ended" else None,
                    "legs": [] if leg is None else [{**leg_base, **leg,
                                                      "updatedAt": _time(when)}]}
            body = json.dumps({"timestamp": _time(when), "items": [
                {"type": "call", "event": "callUpdated", "payload": call}]}).encode()
            out.append(Callback("messagebird", body, _ids(parser, "messagebird", body)))
    return out


def _ids(parser: BandwidthProvider | MessageBirdProvider, name: str, body: bytes
         ) -> tuple[str, ...]:
    path = f"/univoice/{name}/events"
    request = WebhookRequest(method="POST", url=PUBLIC_URL + path, path=path, query={},
                             headers={"content-type": "application/json"}, body=body)
    return tuple(event.id for event in parser.parse_events(request))
