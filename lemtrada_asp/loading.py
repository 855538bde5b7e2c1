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
from typing import IO, Any, Iterable, Iterator

import yaml

from .errors import InputError, Problem
from .model import Case, validate_case

CASE_SUFFIXES = {".json", ".yaml", ".yml", ".jsonl"}
MAX_CASE_BYTES = 1_000_000  # one case (a file, or a line of a .jsonl file)


@dataclass
class Item:
    """One case as read: either a valid case or the error that stopped it."""

    source: str
    case: Case | None = None
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


def iter_items(paths: Iterable[str], stdin: IO[bytes] | None = None) -> Iterator[Item]:
    return map(parse_record, iter_records(paths, stdin))


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
            yield _decoded(line, where, yaml=False)


def _read_stdin(stream: IO[bytes]) -> Iterator[Record]:
    """JSON Lines when the first line is a whole JSON object, else one JSON or YAML case."""
    first = stream.readline(MAX_CASE_BYTES + 1)
    while first and not first.strip():
        first = stream.readline(MAX_CASE_BYTES + 1)
    try:
        whole_line = isinstance(json.loads(first), dict)
    except ValueError:
        whole_line = False
    if whole_line:
        yield _decoded(first, "<stdin>:1", yaml=False)
        yield from _read_lines(stream, "<stdin>", first_number=2)
        return
    rest = stream.read(MAX_CASE_BYTES + 1 - len(first))
    data = first + rest
    if len(data) > MAX_CASE_BYTES:
        yield _bad("<stdin>", f"input is larger than the {MAX_CASE_BYTES:,}-byte limit for one case")
        return
    yield _decoded(data, "<stdin>", yaml=not data.lstrip().startswith(b"{"))


def _decoded(data: bytes, source: str, yaml: bool) -> Record:
    try:
        return Record(source, data.decode("utf-8"), yaml)
    except UnicodeDecodeError as exc:
        return _bad(source, f"not UTF-8 text (byte {exc.start + 1})")


def _bad(source: str, message: str) -> Record:
    return Record(source, error=InputError(source, [Problem("", message)]))


def parse_record(record: Record) -> Item:
    """Parse and validate one record; every failure becomes an item carrying its error."""
    if record.error is not None:
        return Item(record.source, error=record.error)
    try:
        data = load_yaml(record.text) if record.yaml else load_json(record.text)
    except ValueError as exc:
        return _error(record.source, "", str(exc))
    try:
        return Item(record.source, case=validate_case(data, record.source))
    except InputError as exc:
        return Item(record.source, error=exc)


def _error(source: str, field: str, message: str) -> Item:
    return Item(source, error=InputError(source, [Problem(field, message)]))


# --- parsers -------------------------------------------------------------------


def load_json(text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise ValueError("JSON is nested too deeply") from None


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}: a case must say each thing once")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a case may contain")


class _CaseYamlLoader(yaml.SafeLoader):
    """YAML for case files: YAML 1.2 booleans, no aliases, no duplicate keys.

    YAML 1.1 reads ``NO`` (Norway) and ``yes``/``off`` as booleans; in a case file
    those are state codes or typos. Aliases let a few lines expand into billions of
    nodes, and no case needs them.
    """

    def compose_node(self, parent, index):  # noqa: D401 - PyYAML hook
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError("while reading a case", None, "YAML aliases (*name) are not allowed in case files", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        keys = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in keys:
                raise yaml.MarkedYAMLError("while reading a case", None, f"duplicate key {key!r}", key_node.start_mark)
            keys.add(key)
        return super().construct_mapping(node, deep=deep)


_CaseYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_CaseYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def load_yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_CaseYamlLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise ValueError(f"malformed YAML{where}: {exc.problem}") from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise ValueError(f"malformed YAML: {exc}") from None


def reject_duplicate_ids(items: Iterable[Item]) -> Iterator[Item]:
    """A second case with an id already seen is an error, not a silent overwrite downstream."""
    first_seen: dict[str, str] = {}
    for item in items:
        if item.case is not None:
            earlier = first_seen.setdefault(item.case.id, item.source)
            if earlier != item.source:
                item = Item(
                    item.source,
                    error=InputError(item.source, [Problem("id", f"duplicate case id {item.case.id!r}, first used at {earlier}")], item.case.id),
                )
        yield item
