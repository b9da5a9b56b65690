"""The web console ``univoice serve`` mounts at ``/univoice/console`` when ``[console]``
``enabled = true``: the loaded flows as diagrams, an in-browser simulator with a keypad,
each step as a provider's native document, and the live list of events the webhook app
handles. Plain server-rendered pages and a little vanilla JavaScript; every asset is
served from ``static/`` here, behind HTTP Basic credentials (required to enable it).

Importing this package is cheap (the configuration reads ``ConsoleConfig``); the web
parts load only when the console is mounted (``univoice.console.mount``).
"""

from __future__ import annotations

from univoice.console.settings import ConsoleConfig

PATH = "/univoice/console"

__all__ = ["PATH", "ConsoleConfig"]
