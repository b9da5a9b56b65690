"""A user's webhook app: `univoice serve --app tests.webhooks.sample_app:create_app`.

Its store and the file it logs handled event ids to come from the environment, so several
processes can share them.
"""

from __future__ import annotations

import os

from univoice import Flow
from univoice.events import BaseEvent
from univoice.plugins import get_provider
from univoice.webhooks import VoiceApp

IVR = Flow.from_yaml("""
steps:
  - gather:
      prompt: Press 1 or 2.
      options:
        "1": [{say: One.}, {record: {max_length: 10, transcribe: true}}]
        "2": [{say: Two.}, hangup]
  - say: Bye.
""")

def create_app() -> VoiceApp:
    """A factory (`--app tests.webhooks.sample_app:create_app`): reads the environment
    when called, not when the module is first imported."""
    app = VoiceApp(
        public_url=os.environ.get("SAMPLE_PUBLIC_URL", "http://127.0.0.1:8000"),
        store=os.environ.get("SAMPLE_STORE", "sqlite://:memory:"),
        providers=[get_provider("simulator", webhook_secret=os.environ.get("SAMPLE_SECRET"))],
        default_flow=IVR,
    )
    app.on()(record)
    return app


def record(event: BaseEvent) -> None:
    path = os.environ.get("SAMPLE_LOG")
    if path:
        # One short line per write with O_APPEND: whole lines even from several processes.
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{event.id}\n")
