"""Lemtrada (alemtuzumab) prior authorization, decided by clingo from rules in kb/.

A case flows: file -> ``loading`` (parse, one item per case) -> ``model`` (pydantic
validation) -> ``facts`` (clingo symbols) -> ``engine`` (clingo decides, with the
KB of ``kbase``) -> ``decision`` (a typed result) -> ``render`` (JSON or text).
"""

__version__ = "0.1.0"
