"""The files a KB's programs load: its root and overlays, following ``#include``, kept inside the KB.

clingo follows ``#include "file".`` itself -- relative to the including file,
and failing that to the working directory -- and reads any file it is given,
``.lp`` or not. So before a KB is loaded its includes are read here: each must
name a file inside the KB's directory or one of its overlays' (an include
outside, ``#include "/etc/passwd".`` or ``"../secret.lp"`` or a link pointing
out, is a KB error naming it), and the files found are what the KB's version
hashes, whatever their suffix. ``#include <incmode>.``, clingo's own, is allowed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from .errors import KnowledgeBaseError

__all__ = ["BUILT_IN", "included_files", "includes_of"]

BUILT_IN = {"incmode"}  # #include <name>. that clingo provides itself
_MAX_FILES = 10_000  # an include graph larger than this is not a policy


_TOKENS = re.compile(
    r'%\*.*?(?:\*%|\Z)'  # a block comment
    r'|%[^\n]*'  # a line comment
    r'|"(?:\\.|[^"\\])*"'  # a string
    r'|#include(?![A-Za-z0-9_])\s*(?:"((?:\\.|[^"\\])*)"|<([^>]*)>)'  # an include: its name, or <built-in>
    r'|(#include)(?![A-Za-z0-9_])',  # an include written otherwise (a comment before its name, say)
    re.DOTALL,
)


def includes_of(text: str) -> Iterator[tuple[str | None, bool, int]]:
    """Each ``#include`` of a program text: (the name, is it <built-in>, line); comments and strings skipped.

    The name is None for an include this reader cannot follow (not ``#include "file".``).
    """
    for match in _TOKENS.finditer(text):
        quoted, built_in, other = match.group(1), match.group(2), match.group(3)
        if quoted is None and built_in is None and other is None:
            continue
        line = text.count("\n", 0, match.start()) + 1
        if other is not None:
            yield None, False, line
        elif built_in is not None:
            yield built_in.strip(), True, line
        else:
            yield re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), quoted), False, line


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def included_files(starts: Iterable[Path], roots: Sequence[Path]) -> list[Path]:
    """Every file reached from starts by #include (starts included), resolved; KnowledgeBaseError for one outside roots."""
    roots = [r.resolve() for r in roots]
    seen: dict[Path, None] = {}
    todo = [p.resolve() for p in starts]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen[path] = None
        if len(seen) > _MAX_FILES:
            raise KnowledgeBaseError(f"{path}: more than {_MAX_FILES:,} files included")
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError as exc:
            raise KnowledgeBaseError(f"{path}: cannot be read: {exc.strerror or exc}") from None
        for name, built_in, line in includes_of(text):
            where = f"{path}:{line}"
            if name is None:
                raise KnowledgeBaseError(f"{where}: an #include not written as #include \"file\". (nothing between "
                                         "#include and the file name): it cannot be checked to stay inside the knowledge base")
            if built_in:
                if name not in BUILT_IN:
                    raise KnowledgeBaseError(f"{where}: #include <{name}> is not one of clingo's own ({', '.join(sorted(BUILT_IN))}); "
                                             "a KB includes its own files by name")
                continue
            target = (path.parent / name).resolve()
            if not _inside(target, roots):
                raise KnowledgeBaseError(f"{where}: #include \"{name}\" is outside the knowledge base "
                                         f"({' and '.join(map(str, roots))}): a KB may include only its own files")
            if not target.is_file():
                raise KnowledgeBaseError(f"knowledge base {path} does not load: {where}: #include \"{name}\": "
                                         f"file could not be opened (no file {target})")
            todo.append(target)
    return sorted(seen)
