"""Replay a decision log: re-decide every logged case under a KB and say what changed.

The comparison is diff's own (analysis.changes.compare): the logged decision is
the base, the re-decision under ``--kb`` the edit. A logged decision keeps no
criterion statuses, so when the base KB (``--base``, default the shipped one)
is the very KB the line was decided with (same version hash), the case is also
re-decided there to say *why* it changed; otherwise only *what* changed, and
the report says the log was decided under another KB version.

The log is streamed (a chunk of lines at a time), so a log of any length is
replayed in constant memory. A line that cannot be replayed (torn, not JSON,
no ``decision`` or ``case``) is one bad line, named by file and line number;
the others are still replayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Iterator

from ..analysis.changes import Change, compare
from ..engine.batch import Options, Result, decide_chunk
from ..engine.engine import CHUNK, Engine
from ..engine.errors import InputError, Problem, ReadError
from ..engine.knowledge import KnowledgeBase
from ..engine.loading import Record
from .decision_log import LogLine, read_lines

__all__ = ["Replayed", "replay"]


@dataclass
class Replayed:
    source: str
    logged_kb: str
    result: Result  # the re-decision (or its input error)
    change: Change | None
    why_known: bool  # the base KB is the one the line was decided with: the change's statuses say why


def _logged(source: str, decision: dict, rebuilt: Result | None) -> Result:
    """The logged decision as a Result; its statuses those of the same case re-decided under the same KB."""
    result = Result(source, record=rebuilt.record if rebuilt is not None and rebuilt.ok else None)
    result.__dict__["decision"] = {**decision, "source": source}  # Result.decision is a cached property
    return result


def _lines(log: str) -> Iterator[LogLine]:
    try:
        yield from read_lines(log)
    except OSError as exc:
        raise ReadError(log, [Problem("", f"cannot read the decision log: {exc.strerror or exc}")]) from None


def replay(log: str | Path, kb_dir: str | Path | None, base_dir: str | Path | None = None) -> Iterator[Replayed]:
    """Per logged line, in log order: its re-decision under kb_dir and the change, if any (a bad line: an input error)."""
    log = str(log)
    edited_engine = Engine(KnowledgeBase(kb_dir))
    base_engine = Engine(KnowledgeBase(base_dir))
    options = Options(details=True)
    lines = _lines(log)
    while chunk := list(islice(lines, CHUNK)):
        good = [line for line in chunk if line.problem is None]
        records = [Record(f"{log}:{line.number} ({line.entry.get('decision_id')})", data=line.entry["case"]) for line in good]
        edited = iter(decide_chunk(edited_engine, records, options)) if records else iter(())
        same = [r for r, line in zip(records, good) if line.entry.get("kb_version") == base_engine.version]
        base = iter(decide_chunk(base_engine, same, options)) if same else iter(())
        made = iter(records)
        for line in chunk:
            if line.problem is not None:
                error = InputError(f"{log}:{line.number}", [Problem("", f"cannot be replayed: {line.problem}")])
                yield Replayed(error.source, "", Result.failure(error), None, False)
                continue
            record, result = next(made), next(edited)
            why = line.entry.get("kb_version") == base_engine.version
            rebuilt = next(base) if why else None
            logged = _logged(record.source, line.entry["decision"], rebuilt)
            try:
                change = compare(logged, result) if result.ok else None
            except (KeyError, TypeError) as exc:  # a logged decision without a field the comparison reads
                error = InputError(record.source, [Problem("decision", f"cannot be compared: no {exc} in the logged decision")])
                yield Replayed(record.source, str(line.entry.get("kb_version", "")), Result.failure(error), None, False)
                continue
            if change is not None and not why:
                change.statuses = {}
            yield Replayed(record.source, str(line.entry.get("kb_version", "")), result, change, why)
