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


def iter_items(paths: Iterable[str], stdin: IO[str] | None = None) -> Iterator[Item]:
    for raw in paths:
        if raw == "-":
            yield from _read_stdin(stdin or sys.stdin)
            continue
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if is_case_file(p))
            if not files:
                yield _error(raw, "", "directory holds no case files (.json, .yaml, .yml, .jsonl)")
            for file in files:
                yield from _read_file(file)
        elif path.exists():
            yield from _read_file(path)
        else:
            yield _error(raw, "", "no such file or directory")


def is_case_file(path: Path) -> bool:
    return path.is_file() and path.suffix in CASE_SUFFIXES and ".expected." not in path.name


def _read_file(path: Path) -> Iterator[Item]:
    source = str(path)
    if path.suffix not in CASE_SUFFIXES:
        yield _error(source, "", f"unknown file type {path.suffix!r}; expected .json, .yaml, .yml or .jsonl")
        return
    try:
        if path.suffix == ".jsonl":
            with path.open("rb") as stream:
                yield from _read_lines(stream, source)
            return
        if path.stat().st_size > MAX_CASE_BYTES:
            yield _error(source, "", f"file is larger than the {MAX_CASE_BYTES:,}-byte limit for one case")
            return
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        yield _error(source, "", "file is not UTF-8 text")
        return
    except OSError as exc:
        yield _error(source, "", f"cannot read file: {exc.strerror or exc}")
        return
    yield _parse_one(text, source, yaml_text=path.suffix in (".yaml", ".yml"))


def _read_lines(stream: IO[bytes], source: str) -> Iterator[Item]:
    for number, line in enumerate(stream, start=1):
        where = f"{source}:{number}"
        if len(line) > MAX_CASE_BYTES:
            yield _error(where, "", f"line is longer than the {MAX_CASE_BYTES:,}-byte limit for one case")
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            yield _error(where, "", "line is not UTF-8 text")
            continue
        if text.strip():
            yield _parse_one(text, where, yaml_text=False)


def _read_stdin(stream: IO[str]) -> Iterator[Item]:
    text = stream.read(MAX_CASE_BYTES * 100)
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and all(line.lstrip().startswith("{") and line.rstrip().endswith("}") for line in lines):
        yield from _read_lines(iter(text.encode("utf-8").splitlines(keepends=True)), "<stdin>")
    else:
        yield _parse_one(text, "<stdin>", yaml_text=not text.lstrip().startswith("{"))


def _parse_one(text: str, source: str, yaml_text: bool) -> Item:
    try:
        data = load_yaml(text) if yaml_text else load_json(text)
    except ValueError as exc:
        return _error(source, "", str(exc))
    try:
        return Item(source, case=validate_case(data, source))
    except InputError as exc:
        return Item(source, error=exc)


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
