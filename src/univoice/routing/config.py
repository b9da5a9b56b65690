"""The ``[routing]`` table: which providers a call may take, in which order, and when.

    [routing]
    providers = ["bandwidth", "messagebird"]    # the default route: failover order
    caller_id = { bandwidth = "+19195550100", messagebird = "+31201234567" }

    [[routing.rules]]                           # first match wins
    name = "benelux"
    countries = ["NL", "BE"]                    # ISO regions of the destination
    providers = ["messagebird", "bird", "bandwidth"]

    [[routing.rules]]
    name = "us-migration"
    prefixes = ["+1"]                           # E.164 prefixes
    providers = ["bandwidth", "bird"]
    weights = { bandwidth = 90, bird = 10 }     # the first try, split by weight

    [routing.breaker]
    failures = 5                                # consecutive failures that open it
    cooldown = 30                               # seconds before one trial call
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from univoice.flow.fields import PhoneNumber

ProviderName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
Prefix = Annotated[str, Field(pattern=r"^\+[1-9][0-9]{0,14}$")]
# What a failed create may be failed over for (univoice.routing.failover.classify).
FailoverReason = Literal["unreachable", "timeout", "server_error", "rate_limited", "auth",
                         "account", "invalid_request"]
DEFAULT_FAILOVER: frozenset[FailoverReason] = frozenset(
    {"unreachable", "timeout", "server_error", "rate_limited", "auth", "account"})


def _unique(names: list[str], what: str) -> list[str]:
    seen = {n for n in names if names.count(n) > 1}
    if seen:
        raise ValueError(f"{what} names {', '.join(sorted(seen))} more than once")
    return names


def _check_weights(providers: list[str], weights: dict[str, int]) -> None:
    stray = sorted(set(weights) - set(providers))
    if stray:
        raise ValueError(f"weights name {', '.join(stray)}, which are not in providers")
    if weights and not sum(weights.values()):
        raise ValueError("weights must not all be 0")


class Rule(BaseModel):
    """Calls to a destination matching ``countries`` or ``prefixes`` take ``providers``.

    A rule with neither matches every destination (put it last)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(None, min_length=1, max_length=64)
    countries: list[str] = Field(default_factory=list)
    prefixes: list[Prefix] = Field(default_factory=list)
    providers: list[ProviderName] = Field(min_length=1, max_length=16)
    weights: dict[ProviderName, Annotated[int, Field(ge=0, le=1_000_000)]] = Field(
        default_factory=dict)

    @field_validator("countries")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        import phonenumbers

        out = [c.upper() for c in value]
        unknown = [c for c in out if c not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"not an ISO 3166 region phonenumbers knows: {', '.join(unknown)}"
                             " (use two letters, e.g. NL, US)")
        return out

    @field_validator("providers")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return _unique(value, "providers")

    @model_validator(mode="after")
    def _weights_in_providers(self) -> Self:
        _check_weights(self.providers, self.weights)
        return self


class BreakerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    failures: int = Field(5, ge=1, le=10_000)  # consecutive failures that open it
    cooldown: float = Field(30.0, gt=0, le=86_400)  # open this long, then one trial
    # How long the one trial call holds the half-open breaker: a trial whose process
    # died frees it after this long.
    trial_timeout: float = Field(60.0, gt=0, le=3_600)


class RoutingConfig(BaseModel):
    """Several providers for one client; see the module's doc for the table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    providers: list[ProviderName] = Field(min_length=1, max_length=16)
    weights: dict[ProviderName, Annotated[int, Field(ge=0, le=1_000_000)]] = Field(
        default_factory=dict)
    rules: list[Rule] = Field(default_factory=list, max_length=1_000)
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    failover_on: frozenset[FailoverReason] = DEFAULT_FAILOVER
    # The number a call comes from on each provider when the create names none (numbers
    # are rented from one provider, so each needs its own).
    caller_id: dict[ProviderName, PhoneNumber] = Field(default_factory=dict)

    @field_validator("providers")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return _unique(value, "providers")

    @model_validator(mode="after")
    def _weights_in_providers(self) -> Self:
        _check_weights(self.providers, self.weights)
        names = [r.name for r in self.rules if r.name]
        _unique(names, "rules")
        if "default" in names:
            raise ValueError("'default' is the name of the route without a rule")
        return self

    def members(self) -> list[str]:
        """Every provider any route names, in first-mention order."""
        out: list[str] = []
        for names in (self.providers, *(r.providers for r in self.rules)):
            out += [n for n in names if n not in out]
        return out
