"""Read case files into a stream of items, one per case, in input order.

A path may be a .json or .yaml/.yml file (one case), a .jsonl file (one case per
line, read line by line so a file of any length uses constant memory), a
directory (every case file below it, sorted; ``*.expected.*`` files are test
expectations, not cases), or ``-`` for standard input. Nothing is ever dropped:
a file or line that cannot be read becomes an item that carries its error.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator


from .errors import InputError, Problem
from .limits import MAX_DIGITS, MAX_NESTING, RefusedNumber, field_path, show

CASE_SUFFIXES = {".json", ".yaml", ".yml", ".jsonl"}
MAX_CASE_BYTES = 1_000_000  # one case (a file, or a line of a .jsonl file)


class Unreadable(ValueError):
    """A case's text does not parse; ``field`` says where when the parser can tell."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


Validate = Callable[[Any, str], Any]  # parsed data and its source -> a case, or InputError


@dataclass
class Item:
    """One case as read: either a valid case or the error that stopped it."""

    source: str
    case: Any = None
    error: InputError | None = None


@dataclass
class Record:
    """One case's raw text and where it came from, before parsing.

    Records are plain data (picklable), so reading can stay in one process while
    parsing, validating and deciding happen in workers.
    """

    source: str
    text: str = ""
    yaml: bool = False
    error: InputError | None = None
    data: Any = None  # a case already parsed (a dict from a caller of the API)
    case: Any = None  # a case already validated


def iter_items(paths: Iterable[str], validate: Validate, stdin: IO[bytes] | None = None) -> Iterator[Item]:
    return (parse_record(r, validate) for r in iter_records(paths, stdin))


def iter_records(paths: Iterable[str], stdin: IO[bytes] | None = None) -> Iterator[Record]:
    for raw in paths:
        if raw == "-":
            yield from _read_stdin(stdin if stdin is not None else sys.stdin.buffer)
            continue
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if is_case_file(p))
            if not files:
                yield _bad(raw, "directory holds no case files (.json, .yaml, .yml, .jsonl)")
            for file in files:
                yield from _read_file(file)
        elif path.exists():
            yield from _read_file(path)
        else:
            yield _bad(raw, "no such file or directory")


def is_case_file(path: Path) -> bool:
    return path.is_file() and path.suffix in CASE_SUFFIXES and ".expected." not in path.name


def _read_file(path: Path) -> Iterator[Record]:
    source = str(path)
    if path.suffix not in CASE_SUFFIXES:
        yield _bad(source, f"unknown file type {path.suffix!r}; expected .json, .yaml, .yml or .jsonl")
        return
    if not path.is_file():  # a device or pipe named like a case file (x.jsonl -> /dev/zero) could never end
        yield _bad(source, "not a regular file")
        return
    try:
        if path.suffix == ".jsonl":
            with path.open("rb") as stream:
                yield from _read_lines(stream, source)
            return
        with path.open("rb") as stream:
            data = stream.read(MAX_CASE_BYTES + 1)
    except OSError as exc:
        yield _bad(source, f"cannot read file: {exc.strerror or exc}")
        return
    if len(data) > MAX_CASE_BYTES:
        yield _bad(source, f"file is larger than the {MAX_CASE_BYTES:,}-byte limit for one case")
        return
    yield _decoded(data, source, yaml=path.suffix in (".yaml", ".yml"))


def _read_lines(stream: IO[bytes], source: str, first_number: int = 1) -> Iterator[Record]:
    """One record per non-blank line; a line is never held longer than the limit."""
    number = first_number - 1
    while True:
        line = stream.readline(MAX_CASE_BYTES + 1)
        if not line:
            return
        number += 1
        where = f"{source}:{number}"
        if len(line) > MAX_CASE_BYTES and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # skip the rest of the long line
                line = stream.readline(MAX_CASE_BYTES)
            yield _bad(where, f"line is longer than the {MAX_CASE_BYTES:,}-byte limit for one case")
            continue
        if line.strip():
            yield _decoded(_without_newline(line), where, yaml=False)


def _read_stdin(stream: IO[bytes]) -> Iterator[Record]:
    """JSON Lines when the first line is a whole JSON object, else one JSON or YAML case."""
    first = stream.readline(MAX_CASE_BYTES + 1)
    while first and not first.strip():
        first = stream.readline(MAX_CASE_BYTES + 1)
    if _is_json_object_line(first):
        yield _decoded(_without_newline(first), "<stdin>:1", yaml=False)
        yield from _read_lines(stream, "<stdin>", first_number=2)
        return
    rest = stream.read(MAX_CASE_BYTES + 1 - len(first))
    data = first + rest
    if len(data) > MAX_CASE_BYTES:
        yield _bad("<stdin>", f"input is larger than the {MAX_CASE_BYTES:,}-byte limit for one case")
        return
    yield _decoded(data, "<stdin>", yaml=not data.lstrip().startswith(b"{"))


def _without_newline(line: bytes) -> bytes:
    # so that a JSON error in a line says "line 1", not "line 2 column 1"
    return line[:-2] if line.endswith(b"\r\n") else line[:-1] if line.endswith(b"\n") else line


def _is_json_object_line(line: bytes) -> bool:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if _json_nesting_problem(text) is not None:
        return text.lstrip().startswith("{")  # too deep to parse: its own line's error
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


def _decoded(data: bytes, source: str, yaml: bool) -> Record:
    try:
        return Record(source, data.decode("utf-8"), yaml)
    except UnicodeDecodeError as exc:
        return _bad(source, f"not UTF-8 text (byte {exc.start + 1})")


def _bad(source: str, message: str) -> Record:
    return Record(source, error=InputError(source, [Problem("", message)]))


def parse_record(record: Record, validate: Validate) -> Item:
    """Parse and validate one record; every failure becomes an item carrying its error."""
    if record.error is not None:
        return Item(record.source, error=record.error)
    if record.case is not None:
        return Item(record.source, case=record.case)
    if record.data is not None:
        try:
            return Item(record.source, case=validate(record.data, record.source))
        except InputError as exc:
            return Item(record.source, error=exc)
    if _over_limit(record.text):  # a record built by a caller, not read by iter_records
        return _error(record.source, "", f"case is larger than the {MAX_CASE_BYTES:,}-byte limit for one case")
    try:
        data = load_yaml(record.text) if record.yaml else load_json(record.text)
    except (ValueError, RecursionError) as exc:
        return _error(record.source, getattr(exc, "field", ""), str(exc) or "too deeply nested to read")
    try:
        return Item(record.source, case=validate(data, record.source))
    except InputError as exc:
        return Item(record.source, error=exc)


def _error(source: str, field: str, message: str) -> Item:
    return Item(source, error=InputError(source, [Problem(field, message)]))


def _over_limit(text: str) -> bool:
    return len(text) > MAX_CASE_BYTES or (
        len(text) * 4 > MAX_CASE_BYTES and len(text.encode("utf-8", "surrogatepass")) > MAX_CASE_BYTES
    )


# --- parsers -------------------------------------------------------------------


# json's C parser counts its recursion against the interpreter's limit. Under
# this limit that bounds the C stack too; above it (a caller raised the limit),
# the depth is checked by a scan before parsing. Either way nesting deeper than
# MAX_NESTING that does parse is refused later, by model.shape_problems.
SAFE_RECURSION_LIMIT = 20_000


def load_json(text: str) -> Any:
    if sys.getrecursionlimit() > SAFE_RECURSION_LIMIT:
        too_deep = _json_nesting_problem(text)
        if too_deep is not None:
            raise too_deep
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant, parse_int=_json_int)
    except json.JSONDecodeError as exc:
        raise Unreadable(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise _json_nesting_problem(text) or Unreadable(f"JSON is nested more than {MAX_NESTING} levels deep") from None


_JSON_SPECIAL = re.compile(r'["\\\[\]{},:]')
def _json_nesting_problem(text: str) -> Unreadable | None:
    """Where JSON text first nests past MAX_NESTING, found before json.loads recurses.

    json's C parser recurses once per level and relies on the interpreter's
    recursion limit to stop; checking the depth first, in one linear scan over
    the structural characters, keeps the stack bounded whatever that limit is.
    """
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return None
    open_: list[list[Any]] = []  # per open container: its bracket and the key or index being read
    in_string, skip, start, last_string = False, -1, 0, ""
    for match in _JSON_SPECIAL.finditer(text):
        pos = match.start()
        char = text[pos]
        if pos == skip:  # the character after a backslash
            continue
        if in_string:
            if char == "\\":
                skip = pos + 1
            elif char == '"':
                in_string, last_string = False, text[start:pos]
        elif char == '"':
            in_string, start = True, pos + 1
        elif char == ":":
            if open_ and open_[-1][0] == "{":
                open_[-1][1] = last_string
        elif char == ",":
            if open_ and open_[-1][0] == "[":
                open_[-1][1] += 1
        elif char in "[{":
            if len(open_) >= MAX_NESTING:
                line = text.count("\n", 0, pos) + 1
                column = pos - text.rfind("\n", 0, pos)
                return Unreadable(
                    f"nested more than {MAX_NESTING} levels deep; a case nests at most 3 (line {line} column {column})",
                    field_path(_json_key(part) for _, part in open_ if part is not None),
                )
            open_.append([char, 0 if char == "[" else None])
        elif char in "]}" and open_:
            open_.pop()
    return None


def _json_key(part: str | int) -> str | int:
    """A key as the scanner saw it (escapes and all), decoded for the message."""
    if isinstance(part, int):
        return part
    try:
        return json.loads(f'"{part}"')
    except ValueError:
        return part


def _json_int(text: str) -> int | RefusedNumber:
    return RefusedNumber.long(text) if len(text.lstrip("-")) > MAX_DIGITS else int(text)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise Unreadable(f"duplicate key {show(key)}: a case must say each thing once")
        result[key] = value
    return result


def _no_constant(name: str) -> RefusedNumber:
    return RefusedNumber(f"expected a finite number, got {name}")


def load_yaml(text: str) -> Any:
    """A case file's YAML (yamlcase.py: imported only when a YAML case is read, so JSON input never loads PyYAML)."""
    from .yamlcase import load_yaml as load

    return load(text)


def __getattr__(name: str) -> Any:
    """The YAML loader's names, as before they moved to yamlcase.py (loaded on first use)."""
    if name in ("_CaseYamlLoader", "_Refused"):
        from . import yamlcase

        return getattr(yamlcase, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
