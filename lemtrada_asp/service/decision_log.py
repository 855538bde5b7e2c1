"""The decision log: one JSON line per decision, durable before the answer is sent, chained by hashes.

In the spirit of OPA's decision logs: each line holds what is needed to audit
and to replay a decision -- its id and time, the client that asked, the case,
the decision, the KB version and the tool version (the request body as
received only with ``log_requests``). The log holds member health information,
so it is created 0600 (a looser existing file is tightened, or refused when it
cannot be), a symlinked path is refused (O_NOFOLLOW), and with a mask key every
member identifier is replaced by a keyed HMAC-SHA-256 token and names, birth
dates and addresses are dropped or generalised (see AUDIT.md).

A line is written with one ``write`` on a file opened with O_APPEND and
``fsync``ed before the caller answers, under an exclusive ``flock`` so that the
writers of several worker processes take turns. Each line carries ``seq`` (one
more than the line before) and ``prev``, the SHA-256 of the previous line's
bytes (without its newline); the first line of a log chains from ``GENESIS``,
the first line after a rotation from the last line of the rotated file. So an
edited, deleted or inserted line breaks the chain where it is, and
``verify`` (``replay --verify``) names it by line number.

A write cut short (disk full) leaves a torn last line: before appending, the
writer terminates it with a newline, so the torn bytes stay one bad line of
their own (the next line chains from them) instead of swallowing the next
decision. Rotation: before each write the path is compared (st_dev, st_ino)
with the open file; a renamed or removed log is followed by a new file at the
path, and ``reopen()`` (SIGHUP in ``serve``) asks for the same.
"""

from __future__ import annotations

import copy
import errno
import fcntl
import hashlib
import hmac
import json
import os
import stat
import threading
import uuid
import weakref
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from ..engine.errors import LemtradaError

__all__ = [
    "DecisionLog", "DecisionLogError", "chain_head", "GENESIS", "KEY_ENV", "MIN_KEY_BYTES", "Gap", "LogLine",
    "line_hash", "load_mask_key", "mask_case", "mask_request", "mask_value", "read_log", "read_lines", "reopen_all", "verify",
]

GENESIS = "sha256:" + "0" * 64  # what the first line of a new chain names as its previous line
KEY_ENV = "LEMTRADA_MASK_KEY"  # the environment variable that may hold the mask key
MIN_KEY_BYTES = 16  # a mask key shorter than this is refused (HMAC-SHA-256 takes up to 64)
TOKEN_HEX = 32  # hex digits of the HMAC kept in a token: 128 bits
_TAIL_BLOCK = 65536
_SEQ_LOOKBACK = 1000  # lines read back past torn or foreign ones to find the last seq


class DecisionLogError(LemtradaError):
    """The decision log cannot be opened or written as it must be (exit 2 at ``serve``'s start)."""

    exit_status = 2


def line_hash(raw: bytes) -> str:
    """What the next line names as ``prev``: the SHA-256 of a line's bytes without its newline."""
    return "sha256:" + hashlib.sha256(raw.rstrip(b"\n")).hexdigest()


# --- masking ---------------------------------------------------------------------------


def load_mask_key(key_file: str | None) -> bytes:
    """The mask key: the bytes of key_file (a trailing newline dropped), else $LEMTRADA_MASK_KEY."""
    if key_file is not None:
        try:
            key = Path(key_file).read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise DecisionLogError(f"--mask-key-file {key_file}: cannot be read: {exc.strerror or exc}") from None
        where = f"--mask-key-file {key_file}"
    else:
        key = os.environ.get(KEY_ENV, "").encode()
        where = f"${KEY_ENV}"
        if not key:
            raise DecisionLogError(
                f"--mask-member-ids needs a key: give --mask-key-file FILE or set {KEY_ENV} "
                f"(at least {MIN_KEY_BYTES} random bytes, e.g. `head -c 32 /dev/urandom | base64`)")
    if len(key) < MIN_KEY_BYTES:
        raise DecisionLogError(f"{where}: the mask key is {len(key)} bytes; at least {MIN_KEY_BYTES} are needed")
    return key


def mask_value(value: str, key: bytes) -> str:
    """A keyed stand-in: the same id masks the same way under one key; without the key it cannot be reversed."""
    return "hmac:" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:TOKEN_HEX]


# Where a PAS request carries member data. Identifiers are masked; the rest is dropped,
# birth dates are kept as their year.
_MEMBER_RESOURCES = {"Patient", "RelatedPerson", "Coverage"}
_IDENTIFIER_KEYS = ("identifier", "subscriberId")
_DROPPED_KEYS = ("name", "address", "telecom", "photo", "contact")
_MEMBER_REFERENCES = ("patient", "subject", "beneficiary", "subscriber", "policyHolder")


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def _mask_identifier(value: Any, key: bytes) -> Any:
    if _scalar(value):
        return mask_value(str(value), key)
    if isinstance(value, dict):
        value = dict(value)
        if _scalar(value.get("value")):
            value["value"] = mask_value(str(value["value"]), key)
        return value
    if isinstance(value, list):
        return [_mask_identifier(v, key) for v in value]
    return value


def mask_request(data: Any, key: bytes) -> Any:
    """A copy of a request body with every member identifier masked and names, addresses, birth days gone.

    Resources anywhere in it (a Bundle, a Parameters around it, contained
    resources); references to the member (Claim.patient, Coverage.beneficiary,
    ...) lose their identifier's value and display.
    """
    data = copy.deepcopy(data)
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("resourceType") in _MEMBER_RESOURCES:
                for name in _IDENTIFIER_KEYS:
                    if name in node:
                        node[name] = _mask_identifier(node[name], key)
                if node.get("resourceType") != "Coverage":
                    for name in _DROPPED_KEYS:
                        node.pop(name, None)
                    if isinstance(node.get("birthDate"), str):
                        node["birthDate"] = node["birthDate"][:4]
            for name in _MEMBER_REFERENCES:
                ref = node.get(name)
                if isinstance(ref, dict):
                    if "identifier" in ref:
                        ref["identifier"] = _mask_identifier(ref["identifier"], key)
                    ref.pop("display", None)
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))
    return data


def _same_age_day(birth: date, on: date) -> date:
    """The day exactly as many whole years before `on` as the member's age on it: same age, no birthday."""
    from ..case.dates import age_in_years

    age = int(age_in_years(birth, on))
    try:
        stand_in = on.replace(year=on.year - age)
    except ValueError:  # 29 February in a year without it
        stand_in = on.replace(year=on.year - age, day=28)
    return stand_in


def mask_case(case: Any, key: bytes) -> Any:
    """A copy of a case (case format) with member.id masked, member.name dropped and the birth date generalised.

    The birth date becomes the day exactly the member's age in years before the
    request date: the one thing the policy reads of it (the age on the request
    date) is kept, so replay decides the masked case as the real one, while the
    day and month of birth are gone.
    """
    if not isinstance(case, dict) or not isinstance(case.get("member"), dict):
        return case
    case = copy.deepcopy(case)
    member = case["member"]
    if member.get("id") is not None:
        member["id"] = mask_value(str(member["id"]), key) if _scalar(member["id"]) else None
    member.pop("name", None)
    request = case.get("request")
    born = member.get("birth_date")
    if born is not None:
        try:
            birth = born if isinstance(born, date) else date.fromisoformat(str(born))
            on = request.get("date") if isinstance(request, dict) else None
            on = on if isinstance(on, date) else date.fromisoformat(str(on))
            member["birth_date"] = _same_age_day(birth, on).isoformat()
        except (TypeError, ValueError, AttributeError):
            member.pop("birth_date")  # not a date the policy could read: nothing to keep
    return case


# --- writing ---------------------------------------------------------------------------


def _open(path: str) -> tuple[int, int | None]:
    """The log's fd (append, no symlink, 0600) and the looser mode it had, if it was tightened."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DecisionLogError(f"decision log {path}: is a symbolic link; give the real file (a link could send the log anywhere)") from None
        raise DecisionLogError(f"decision log {path}: cannot be opened for appending: {exc.strerror or exc}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise DecisionLogError(f"decision log {path}: is not a regular file")
    loose = stat.S_IMODE(info.st_mode)
    if loose & 0o077:
        try:
            os.fchmod(fd, 0o600)
        except OSError as exc:
            os.close(fd)
            raise DecisionLogError(
                f"decision log {path}: is mode {loose:04o} (readable by others) and cannot be made 0600: "
                f"{exc.strerror or exc}; it holds member health information") from None
        return fd, loose
    return fd, None


def _tail(fd: int, size: int) -> Iterator[bytes]:
    """The lines of the file, last first (the last one possibly without its newline)."""
    end, rest = size, b""
    while end > 0:
        start = max(0, end - _TAIL_BLOCK)
        block = os.pread(fd, end - start, start) + rest
        end = start
        parts = block.split(b"\n")
        if block.endswith(b"\n") and rest == b"" and end + len(block) == size:
            parts.pop()  # the empty piece after the final newline
        rest = parts[0]
        for part in reversed(parts[1:]):
            yield part
    if rest:
        yield rest


@dataclass
class _Chain:
    """Where the chain stands in a file: what the next line names as prev, and its seq."""

    dev: int = -1
    ino: int = -1
    size: int = -1
    prev: str = GENESIS
    seq: int = 0


class DecisionLog:
    """Appends chained decision lines to one file; safe to share between threads and processes.

    ``tightened`` is the mode a looser existing file had before it was made 0600 (else None).
    """

    def __init__(self, path: str, *, mask_key: bytes | None = None, log_requests: bool = False):
        self.path = os.path.abspath(path)
        self.mask_key = mask_key
        self.log_requests = log_requests
        self._lock = threading.Lock()
        self._fd, self.tightened = _open(self.path)
        self._chain = _Chain()
        self._reopen = False
        _OPEN.add(self)

    @property
    def masked(self) -> bool:
        return self.mask_key is not None

    def reopen(self) -> None:
        """Open the path again before the next write (after rotation). Safe to call from a signal handler."""
        self._reopen = True

    def _rotated(self) -> bool:
        try:
            now = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            return True
        mine = os.fstat(self._fd)
        return (now.st_dev, now.st_ino) != (mine.st_dev, mine.st_ino)

    def _switch(self) -> None:
        """Open the file now at the path; the chain goes on from the last line of the old one."""
        with _locked(self._fd):
            self._state(self._fd)  # the old file's last line, as it stands
        fd, loose = _open(self.path)
        os.close(self._fd)
        self._fd, self.tightened = fd, loose or self.tightened
        self._reopen = False

    def _state(self, fd: int) -> _Chain:
        """The chain at the end of the file (read from it unless this writer wrote its end)."""
        info = os.fstat(fd)
        chain = self._chain
        if (info.st_dev, info.st_ino, info.st_size) == (chain.dev, chain.ino, chain.size):
            return chain
        if info.st_size == 0 and chain.size >= 0:  # a fresh file after rotation: go on from the old one
            self._chain = _Chain(info.st_dev, info.st_ino, 0, chain.prev, chain.seq)
            return self._chain
        prev, seq = GENESIS, 0
        for n, raw in enumerate(_tail(fd, info.st_size)):
            if n == 0:
                prev = line_hash(raw)
            if n > _SEQ_LOOKBACK:
                break  # a log of another format before this one: the chain starts again at seq 1
            try:
                seq = int(json.loads(raw)["seq"])
                break
            except (ValueError, KeyError, TypeError):
                continue  # a torn or foreign line: the seq is the last whole line's
        self._chain = _Chain(info.st_dev, info.st_ino, info.st_size, prev, seq)
        return self._chain

    def line(self, *, endpoint: str, received: Any, case: Any, decision: dict, kb_version: str, tool_version: str,
             decision_id: str, client: str | None, seq: int, prev: str, fresh: bool = False,
             move: dict | None = None) -> bytes:
        """The bytes of one line (with its newline).

        ``move``: a stored request's change of state (request, from, to, actor, reason),
        kept whether or not request bodies are; a reviewer's free-text reason is dropped
        when masking is on, since it may name the member.
        """
        key = self.mask_key
        entry = {
            "seq": seq,
            "prev": prev,
            "decision_id": decision_id,
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "endpoint": endpoint,
            "client": client,
            "case": mask_case(case, key) if key else case,
            "decision": decision,
            "kb_version": kb_version,
            "tool_version": tool_version,
            "masked": key is not None,
        }
        if move is not None:
            entry["move"] = {k: v for k, v in move.items() if not (key and k == "reason")}
        if seq > 1 and fresh:
            entry["continues"] = "the rotated file before this one"
        if self.log_requests:
            entry["input"] = mask_case(mask_request(received, key), key) if key else received  # a Bundle, or a case
        return (json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode()

    def record(self, *, endpoint: str, received: Any, case: Any, decision: dict, kb_version: str,
               tool_version: str, decision_id: str | None = None, client: str | None = None,
               move: dict | None = None) -> str:
        """Write one line and make it durable; returns the decision id."""
        decision_id = decision_id or str(uuid.uuid4())
        with self._lock:
            if self._reopen or self._rotated():
                self._switch()
            fd = self._fd
            with _locked(fd):
                chain = self._state(fd)
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":  # a torn last line: end it, keep it
                    _write_all(fd, b"\n")
                    size += 1
                data = self.line(endpoint=endpoint, received=received, case=case, decision=decision,
                                 kb_version=kb_version, tool_version=tool_version, decision_id=decision_id,
                                 client=client, seq=chain.seq + 1, prev=chain.prev, fresh=size == 0, move=move)
                _write_all(fd, data)
                os.fsync(fd)
                info = os.fstat(fd)
                self._chain = _Chain(info.st_dev, info.st_ino, info.st_size, line_hash(data), chain.seq + 1)
        return decision_id

    def close(self) -> None:
        os.close(self._fd)


class _locked:
    def __init__(self, fd: int):
        self.fd = fd

    def __enter__(self):
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)


def _write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)
    while written < len(data):  # a regular file takes it whole; this only guards a short write
        written += os.write(fd, data[written:])


# --- reading and verifying ----------------------------------------------------------------


@dataclass
class LogLine:
    """One line of a log as read: its number, bytes, the object (None when it is not one) and what is wrong."""

    number: int
    raw: bytes
    entry: dict | None
    problem: str | None  # why it cannot be replayed (not JSON, no decision, ...)
    terminated: bool = True


REQUIRED = ("decision", "case")


def read_lines(path: str) -> Iterator[LogLine]:
    """Every line of a log, streamed (constant memory), each parsed or with its problem named."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            terminated = raw.endswith(b"\n")
            raw = raw.rstrip(b"\n")
            if not raw.strip():
                yield LogLine(number, raw, None, "an empty line", terminated)
                continue
            try:
                entry = json.loads(raw)
            except (ValueError, RecursionError) as exc:
                problem = "a torn line (cut short while being written)" if not terminated else f"not JSON ({exc})"
                yield LogLine(number, raw, None, problem, terminated)
                continue
            if not isinstance(entry, dict):
                yield LogLine(number, raw, None, f"not a JSON object (a {type(entry).__name__})", terminated)
                continue
            missing = [k for k in REQUIRED if not isinstance(entry.get(k), dict)]
            problem = f"no {' and no '.join(missing)} object in it" if missing else None
            if problem is None and not terminated:
                problem = "a torn line (no newline at its end)"
            yield LogLine(number, raw, entry, problem, terminated)


def read_log(path: str) -> list[dict]:
    """Every whole, readable line of a decision log (a torn or bad line is skipped): for tests and small logs."""
    return [line.entry for line in read_lines(path) if line.problem is None and line.entry is not None]


@dataclass
class Gap:
    """Something verify found: the file, the line number and what happened there."""

    path: str
    number: int
    what: str
    note: bool = False  # a remark (a log that goes on from a rotated file), not a break

    def __str__(self) -> str:
        return f"{self.path}:{self.number}: {self.what}"


def chain_head(path: str) -> tuple[int | None, str]:
    """The seq and hash of a log's last line (what to record elsewhere, to notice a rewritten or cut tail)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        last = next(_tail(fd, os.fstat(fd).st_size), None)
    finally:
        os.close(fd)
    if last is None:
        return None, GENESIS
    try:
        seq = json.loads(last).get("seq")
    except (ValueError, AttributeError):
        seq = None
    return (seq if isinstance(seq, int) else None), line_hash(last)


def verify(paths: list[str]) -> Iterator[Gap]:
    """Every edited, deleted, inserted or torn line of the logs (one chain, oldest file first), streamed.

    Each chained line is checked against the line before it. What a break means
    is read off the next line too: a line whose successor chains from the line
    before it was inserted (the break at the inserted line itself is then no
    news); a break with consecutive seq means the line before was edited; a jump
    in seq, that lines were deleted. So each finding waits one line before it is
    given.
    """
    hashes: list[str] = []  # the hashes of the last two lines, oldest first
    seqs: list[int | None] = []  # their seq (None: not a chained line)
    places: list[tuple[str, int]] = []
    pending: list[Gap] = []

    def last_seq(back: int = 1) -> int | None:
        return seqs[-back] if len(seqs) >= back else None

    for path in paths:
        for line in read_lines(path):
            found: list[Gap] = []
            opens_file = line.number == 1
            entry = line.entry
            chained = entry is not None and isinstance(entry.get("prev"), str) and isinstance(entry.get("seq"), int)
            if entry is None or not line.terminated:
                what = line.problem or "a torn line"
                if line.terminated and entry is None and line.problem and line.problem.startswith("not JSON"):
                    what = f"torn or damaged: {line.problem}"
                found.append(Gap(path, line.number, what))
            elif not chained:
                found.append(Gap(path, line.number, "not a line of a chained log (no seq and prev)"))
            else:
                seq, prev = entry["seq"], entry["prev"]
                if not hashes:
                    if prev == GENESIS and seq == 1:
                        pass
                    elif prev != GENESIS and entry.get("continues"):
                        found.append(Gap(path, line.number, f"goes on from a rotated file (seq {seq - 1}, {prev}): "
                                                           "give that file first to check the link", note=True))
                    else:
                        found.append(Gap(path, line.number, f"does not start the chain: line(s) before it deleted (its seq is {seq})"))
                elif opens_file and prev == GENESIS and seq == 1:
                    found.append(Gap(path, line.number, "starts a new chain (a log begun afresh, not a rotation "
                                                        "the server followed)", note=True))
                elif prev == hashes[-1]:
                    before = last_seq()
                    if before is not None and seq != before + 1:
                        found.append(Gap(path, line.number, f"edited: seq {seq} follows seq {before}"))
                elif len(hashes) == 2 and prev == hashes[0]:
                    pending = [Gap(*places[-1], "inserted: the line after it chains from the line before it")]
                    before = last_seq(2)
                    if before is not None and seq > before + 1:
                        found.append(Gap(path, line.number, f"{seq - before - 1} line(s) deleted before it (seq {before} is followed by seq {seq})"))
                elif last_seq() is not None and seq == last_seq() + 1:
                    pending = [g for g in pending if (g.path, g.number) != places[-1]]
                    pending.append(Gap(*places[-1], "edited: its hash is not the one the line after it recorded"))
                elif last_seq() is not None and seq > last_seq() + 1:
                    found.append(Gap(path, line.number, f"{seq - last_seq() - 1} line(s) deleted before it "
                                                        f"(seq {last_seq()} is followed by seq {seq})"))
                else:
                    found.append(Gap(path, line.number, f"breaks the chain (seq {seq} after seq {last_seq()}): edited or moved"))
            yield from pending
            pending = found
            hashes = [*hashes[-1:], line_hash(line.raw)]
            if chained:
                seqs = [*seqs[-1:], entry["seq"]]
            elif seqs:
                seqs = [seqs[-1], seqs[-1]]  # a torn line keeps the seq of the last whole one
            places = [*places[-1:], (path, line.number)]
    yield from pending


_OPEN: "weakref.WeakSet[DecisionLog]" = weakref.WeakSet()


def reopen_all() -> None:
    """Every open log of this process reopens its path before its next write (SIGHUP's handler: only sets flags)."""
    for log in list(_OPEN):
        log.reopen()
