"""univoice: write a phone-call flow once, run it on MessageBird, Bird or Bandwidth.

Names are loaded on first use, so ``import univoice`` stays cheap (no pydantic model
building, and never lxml, httpx or a provider) until a feature is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from univoice._lazy import lazy

__version__ = "0.1.0"

_LAZY = {
    "Flow": "univoice.flow",
    "FlowBuilder": "univoice.flow",
    "CalleeScript": "univoice.simulator",
    "Trace": "univoice.simulator",
    "simulate": "univoice.simulator",
    "UnivoiceError": "univoice.errors",
    "ConfigError": "univoice.errors",
    "FlowValidationError": "univoice.errors",
    "FlowIssue": "univoice.errors",
    "UnsupportedFeature": "univoice.errors",
    "ProviderNotFound": "univoice.errors",
    "get_provider": "univoice.plugins",
    "Voice": "univoice.client",
    "AsyncVoice": "univoice.client",
    "Config": "univoice.config",
    "Hooks": "univoice.transport",
    "RetryPolicy": "univoice.retry",
    "Call": "univoice.models",
    "CallStatus": "univoice.models",
    "Recording": "univoice.models",
    "InvalidArguments": "univoice.errors",
    "TransportError": "univoice.errors",
    "ProviderError": "univoice.errors",
    "AuthenticationError": "univoice.errors",
    "NotFound": "univoice.errors",
    "RateLimited": "univoice.errors",
    "InvalidRequest": "univoice.errors",
    "ServerError": "univoice.errors",
    "AmbiguousCreate": "univoice.errors",
    "provider_names": "univoice.plugins",
}

if TYPE_CHECKING:
    from univoice.client import AsyncVoice, Voice
    from univoice.config import Config
    from univoice.errors import (
        AmbiguousCreate,
        AuthenticationError,
        ConfigError,
        FlowIssue,
        FlowValidationError,
        InvalidArguments,
        InvalidRequest,
        NotFound,
        ProviderError,
        ProviderNotFound,
        RateLimited,
        ServerError,
        TransportError,
        UnivoiceError,
        UnsupportedFeature,
    )
    from univoice.flow import Flow, FlowBuilder
    from univoice.models import Call, CallStatus, Recording
    from univoice.plugins import get_provider, provider_names
    from univoice.retry import RetryPolicy
    from univoice.simulator import CalleeScript, Trace, simulate
    from univoice.transport import Hooks


__getattr__, __dir__ = lazy(__name__, _LAZY)

__all__ = [
    "AmbiguousCreate",
    "AsyncVoice",
    "AuthenticationError",
    "Call",
    "CallStatus",
    "CalleeScript",
    "Config",
    "ConfigError",
    "Flow",
    "FlowBuilder",
    "FlowIssue",
    "FlowValidationError",
    "Hooks",
    "InvalidArguments",
    "InvalidRequest",
    "NotFound",
    "ProviderError",
    "ProviderNotFound",
    "RateLimited",
    "Recording",
    "RetryPolicy",
    "ServerError",
    "Trace",
    "TransportError",
    "UnivoiceError",
    "UnsupportedFeature",
    "Voice",
    "__version__",
    "get_provider",
    "provider_names",
    "simulate",
]
