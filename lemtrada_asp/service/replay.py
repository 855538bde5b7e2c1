"""Replay a decision log: re-decide every logged case under a KB and say what changed.

The comparison is diff's own (analysis.changes.compare): the logged decision is
the base, the re-decision under ``--kb`` the edit. A logged decision keeps no
criterion statuses, so when the base KB (``--base``, default the shipped one)
is the very KB the line was decided with (same version hash), the case is also
re-decided there to say *why* it changed; otherwise only *what* changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Iterator

from ..analysis.changes import Change, compare
from ..engine.batch import Options, Result, decide_chunk
from ..engine.engine import CHUNK, Engine
from ..engine.errors import InputError, Problem
from ..engine.knowledge import KnowledgeBase
from ..engine.loading import Record
from .decision_log import read_log


@dataclass
class Replayed:
    source: str
    logged_kb: str
    result: Result  # the re-decision (or its input error)
    change: Change | None
    why_known: bool


def _logged(source: str, decision: dict, rebuilt: Result | None) -> Result:
    """The logged decision as a Result; its statuses those of the same case re-decided under the same KB."""
    result = Result(source, record=rebuilt.record if rebuilt is not None and rebuilt.ok else None)
    result.__dict__["decision"] = {**decision, "source": source}  # Result.decision is a cached property
    return result


def replay(log: str | Path, kb_dir: str | Path | None, base_dir: str | Path | None = None) -> Iterator[Replayed]:
    """Per logged decision, in log order: its re-decision under kb_dir and the change, if any."""
    try:
        lines = read_log(str(log))
    except (OSError, ValueError) as exc:
        raise InputError(str(log), [Problem("", f"cannot read the decision log: {exc}")]) from None
    edited_engine = Engine(KnowledgeBase(kb_dir))
    base_engine = Engine(KnowledgeBase(base_dir))
    options = Options(details=True)
    rows = iter(enumerate(lines, 1))
    while chunk := list(islice(rows, CHUNK)):
        records = [Record(f"{log}:{n} ({line.get('decision_id')})", data=line.get("case")) for n, line in chunk]
        edited = decide_chunk(edited_engine, records, options)
        same = [r for r, (_, line) in zip(records, chunk) if line.get("kb_version") == base_engine.version]
        base = iter(decide_chunk(base_engine, same, options)) if same else iter(())
        for record, (_, line), result in zip(records, chunk, edited):
            why = line.get("kb_version") == base_engine.version
            rebuilt = next(base) if why else None
            logged = _logged(record.source, line["decision"], rebuilt)
            change = compare(logged, result) if result.ok else None
            if change is not None and not why:
                change.statuses = {}
            yield Replayed(record.source, line.get("kb_version", ""), result, change, why)
