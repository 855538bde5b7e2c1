"""The policy-generic engine: clingo encodings and the Python that drives them.

Layers, each reading only the ones above it:

    errors, limits       one exception hierarchy; limits on any input
    lazy, astwalk        public names imported on first use; one walk over clingo's AST
    overlay              a change as a small directory on a base KB (composed with clingo's AST)
    manifest             a KB's policy.toml
    knowledge            a KB directory (and its overlays): manifest, files, version, Controls
    catalogue            what a KB says about itself (criteria, parameters, texts)
    casemodel            what the engine needs of a policy's case model
    record               the frozen decision record every output reads
    atoms                clingo's atoms read back once per atom
    engine               chunks of cases -> one ground program -> records
    corrections          the what-if of minimal corrections (encodings/whatif.lp)
    cache/               clingo decides, Python remembers: the layers derived from the KB,
                         the parts proven on its ground program, the cache (cache/README.md)
    loading, chunks,     files -> records -> chunks -> results, in input order
    batch                (chunks: the unit every executor runs)
    executors            the same chunks on worker processes, shards or Dask
    collector            fewer garbage-collector passes, for the processes this package starts
    policy               the embedding API: Policy.load(), decide, decide_many
    versions             several KBs, each in force from its effective date

Nothing here names a criterion, parameter, drug or code of any policy
(tests/test_engine_generic.py checks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_exports

if TYPE_CHECKING:
    from .casemodel import CaseModel
    from .catalogue import Catalogue, Criterion
    from .errors import CaseValidationError, InputError, KnowledgeBaseError, LemtradaError, Problem
    from .knowledge import KbRef, KnowledgeBase
    from .policy import Policy
    from .record import Advisory, Change, CriterionResult, Decision, Evidence, Node, Reason
    from .versions import Version, Versions

__all__ = [
    "Advisory", "CaseModel", "CaseValidationError", "Catalogue", "Change", "Criterion", "CriterionResult",
    "Decision", "Evidence", "InputError", "KbRef", "KnowledgeBase", "KnowledgeBaseError", "LemtradaError", "Node",
    "Policy", "Problem", "Reason", "Version", "Versions",
]

# The module defining each public name, imported on first use (PEP 562): importing
# one module of the engine (errors, guard) must not import them all.
_DEFINED_IN = {
    "CaseModel": ".casemodel",
    **dict.fromkeys(["Catalogue", "Criterion"], ".catalogue"),
    **dict.fromkeys(["CaseValidationError", "InputError", "KnowledgeBaseError", "LemtradaError", "Problem"], ".errors"),
    **dict.fromkeys(["KbRef", "KnowledgeBase"], ".knowledge"),
    "Policy": ".policy",
    **dict.fromkeys(["Advisory", "Change", "CriterionResult", "Decision", "Evidence", "Node", "Reason"], ".record"),
    **dict.fromkeys(["Version", "Versions"], ".versions"),
}


__getattr__, __dir__ = lazy_exports(__name__, globals(), _DEFINED_IN)
