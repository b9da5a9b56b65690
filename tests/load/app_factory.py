"""The app the load tests serve: ``univoice serve --app tests.load.app_factory:create_app``.

Bandwidth (callback credentials) and MessageBird (signed JWT) callbacks, on the store named
by ``LOAD_STORE``. Its one handler takes every event and appends ``{event id}\\n`` to the
file ``LOAD_LOG`` (one file per process) with a single ``write`` on an ``O_APPEND``
descriptor before the handler returns: the line is in the kernel once the app
acknowledges, so it outlives a SIGKILL of the process, and the test counts handler runs
per event across processes from these files. Like a real handler it takes a while (I/O
before and after its effect: ``LOAD_HANDLER_DELAY`` seconds in all, default 0.004), so
a process killed mid-stream dies with events claimed but not yet run, and with events
run but not yet recorded done.
"""

from __future__ import annotations

import asyncio
import os

from univoice import Flow
from univoice.events import BaseEvent
from univoice.webhooks import VoiceApp
from univoice_bandwidth import BandwidthProvider
from univoice_messagebird import MessageBirdProvider

PUBLIC_URL = "https://voice.example.com"  # what both processes are, behind one balancer
BANDWIDTH_ACCOUNT = "9900000"
BANDWIDTH_USER, BANDWIDTH_PASSWORD = "univoice-cb", "cb-load-5b8e21c4"
MESSAGEBIRD_KEY = "mb-load-signing-key-7f3a"
INBOUND = Flow.from_yaml("""
name: Load line
steps:
  - gather:
      prompt: Press 1 to leave a message.
      options:
        "1": [{record: {max_length: 60, transcribe: true}}]
  - hangup
""")


def create_app() -> VoiceApp:
    app = VoiceApp(
        public_url=PUBLIC_URL,
        store=os.environ["LOAD_STORE"],
        event_lease=float(os.environ.get("LOAD_LEASE", "60")),
        providers=[
            BandwidthProvider(account_id=BANDWIDTH_ACCOUNT, callback_username=BANDWIDTH_USER,
                              callback_password=BANDWIDTH_PASSWORD),
            MessageBirdProvider(signing_key=MESSAGEBIRD_KEY),
        ],
        default_flow=INBOUND,
    )
    log = os.open(os.environ["LOAD_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    pause = float(os.environ.get("LOAD_HANDLER_DELAY", "0.004")) / 2

    @app.on()
    async def record(event: BaseEvent) -> None:
        await asyncio.sleep(pause)
        os.write(log, f"{event.id}\n".encode())  # one write: a whole line, even when killed
        await asyncio.sleep(pause)

    return app
