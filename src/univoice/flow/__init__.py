"""The provider-neutral call-flow model (see ``Flow``)."""

from univoice.flow.builder import FlowBuilder
from univoice.flow.model import Flow
from univoice.flow.steps import (
    PROMPT_KINDS,
    STEP_TYPES,
    Branch,
    Conference,
    Gather,
    Hangup,
    MachineDetection,
    Native,
    Pause,
    Play,
    PromptStep,
    Record,
    Redirect,
    Say,
    SendDigits,
    Step,
    Transfer,
)

__all__ = [
    "PROMPT_KINDS",
    "STEP_TYPES",
    "Branch",
    "Conference",
    "Flow",
    "FlowBuilder",
    "Gather",
    "Hangup",
    "MachineDetection",
    "Native",
    "Pause",
    "Play",
    "PromptStep",
    "Record",
    "Redirect",
    "Say",
    "SendDigits",
    "Step",
    "Transfer",
]
