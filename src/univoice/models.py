"""Neutral vocabularies shared by every provider: call status and why a call ended.

Each provider maps its own words onto these; a word no table knows maps to ``UNKNOWN``
and the original is kept in the model's ``raw`` payload, never dropped.
"""

from __future__ import annotations

from enum import StrEnum


class CallStatus(StrEnum):
    QUEUED = "queued"
    INITIATED = "initiated"
    RINGING = "ringing"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    CANCELED = "canceled"
    UNKNOWN = "unknown"


class EndReason(StrEnum):
    HANGUP = "hangup"  # the flow hung up, or ran out of steps
    CALLEE_HANGUP = "callee_hangup"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    MACHINE = "machine"  # an answering machine answered and the flow hung up on it
    REDIRECTED = "redirected"  # control left for a URL the simulator could not follow
    UNKNOWN = "unknown"
