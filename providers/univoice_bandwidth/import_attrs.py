"""What the BXML importer says about attributes it does not map to a neutral field, and
how it tells univoice's own URLs (the documents ``compile`` makes) from anyone else's.

univoice's URLs are recognised by their shape alone (no store is read): the events route
(``../../events`` relative, ``.../bandwidth/events`` absolute) and continuation nodes of a
stored flow (``steps%5B2%5D?on=gather&attempt=1`` relative, ``.../bandwidth/flow/{id}/...``
absolute).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

_NODE = re.compile(r"(?:https?://[^?#]*/bandwidth/flow/[^/?#]+/(?P<stored>[^/?#]+)"
                   r"|(?P<relative>(?:steps|machine_detection)(?:%5B|\[|\.)[^/?#]*))"
                   r"(?:\?[^#]*)?")
_EVENTS = re.compile(r"(?:\.\./\.\./events|https?://[^?#]*/bandwidth/events)")
_USERINFO = re.compile(r"(//)[^/@?#]*@")

CREDENTIALS = ("username", "password", "fallbackUsername", "fallbackPassword")
# Callbacks that only report (their answer runs nothing): univoice's app receives them.
EVENT_URLS = {"recordingAvailableUrl": "recordingAvailable",
              "transcriptionAvailableUrl": "transcriptionAvailable",
              "transferDisconnectUrl": "transferDisconnect",
              "conferenceEventUrl": "conference"}
# Values that say what a neutral flow does anyway: nothing to report.
QUIET: dict[str, Any] = {"fileFormat": "wav", "multiChannel": False, "detectLanguage": False,
                         "transcribe": False, "diversionTreatment": "none",
                         "answerCall": True, "hold": False, "mute": False}
DETAILS = {
    "tag": "a verb's tag is not carried: callbacks carry the tag the call was placed with "
           "(calls.create(tag=...))",
    "diversionTreatment": "SIP diversion headers are not carried",
    "diversionReason": "SIP diversion headers are not carried",
    "uui": "SIP User-to-User data is not carried",
    "transferCallerDisplayName": "the caller name shown to the target is not carried",
    "callbackTimeout": "callback timeouts are not carried (the webhook app answers)",
    "toneDuration": "tone length is not carried: the provider's default is used",
    "toneInterval": "the gap between tones is not carried: the provider's default is used",
    "fileFormat": "univoice records WAV",
    "multiChannel": "univoice records one channel",
    "detectLanguage": "no language detection: a neutral transcription is in one language",
    "transcribe": "not transcribed: only a record step transcribes (a recording can be "
                  "transcribed afterwards with voice.transcriptions.request)",
}
CALLBACK_CREDENTIALS = ("callback credentials are not carried: univoice puts its own on the "
                        "callbacks it receives, and a redirect to your URL carries none")
AUDIO_CREDENTIALS = ("credentials for fetching the audio are not carried: the URL must be "
                     "reachable without them")


def continuation(url: str) -> str | None:
    """The step path of a univoice continuation URL (None: someone else's URL)."""
    match = _NODE.fullmatch(url)
    if match is None:
        return None
    return unquote(match["stored"] or match["relative"])


def is_events(url: str) -> bool:
    return _EVENTS.fullmatch(url) is not None


def is_univoice(url: str) -> bool:
    return is_events(url) or continuation(url) is not None


def absolute(url: str) -> bool:
    """An http(s) URL with a host: what a neutral redirect or play step holds."""
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an invalid IPv6 literal
        return False


def shown(url: str) -> str:
    """A URL as a note may show it: no user:password part, at most 200 characters."""
    text = _USERINFO.sub(r"\1", url)
    return text if len(text) <= 200 else text[:197] + "..."


def leftover_notes(tag: str, attributes: dict[str, Any], consumed: set[str]
                   ) -> list[tuple[str, bool, str]]:
    """(construct, changed?, detail) for each attribute not mapped to a neutral field:
    ``changed`` when it carries over with another meaning, else it is not carried."""
    left = {k: v for k, v in attributes.items() if k not in consumed}
    out: list[tuple[str, bool, str]] = []
    urls = [str(v) for k, v in attributes.items() if k.endswith("Url")]
    credentials = [k for k in left if k in CREDENTIALS]
    # Credentials matter for a URL of the user's (or the audio a PlayAudio fetches);
    # on univoice's own URLs they are univoice's, and without a URL they do nothing.
    if credentials and (tag == "PlayAudio" or not all(is_univoice(u) for u in urls)):
        out.append((f"<{tag} {'/'.join(credentials)}>", False,
                    AUDIO_CREDENTIALS if tag == "PlayAudio" else CALLBACK_CREDENTIALS))
    fallbacks = [k for k in left if "Fallback" in k and k not in CREDENTIALS]
    if fallbacks:
        out.append((f"<{tag} {'/'.join(fallbacks)}>", False,
                    "fallback URLs are not carried: univoice's webhook app receives the "
                    "callbacks"))
    for name, value in left.items():
        if name in CREDENTIALS or name in fallbacks or QUIET.get(name, ...) == value:
            continue
        if name.endswith("Method"):
            url = f"{name[:-6]}Url"
            if url not in attributes:
                out.append((f"<{tag} {name}>", False, f"has no effect without {url}"))
        elif name in EVENT_URLS:
            if not is_events(str(value)):
                method = attributes.get(f"{name[:-3]}Method")
                out.append((f"<{tag} {name}>", True, f"{EVENT_URLS[name]} events reach "
                            "univoice's webhook app (neutral events for your handlers), not "
                            f"{shown(str(value))}" + (f" ({method})" if method else "")))
        else:
            out.append((f"<{tag} {name}>", False,
                        DETAILS.get(name, "no neutral equivalent: not carried")))
    return out
