"""Several providers behind one client: rules, weighted splits, safe failover, breakers.

``Voice.from_config()`` gives a ``RoutedVoice`` (``univoice.routing.client``) when the
configuration has a ``[routing]`` table (``univoice.routing.config``); ``univoice route TO
--flow FILE`` explains a decision (``univoice.routing.decide``). Only the configuration
models are imported here: loading a configuration must stay cheap.
"""

from univoice.routing.config import BreakerConfig, RoutingConfig, Rule

__all__ = ["BreakerConfig", "RoutingConfig", "Rule"]
