"""Lemtrada (alemtuzumab) prior authorization, decided by clingo from rules in kb/.

A case flows one way: file -> ``engine.loading`` (records) -> the policy's case
model (``case``: pydantic validation, then clingo symbols) -> ``engine`` (clingo
decides with the KB and the engine's encodings) -> ``engine.record`` (a frozen
Decision) -> ``render`` (text, JSON, explain, letters). ``analysis`` is the
analyst's workbench over the same engine; ``cli`` is flags only.

>>> from lemtrada_asp import Policy
>>> policy = Policy.load()
>>> d = policy.decide({"id": "DOC-2", "request": {"date": "2026-05-01", "dose_mg_per_day": 12, "days": 3},
...                    "lemtrada_courses": [{"start_date": "2024-01-08", "days": 5}]})
>>> d.decision, d.review_type, d.course, [f.id for f in d.failed]
('pend', 'continuation', 2, [])
"""

from .engine import (
    CaseValidationError,
    Decision,
    InputError,
    KnowledgeBaseError,
    LemtradaError,
    Policy,
)

__version__ = "0.1.0"

__all__ = ["CaseValidationError", "Decision", "InputError", "KnowledgeBaseError", "LemtradaError", "Policy", "__version__"]
