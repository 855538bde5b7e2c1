"""Lemtrada (alemtuzumab) prior authorization, decided by clingo from rules in kb/.

A case flows one way: file -> ``engine.loading`` (records) -> the policy's case
model (``case``: pydantic validation, then clingo symbols) -> ``engine`` (clingo
decides with the KB and the engine's encodings) -> ``engine.record`` (a frozen
Decision) -> ``render`` (text, JSON, explain, letters). ``analysis`` is the
analyst's workbench over the same engine; ``cli`` is flags only.

>>> from lemtrada_asp import Policy
>>> policy = Policy.load()                      # the shipped kb/; Policy.load("my-kb/") for another
>>> case = {"id": "DOC-1", "request": {"date": "2026-05-01", "dose_mg_per_day": 12, "days": 5}}
>>> d = policy.decide(case)                     # a dict in case format v1, a path, or a validated Case
>>> d.decision, d.pend_reason, [f.id for f in d.missing][:3]
('pend', 'information', ['I0', 'I1', 'I2'])
>>> d.to_json()["kb_version"] == policy.version
True
>>> d = policy.decide({"id": "DOC-2", "request": {"date": "2026-05-01", "dose_mg_per_day": 12, "days": 3},
...                    "lemtrada_courses": [{"start_date": "2024-01-08", "days": 5}]})
>>> d.decision, d.review_type, d.course, [f.id for f in d.failed]
('pend', 'continuation', 2, [])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .engine.lazy import lazy_exports

if TYPE_CHECKING:
    from .engine.errors import CaseValidationError, InputError, KnowledgeBaseError, LemtradaError
    from .engine.policy import Policy
    from .engine.record import Decision

__version__ = "0.1.0"

__all__ = ["CaseValidationError", "Decision", "InputError", "KnowledgeBaseError", "LemtradaError", "Policy", "__version__"]

# Where each public name is defined. They are imported on first use (PEP 562), not
# with the package: `python -m lemtrada_asp` and every `import lemtrada_asp.x` import
# this module first, and a command should load only the modules it runs.
_DEFINED_IN = {
    "CaseValidationError": ".engine.errors",
    "Decision": ".engine.record",
    "InputError": ".engine.errors",
    "KnowledgeBaseError": ".engine.errors",
    "LemtradaError": ".engine.errors",
    "Policy": ".engine.policy",
}


__getattr__, __dir__ = lazy_exports(__name__, globals(), _DEFINED_IN)
