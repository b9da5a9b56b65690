"""hypothesis strategies for flows and callee scripts (needs the ``test`` extra).

Later adapters prove, for any generated flow and script, that running their compiled
document natively gives the same trace as ``univoice.simulate`` (differential testing).
"""

from univoice.testing.flows import flow_documents, flows
from univoice.testing.scripts import callee_scripts

__all__ = ["callee_scripts", "flow_documents", "flows"]
