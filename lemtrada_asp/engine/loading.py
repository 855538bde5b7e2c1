"""Read case files into a stream of items, one per case, in input order.

A path may be a .json or .yaml/.yml file (one case), a .jsonl file (one case per
line, read line by line so a file of any length uses constant memory), a
directory (every case file below it, sorted; ``*.expected.*`` files are test
expectations, not cases), or ``-`` for standard input. Nothing is ever dropped:
a file or line that cannot be read becomes an item that carries its error.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator


from .errors import InputError, Problem, ReadError, Unreadable  # noqa: F401 - Unreadable re-exported (it lives in errors.py)
from .limits import MAX_DIGITS, MAX_NESTING, RefusedNumber, field_path, show

CASE_SUFFIXES = {".json", ".yaml", ".yml", ".jsonl"}
MAX_CASE_BYTES = 1_000_000  # one case (a file, or a line of a .jsonl file)
# A FHIR resource read as a case (a PAS request Bundle: its attachments make it
# bigger than a case) may be a file or standard input of up to this many bytes.
MAX_RESOURCE_BYTES = 10_000_000
BOM = b"\xef\xbb\xbf"


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
    max_bytes: int = MAX_CASE_BYTES  # MAX_RESOURCE_BYTES where the text may be a FHIR resource


def iter_items(paths: Iterable[str], validate: Validate, stdin: IO[bytes] | None = None) -> Iterator[Item]:
    return (parse_record(r, validate) for r in iter_records(paths, stdin))


def iter_records(paths: Iterable[str], stdin: IO[bytes] | None = None) -> Iterator[Record]:
    for raw in paths:
        if raw == "-":
            yield from _read_stdin(stdin if stdin is not None else sys.stdin.buffer)
            continue
        path = Path(raw)
        try:
            is_dir = path.is_dir()
        except OSError as exc:  # e.g. a symbolic link loop given by name
            yield _unreadable(shown(path), exc)
            continue
        if is_dir:
            found = False
            for record in _walk(path, set()):
                found = True
                yield record
            if not found:
                yield _bad(shown(path), "directory holds no case files (.json, .yaml, .yml, .jsonl)")
        elif path.exists():
            yield from _read_file(path)
        elif path.is_symlink():
            yield _bad(shown(path), f"dangling symbolic link (its target {shown(Path(os.readlink(path)))} does not exist)")
        else:
            yield _bad(shown(path), "no such file or directory")


def shown(path: Path | str) -> str:
    """A path as text for messages and JSON: bytes that are not UTF-8 as \\xNN escapes.

    A file name may hold any bytes; Python keeps the others as lone surrogates,
    which no JSON or UTF-8 output can carry.
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _walk(directory: Path, visited: set[tuple[int, int]]) -> Iterator[Record]:
    """Every case file below directory, sorted; nothing skipped in silence.

    Files named as cases (the suffix in any case: .YAML is YAML) are read; a
    subdirectory that cannot be read, a dangling symbolic link, a link loop, a
    FIFO, socket or device is reported in its place. Other regular files (notes,
    ``*.expected.*``) are not cases and are passed over.
    """
    try:
        status = directory.stat()
        key = (status.st_dev, status.st_ino)
        if key in visited:
            yield _bad(shown(directory), "symbolic link loop: this directory is already being read above it")
            return
        visited = visited | {key}
        with os.scandir(directory) as entries:
            listed = sorted(entries, key=lambda e: os.fsencode(e.name))
    except OSError as exc:
        yield _unreadable(shown(directory), exc, "cannot read directory")
        return
    for entry in listed:
        path = Path(entry.path)
        name = shown(entry.name)
        try:
            if entry.is_dir():  # follows links; loops are caught by `visited`
                yield from _walk(path, visited)
                continue
            if entry.is_file():
                if is_case_name(name):
                    yield from _read_file(path)
                continue
            if entry.is_symlink():
                try:
                    os.stat(path)
                except FileNotFoundError:
                    yield _bad(shown(path), f"dangling symbolic link (its target {shown(os.readlink(path))} does not exist)")
                    continue
            yield _bad(shown(path), f"not a regular file or directory ({_kind_of(path)}); not read")
        except OSError as exc:
            yield _unreadable(shown(path), exc)


def _kind_of(path: Path) -> str:
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return exc.strerror or "cannot be examined"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def is_case_name(name: str) -> bool:
    lower = name.lower()
    return Path(lower).suffix in CASE_SUFFIXES and ".expected." not in lower


def is_case_file(path: Path) -> bool:
    return path.is_file() and is_case_name(path.name)


def _read_file(path: Path) -> Iterator[Record]:
    source = shown(path)
    suffix = path.suffix.lower()
    if suffix not in CASE_SUFFIXES:
        yield _bad(source, f"unknown file type {path.suffix!r}; expected .json, .yaml, .yml or .jsonl")
        return
    if not path.is_file():  # a device or pipe named like a case file (x.jsonl -> /dev/zero) could never end
        yield _bad(source, f"not a regular file ({_kind_of(path)})")
        return
    try:
        if suffix == ".jsonl":
            with path.open("rb") as stream:
                yield from _read_lines(stream, source)
            return
        with path.open("rb") as stream:
            data = stream.read((MAX_RESOURCE_BYTES if suffix == ".json" else MAX_CASE_BYTES) + 1)
    except OSError as exc:
        yield _unreadable(source, exc)
        return
    problem = _size_problem(data, "file", resource_allowed=suffix == ".json")
    if problem:
        yield _bad(source, problem)
        return
    yield _decoded(data, source, yaml=suffix in (".yaml", ".yml"),
                   max_bytes=MAX_RESOURCE_BYTES if len(data) > MAX_CASE_BYTES else MAX_CASE_BYTES)


def _names_resource(data: bytes) -> bool:
    """Whether JSON text looks like a FHIR resource: a ``resourceType`` early on (FHIR JSON puts it first)."""
    return data.lstrip()[:1] == b"{" and b'"resourceType"' in data[:65536]


def _size_problem(data: bytes, what: str, resource_allowed: bool) -> str | None:
    if len(data) <= MAX_CASE_BYTES:
        return None
    if resource_allowed and _names_resource(data):
        if len(data) > MAX_RESOURCE_BYTES:
            return f"{what} is larger than the {MAX_RESOURCE_BYTES:,}-byte limit for a FHIR Bundle"
        return None
    return f"{what} is larger than the {MAX_CASE_BYTES:,}-byte limit for one case"


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
    if first.startswith(BOM):
        first = first[len(BOM):]
    while first and not first.strip():
        first = stream.readline(MAX_CASE_BYTES + 1)
    if _is_json_object_line(first):
        yield _decoded(_without_newline(first), "<stdin>:1", yaml=False)
        yield from _read_lines(stream, "<stdin>", first_number=2)
        return
    rest = stream.read(MAX_RESOURCE_BYTES + 1 - len(first))
    data = first + rest
    problem = _size_problem(data, "input", resource_allowed=True)
    if problem:
        yield _bad("<stdin>", problem)
        return
    yield _decoded(data, "<stdin>", yaml=not data.lstrip().startswith(b"{"),
                   max_bytes=MAX_RESOURCE_BYTES if len(data) > MAX_CASE_BYTES else MAX_CASE_BYTES)


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


def _decoded(data: bytes, source: str, yaml: bool, max_bytes: int = MAX_CASE_BYTES) -> Record:
    if data.startswith(BOM):  # a UTF-8 byte order mark (Windows editors write one) is not text
        data = data[len(BOM):]
    try:
        return Record(source, data.decode("utf-8"), yaml, max_bytes=max_bytes)
    except UnicodeDecodeError as exc:
        return _bad(source, f"not UTF-8 text (byte {exc.start + 1})")


def _bad(source: str, message: str) -> Record:
    return Record(source, error=InputError(source, [Problem("", message)]))


def _unreadable(source: str, exc: OSError, what: str = "cannot read") -> Record:
    """An I/O failure (permissions, a failing disk): its own kind of error, exit status 4."""
    return Record(source, error=ReadError(source, [Problem("", f"{what}: {exc.strerror or exc}")]))


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
    if _over_limit(record.text, record.max_bytes):  # a record built by a caller, not read by iter_records
        what = "one case" if record.max_bytes == MAX_CASE_BYTES else "a FHIR Bundle"
        return _error(record.source, "", f"case is larger than the {record.max_bytes:,}-byte limit for {what}")
    try:
        data = load_yaml(record.text) if record.yaml else load_json(record.text)
    except (ValueError, RecursionError) as exc:
        return _error(record.source, getattr(exc, "field", ""), str(exc) or "too deeply nested to read")
    if _over_limit(record.text, MAX_CASE_BYTES) and not (isinstance(data, dict) and "resourceType" in data):
        return _error(record.source, "", f"case is larger than the {MAX_CASE_BYTES:,}-byte limit for one case")
    try:
        return Item(record.source, case=validate(data, record.source))
    except InputError as exc:
        return Item(record.source, error=exc)


def _error(source: str, field: str, message: str) -> Item:
    return Item(source, error=InputError(source, [Problem(field, message)]))


def _over_limit(text: str, limit: int = MAX_CASE_BYTES) -> bool:
    return len(text) > limit or (
        len(text) * 4 > limit and len(text.encode("utf-8", "surrogatepass")) > limit
    )


# --- parsers -------------------------------------------------------------------


# json's C parser counts its recursion against the interpreter's limit. Under
# this limit that bounds the C stack too; above it (a caller raised the limit),
# the depth is checked by a scan before parsing. Either way nesting deeper than
# MAX_NESTING that does parse is refused later, by limits.shape_problems.
SAFE_RECURSION_LIMIT = 20_000


def load_json(text: str) -> Any:
    if sys.getrecursionlimit() > SAFE_RECURSION_LIMIT:
        too_deep = _json_nesting_problem(text)
        if too_deep is not None:
            raise too_deep
    try:
        if text.startswith("\ufeff"):  # json.loads's own refusal of a byte-order mark, worded as it words it
            return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant, parse_int=_json_int)
        return _DECODER.decode(text)  # what json.loads does with these hooks, without a new decoder per case
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
    if len(text) <= MAX_DIGITS:  # the common case, decided without counting digits
        return int(text)
    return RefusedNumber.long(text) if len(text.lstrip("-")) > MAX_DIGITS else int(text)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):  # some key came twice: name the first repeated one
        seen: set = set()
        for key, _ in pairs:
            if key in seen:
                raise Unreadable(f"duplicate key {show(key)}: a case must say each thing once")
            seen.add(key)
    return result


def _no_constant(name: str) -> RefusedNumber:
    return RefusedNumber(f"expected a finite number, got {name}")


# One decoder with the hooks above (json.loads makes a new one per call when given hooks).
_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant, parse_int=_json_int)


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
