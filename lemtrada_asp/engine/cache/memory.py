"""clingo decides, Python remembers: a cache in front of the chunked engine.

Most of a batch's cases repeat what earlier cases already made clingo derive, part
by part. The cache is layered as the KB is (the layers are derived from its rules
by derive.py, never listed by hand):

1. leaves: for each group of leaves, the exact input facts the group reads (the
   case key left out; of a list, only the facts a data table ties to the leaves,
   selection.py) -> the group's findings (id, status, evidence);
2. above the leaves, in parts (parts.py proves them on the ground program, for
   each value of the hooks: the few inputs read other than through findings, e.g.
   prior courses, the member's state): each part's leaves' (id, status) pairs and
   the hooks -> the part's shown atoms (a criterion's statuses, reasons, needs);
   the hooks and the interface atoms that hold (which criteria failed or are
   missing) -> the decision level's (decision, grants, advisories). Evidence is
   kept as "the findings of leaf L with status S". A combination seen whole is
   also kept whole: every leaf's pairs and the hooks -> everything above. A new
   decision level over parts already seen is asked of clingo on the program above
   the leaves, ground once per value of the hooks (parts.Grounded): one solve, not
   a chunk through the whole program;
3. corrections: every leaf's pairs and the what-if's hooks -> the minimal corrections.
   A new key is solved on the what-if above the leaves, ground once per value of
   those hooks: its optimal answers are the minimal corrections.

A case whose every layer is known is answered from memory into the same
``_Outcome`` the engine reads from clingo, and becomes a record by the same code
(``Engine._record``), so the output is the same byte for byte. The other cases of
the chunk go to the engine together (one ground program), and what clingo derived
for them fills the layers -- but only after the cache has rebuilt each such case
from what it would store and found it equal to clingo's answer; a case it cannot
rebuild exactly is decided, never stored, and its pieces are stored only if they
rebuild it too. Keys hold exact values (nothing is clamped or bucketed): a new age,
a new date distance, a new code is a miss.

Memory is bounded: each layer keeps at most ``cap`` entries, dropping its oldest.
A KB the derivation cannot vouch for is decided on the plain path, and
``DecisionCache.reason`` says why. The cache is Python memory: nothing of a case
ever becomes program text.
"""

from __future__ import annotations

import time
from copy import copy
from dataclasses import fields, replace
from typing import Any, Callable, NamedTuple, Sequence

from clingo import Function, Number, Symbol, SymbolType

from ..atoms import id_text, read
from . import stored
from .derive import Derivation, derive, parse_program
from ..engine import Engine, _Outcome
from .parts import DECISION, Above, Grounded, Parts, Prover, key as output_key
from ..record import Decision

__all__ = ["CAP", "DecisionCache", "cache_for", "verify"]

CAP = 10_000  # entries per layer (per leaf group, upper, corrections): bounds memory on any input length
STRUCTURES_STORED = 256  # proven parts kept on disk per KB version (one per value of the hooks seen)
GROUNDED_KEPT = 32  # ground programs above the leaves kept (about 0.7 MB each), one per value of the hooks
SAVE_INTERVAL = 5.0  # seconds at least between two writes of the proofs learnt (each write encodes them all)


class DecisionCache:
    """Decides like ``Engine.decide``; answers from memory what it has seen, clingo the rest."""

    def __init__(self, engine: Engine, derivation: Derivation | None = None, cap: int = CAP):
        self.engine = engine
        self._stored: stored.Stored | None = None  # what is kept on disk for this KB version (stored.py)
        self._unsaved = False  # proofs learnt since the file was last written
        self._saved_at = float("-inf")
        if derivation is None:
            self._stored = stored.load(engine.version)
            if self._stored is None:
                self._stored = stored.Stored(derive(engine.kb))
                stored.save(engine.version, self._stored)
            derivation = self._stored.derivation
            if derivation.vouched and not derivation.statements:  # clingo's AST is not stored: parsed again
                derivation = replace(derivation, statements=tuple(parse_program(engine.kb, "decide")))
        self.derivation = derivation
        self.cap = cap
        self.reason = self.derivation.reason
        self.active = self.derivation.vouched
        d = self.derivation
        model = engine.case_model
        plain = getattr(model, "facts", None)
        # Every key is the facts of some inputs, each input as (name, place, values): only the
        # facts with one of the values at that place (selection.py), or every fact when place
        # is None (always for symbol keys).
        self._groups = [
            _inputs(g.reads, {q[0]: (p, v) for q, p, v in g.select} if plain is not None else None) for g in d.groups
        ]
        self._group_of = {leaf: i for i, g in enumerate(d.groups) for leaf in g.leaves}
        self._hooks = _inputs(d.hooks)
        self._keys = _key_maker(self._groups, self._hooks)
        self._fix_hooks = _inputs(d.correction_hooks)
        self._templates = {shape: paths for shape, paths in d.templates.items()}
        self._carriers = {name: spot for (name, _), spot in d.carriers.items()}
        self._leaves: list[dict] = [{} for _ in self._groups]
        self._upper: dict = {}  # every leaf's status and the hooks -> everything above the leaves
        self._structures: dict = {}  # (details, hooks) -> the parts proven for them (None: one part)
        if self._stored is not None:
            self._structures.update(list(self._stored.structures.items())[-cap:])
        self._pieces: dict = {}  # (details, hooks, part, its leaves' statuses) -> that part's piece
        self._decisions: dict = {}  # (details, hooks, the interface atoms that hold) -> the decision level's piece
        self._prover = (
            Prover(d.statements, self._group_of, [Function(s) for s in d.statuses], d.interface)
            if self.active and d.statuses else None
        )
        self._grounded: dict = {}  # (details, hooks) -> the program above the leaves, ground (GROUNDED_KEPT of them)
        self._fixes: dict = {}
        self._whatif: Above | None = None  # the what-if program above the leaves, parsed on first use
        self._whatifs: dict = {}  # the correction hooks -> that program, ground (GROUNDED_KEPT of them)
        self._evidence_fields: set[str] = set()  # fields of _Outcome that carriers fill
        self._fields: dict[str, str] = {}  # shown atom name -> the _Outcome field it is filed in
        # Keys are the case's facts without their key: plain tuples when the case model
        # gives them (no call into clingo), else its symbols under key 0 as (name, symbol).
        self._facts = plain if plain is not None else (lambda case: [(f.name, f) for f in model.symbols(0, case)])
        self._plain = plain is not None
        self._collapse = d.collapse if self._plain else {}
        self.hits = self.misses = self.unverified = self.composed = self.unsplit = self.solved = self.solved_corrections = 0

    # --- deciding ---------------------------------------------------------------------
    def decide(
        self, cases: Sequence[tuple[str, Any]], *, details: bool = False, corrections: bool = False
    ) -> list[Decision]:
        if not self.active or not cases:
            return self.engine.decide(cases, details=details, corrections=corrections)
        facts = self._facts
        outcomes: list[_Outcome | None] = []
        plans: list[list | None] = []  # per case, the slot of its upper entry that keeps the record's plan
        keys: list[_Keys] = []
        missed: list[int] = []
        collapse = self._collapse
        for k, (_, case) in enumerate(cases):
            by: dict[str, tuple] = {}
            for fact in facts(case):
                name = fact[0]
                if name in collapse:
                    fact = _collapsed(fact, collapse[name])
                found = by.get(name)
                by[name] = (fact,) if found is None else (*found, fact)
            key = _Keys(by, *self._keys(by))
            found = self._hit(k, key, details, case)
            keys.append(key)  # kept for the fill and the corrections key
            if found is None:
                outcomes.append(None)
                plans.append(None)
                missed.append(k)
            else:
                outcomes.append(found[0])
                plans.append(found[1][2])
        if missed:
            self.misses += len(missed)
            filled = self._fill([cases[k][1] for k in missed], [keys[k] for k in missed], details)
            # clingo's outcomes carry the keys of the miss chunk; the record never shows a key,
            # but evidence is re-keyed to the case's place in this chunk all the same.
            for k, outcome in zip(missed, filled):
                outcomes[k] = self._rekeyed(outcome, k) if outcome is not None else None
        self.hits += len(cases) - len(missed)
        fixes: dict[int, Any] = {}
        if corrections:
            fixes = self._corrections(cases, outcomes, keys)
        engine = self.engine
        record = engine._record
        # A hit's template holds every atom of its outcome but the evidence, shared: the record's
        # plan (Engine._plan) is made once per template and kept in its upper entry.
        planned = not details and self._evidence_fields <= _EVIDENCE
        decided = []
        for k, (source, case) in enumerate(cases):
            outcome, slot = outcomes[k], plans[k]
            plan = None
            if planned and slot is not None:
                plan = slot[0]
                if plan is None:
                    plan = slot[0] = engine._plan(outcome)  # type: ignore[arg-type]
            decided.append(record(source, case, outcome, details, fixes.get(k), plan))  # type: ignore[arg-type]
        if self._unsaved:
            self.keep(now=False)
        return decided

    def _lookup(self, k: int, key: "_Keys", details: bool, case: Any) -> _Outcome | None:
        found = self._hit(k, key, details, case)
        return None if found is None else found[0]

    def _hit(self, k: int, key: "_Keys", details: bool, case: Any) -> tuple[_Outcome, tuple] | None:
        """The case's outcome from memory and the upper entry it was built on; None if a layer misses."""
        findings = []
        projection = []
        for table, group_key in zip(self._leaves, key.groups):
            value = table.get(group_key)
            if value is None:
                return None
            findings.append(value[0])
            projection.append(value[1])
        whole_key = (details, tuple(projection), key.hooks)
        upper = self._upper.get(whole_key)
        if upper is None:  # a new combination of statuses: put together from its parts, if each is known
            parts = self._structures.get((details, key.hooks))
            pieces = self._pieces_of(details, key.hooks, parts, projection, case) if parts else None
            if pieces is None:
                return None
            upper = _compose(pieces)
            _put(self._upper, whole_key, upper, self.cap)
            self.composed += 1
        return self._build(k, upper, findings), upper

    def _pieces_of(
        self, details: bool, hooks: tuple, parts: Parts, projection: list[tuple], case: Any
    ) -> list["_Piece"] | None:
        """The known piece of every part for these statuses, then the decision level's; None if one is new.

        A new decision level over known parts is asked of clingo on the parts' own ground
        program (``_solved_decision``), not of the whole program."""
        pieces = []
        interface: tuple = ()
        table = self._pieces
        for i, pairs in enumerate(_split(parts, projection)):
            piece = table.get((details, hooks, i, pairs))
            if piece is None:
                return None
            pieces.append(piece)
            interface += piece.interface
        piece = self._decisions.get((details, hooks, interface))
        if piece is None:
            piece = self._solved_decision(details, hooks, parts, projection, interface, case)
            if piece is None:
                return None
        pieces.append(piece)
        return pieces

    def _solved_decision(
        self, details: bool, hooks: tuple, parts: Parts, projection: list[tuple], interface: tuple, case: Any
    ) -> "_Piece | None":
        """The decision level for these parts, from the program above the leaves with these findings.

        The proof (parts.py) says the decision level reads the parts only through the
        interface atoms that hold, so it is kept under them, as a piece cut from a
        whole answer is. What clingo answers here must show the very interface atoms
        the parts' pieces hold; if it does not, or it holds a fault or evidence at the
        decision level, the case goes to the whole program instead.
        """
        grounded = self._grounded_for(details, hooks, case)
        held = grounded.holds(pair for pairs in projection for pair in pairs)
        if held is None:
            return None
        level = parts.level
        decision = _Outcome()
        own: list[tuple] = []  # the decision level's own interface atoms (an interface atom no part holds)
        shown: list[tuple] = []
        for atom in held:
            name, args = read(atom)
            found = output_key(name, args)
            at = level.get(found)
            if at is None or (at == DECISION and name in self._carriers):
                return None
            if found in parts.interface:
                (own if at == DECISION else shown).append(found)
            if at == DECISION:
                decision.add(name, args)
        if sorted(shown) != sorted(interface) or decision.faults or len(decision.decisions) != 1:
            return None
        piece = _Piece(_filled(decision), (), tuple(sorted(own)))
        _put(self._decisions, (details, hooks, interface), piece, self.cap)
        self.solved += 1
        return piece

    def _grounded_for(self, details: bool, hooks: tuple, case: Any) -> Grounded:
        where = (details, hooks)
        found = self._grounded.get(where)
        if found is None:
            found = self._prover.ground(self._hook_symbols(case), details, observe=False)  # type: ignore[union-attr]
            _put(self._grounded, where, found, GROUNDED_KEPT)
        return found

    def _hook_symbols(self, case: Any, hooks: Sequence[tuple[str, int]] | None = None) -> list[Symbol]:
        sigs = set(self.derivation.hooks if hooks is None else hooks)
        return [s for s in self.engine.case_model.symbols(0, case) if (s.name, len(s.arguments)) in sigs]

    def _build(self, k: int, upper: tuple, findings: list[tuple]) -> _Outcome:
        template, selectors = upper[0], upper[1]
        o = _Outcome.__new__(_Outcome)  # a shallow copy (copy.copy is several times slower) ...
        o.__dict__.update(template.__dict__)  # ... sharing the template's containers, which nothing below mutates ...
        for name in self._evidence_fields:  # ... but for the fields evidence goes to: fresh per case
            setattr(o, name, type(getattr(template, name))())
        for field_name, entry, group, pair in selectors:
            evidence = findings[group].get(pair)
            if evidence:
                getattr(o, field_name).setdefault(entry, []).extend(e.at(k) for e in evidence)
        return o

    def _rekeyed(self, o: _Outcome, k: int) -> _Outcome:
        key = Number(k)
        for name in self._evidence_fields:
            table = getattr(o, name)
            for entry, found in table.items():
                table[entry] = [_Evidence(e, self._templates)._at(key) for e in found]
        return o

    # --- filling ----------------------------------------------------------------------
    def _fill(self, cases: list[Any], keys: list["_Keys"], details: bool) -> list[_Outcome]:
        collected: list = []
        outcomes = self.engine._solve(cases, details, collect=collected)
        for k, (case, outcome, key, (shown, found)) in enumerate(zip(cases, outcomes, keys, collected)):
            self._store(k, case, outcome, key, shown, found, details)
        return outcomes

    def _parts(self, details: bool, key: "_Keys", case: Any) -> Parts | None:
        """The parts for these hooks, proven on first sight (parts.py); None: the decision is one part."""
        where = (details, key.hooks)
        if where in self._structures:
            return self._structures[where]
        parts = None
        if self._prover is not None:
            grounded = self._prover.ground(self._hook_symbols(case), details)
            parts = grounded.parts(self._prover.interface)
            if parts is not None:
                _put(self._grounded, where, grounded, GROUNDED_KEPT)
        _put(self._structures, where, parts, self.cap)
        if self._stored is not None and len(self._stored.structures) < STRUCTURES_STORED:
            self._stored.structures[where] = parts  # the next process loads this proof instead (see keep)
            self._unsaved = True
        return parts

    def keep(self, now: bool = True) -> None:
        """Write the proofs learnt since the last write to disk (stored.py); with ``now`` false, only
        if SAVE_INTERVAL has passed since then. A write encodes every proof kept, so writing after
        each new one made the first runs on a new KB version quadratic (check-kb on an edited KB
        spent 55 s of 64 in 148 writes); ``decide`` writes at most every SAVE_INTERVAL, and a run
        writes what is left when it ends (engine/batch.py, verify)."""
        if self._unsaved and self._stored is not None and (now or time.monotonic() - self._saved_at >= SAVE_INTERVAL):
            stored.save(self.engine.version, self._stored)
            self._unsaved, self._saved_at = False, time.monotonic()

    def _store(self, k: int, case: Any, outcome: _Outcome, key: "_Keys", shown: list, found: list, details: bool) -> None:
        if not self._plain and any(_compound(f) for facts in key.by.values() for _, f in facts):
            self.unverified += 1  # compound input values: the evidence template cannot tell them from keys
            return
        per_group: list[dict] = [{} for _ in self._groups]
        for args in found:
            _, ident, status, evidence = args
            leaf = id_text(ident)
            group = self._group_of.get(leaf)
            if group is None:
                self._disable(f"a finding for {ident}, which no derived leaf group holds")
                return
            per_group[group].setdefault((leaf, id_text(status)), []).append(evidence)
        values = []
        for leaves, group_key, table in zip(self._leaves, key.groups, per_group):
            known = leaves.get(group_key)
            if known is None:
                known = ({pair: tuple(_Evidence(e, self._templates) for e in es) for pair, es in table.items()}, tuple(sorted(table)))
            values.append(known)
        parts = self._parts(details, key, case)
        levels = parts.level if parts else {}
        level_of: list[int | None] = []  # each shown atom's part (DECISION: the decision level), in order
        per_atom: list[tuple | None] = []  # each shown atom's evidence selector (None: it carries none)
        selectors: list[tuple] = []
        other_fields: set[str] = set()  # where the atoms that carry no evidence went
        for name, args in shown:
            spot = self._carriers.get(name)
            if spot is None:
                other_fields.add(self._field_of(name, args))
                per_atom.append(None)
                if parts:
                    level_of.append(levels.get(output_key(name, args)))
                continue
            id_pos, e_pos = spot
            ident, evidence = args[id_pos], args[e_pos]
            leaf = id_text(ident)
            group = self._group_of.get(leaf)
            pairs = [p for p, es in per_group[group].items() if p[0] == leaf and evidence in es] if group is not None else []
            # Where add() puts this atom: one field, one entry, the evidence appended.
            probe = _Outcome()
            probe.add(name, args)
            placed = [(f.name, getattr(probe, f.name)) for f in fields(probe) if getattr(probe, f.name)]
            if len(pairs) != 1 or len(placed) != 1 or not isinstance(placed[0][1], dict) or len(placed[0][1]) != 1:
                self.unverified += 1
                return
            field_name, table = placed[0]
            [(entry, listed)] = table.items()
            if listed != [evidence]:
                self._disable(f"{name} is read back in a shape the cache does not rebuild")
                return
            self._evidence_fields.add(field_name)
            selector = (field_name, entry, group, pairs[0])
            per_atom.append(selector)
            if parts:
                level_of.append(levels.get(output_key(name, args, e_pos, parts.stand_ins.get(pairs[0]))))
            if selector not in selectors:
                selectors.append(selector)
        if other_fields & self._evidence_fields:
            self._disable("an output field holds both evidence and other atoms")
            return
        # The template is the outcome without its evidence (which selectors put back per case):
        # the same as adding every atom that carries none, without reading them again.
        template = _Outcome.__new__(_Outcome)
        template.__dict__.update(
            (name, type(value)() if name in self._evidence_fields else copy(value))
            for name, value in outcome.__dict__.items()
        )
        upper = (template, selectors, [None])  # the last: the record's plan, made on first use
        findings = [v[0] for v in values]
        if self._build(k, upper, findings) != outcome:
            self.unverified += 1  # the layers would not give back clingo's answer: decide such cases, never store them
            return
        for leaves, group_key, value in zip(self._leaves, key.groups, values):
            _put(leaves, group_key, value, self.cap)
        projection = [v[1] for v in values]
        _put(self._upper, (details, tuple(projection), key.hooks), upper, self.cap)
        if parts and None not in level_of:
            self._store_pieces(k, outcome, parts, shown, per_atom, level_of, (details, key.hooks), projection, findings)

    def _store_pieces(
        self, k: int, outcome: _Outcome, parts: Parts, shown: list, per_atom: list, level_of: list[int | None],
        where: tuple, projection: list[tuple], findings: list,
    ) -> None:
        """The case's outcome cut into its parts and its decision level, kept if they give it back exactly."""
        count = len(parts.parts)  # the decision level is filed last, at count
        partial: dict[int, _Outcome] = {}
        chosen: dict[int, list[tuple]] = {}
        interface: dict[int, list[tuple]] = {}
        for (name, args), selector, level in zip(shown, per_atom, level_of):
            at = count if level == DECISION else level
            if selector is None:
                if at not in partial:
                    partial[at] = _Outcome()
                partial[at].add(name, args)
                found = output_key(name, args)
                if found in parts.interface:
                    interface.setdefault(at, []).append(found)
            elif selector not in chosen.setdefault(at, []):
                chosen[at].append(selector)
        pieces = [
            _Piece(
                _filled(partial[i]) if i in partial else (),
                tuple(chosen.get(i, ())),
                tuple(sorted(interface[i])) if i in interface else (),
            ) if i in partial or i in chosen else _EMPTY
            for i in range(count + 1)
        ]
        if self._build(k, _compose(pieces), findings) != outcome:
            self.unsplit += 1  # kept whole only
            return
        for i, pairs in enumerate(_split(parts, projection)):
            _put(self._pieces, (*where, i, pairs), pieces[i], self.cap)
        joined = tuple(s for piece in pieces[:count] for s in piece.interface)
        _put(self._decisions, (*where, joined), pieces[count], self.cap)

    def _field_of(self, name: str, args: Sequence[Symbol]) -> str:
        """The one field of _Outcome that add() files atoms of this name in (found once per name)."""
        found = self._fields.get(name)
        if found is None:
            probe = _Outcome()
            probe.add(name, args)
            placed = [f.name for f in fields(probe) if getattr(probe, f.name)]
            found = placed[0] if len(placed) == 1 else ""  # "" (not shown, or in two fields): never an evidence field
            self._fields[name] = found
        return found

    def _disable(self, reason: str) -> None:
        self.active = False
        self.reason = reason

    # --- corrections ------------------------------------------------------------------
    def _corrections(self, cases: Sequence[tuple[str, Any]], outcomes: list, keys: list["_Keys"]) -> dict[int, Any]:
        from ..corrections import corrector_for

        needs = self.engine._needs_corrections
        fixes: dict[int, Any] = {}
        unknown: list[tuple[int, tuple]] = []
        for k, outcome in enumerate(outcomes):
            if not needs(outcome):
                continue
            key = self._fix_key(keys[k])
            found = self._fixes.get(key) if key is not None else None
            if found is None:
                unknown.append((k, key))
            else:
                fixes[k] = found
        corrector = corrector_for(self.engine)
        rest: list[tuple[int, tuple | None]] = []
        for k, key in unknown:
            value = None if key is None else self._fixes.get(key) or self._solved_corrections(key, cases[k][1], corrector)
            if value is None:
                rest.append((k, key))
            else:
                fixes[k] = value
                _put(self._fixes, key, value, self.cap)
        if rest:
            computed = corrector.corrections([cases[k][1] for k, _ in rest])
            for (k, key), value in zip(rest, computed):
                fixes[k] = value
                if key is not None:
                    _put(self._fixes, key, value, self.cap)
        return fixes

    def _solved_corrections(self, key: tuple, case: Any, corrector: Any) -> Any:
        """A case's corrections from the what-if above the leaves, solved for its statuses (every optimal answer).

        The corrections layer is keyed by every leaf's status and the correction
        hooks, because the derivation vouches that the what-if reads nothing else;
        so the what-if without the leaves' rules, ground once per value of those
        hooks, answers a new key in one solve. None: that program has no answer
        here, and the case goes to the Corrector, which says why.
        """
        if self._prover is None:  # no proven statuses to make externals of: the Corrector decides
            return None
        projection, hooks = key
        grounded = self._whatifs.get(hooks)
        if grounded is None:
            if self._whatif is None:
                statements: list = []
                self.engine.kb.parse(statements.append, "whatif")
                self._whatif = Above(statements, self._group_of, self._prover.above.statuses)
            symbols = self._hook_symbols(case, self.derivation.correction_hooks)
            grounded = self._whatif.ground(symbols, [("base", [])], ["--opt-mode=optN", "--models=0"])
            _put(self._whatifs, hooks, grounded, GROUNDED_KEPT)
        answers = grounded.optimal(pair for pairs in projection for pair in pairs)
        if answers is None:
            return None
        self.solved_corrections += 1
        return corrector.from_answers(answers)

    def _fix_key(self, key: "_Keys") -> tuple | None:
        projection = []
        for leaves, group_key in zip(self._leaves, key.groups):
            value = leaves.get(group_key)
            if value is None:  # evicted, or never stored (unverified): compute, do not remember
                return None
            projection.append(value[1])
        return (tuple(projection), _keyed(key.by, self._fix_hooks))

    def describe(self) -> list[str]:
        lines = self.derivation.describe() if self.active else [
            f"decision cache: off, the plain chunked path decides every case ({self.reason})"
        ]
        if self.active:
            if self._prover is None:
                lines.append("  above the leaves: one part (a finding's status is not a constant)")
            else:
                proven = [p for p in self._structures.values() if p is not None]
                lines.append(
                    "  above the leaves: parts proven on the ground program for each value of the hooks"
                    + (f" ({len(proven)} of {len(self._structures)} so far, up to {max(len(p.parts) for p in proven)} parts)"
                       if proven else "")
                )
        if self.hits or self.misses:
            lines.append(
                f"decision cache: {self.hits} cases from memory ({self.composed} put together from parts"
                + (f", {self.solved} decision levels solved above the leaves" if self.solved else "") + "),"
                f" {self.misses} through clingo"
                + (f", {self.unverified} not stored" if self.unverified else "")
                + (f"; {self.solved_corrections} corrections solved above the leaves" if self.solved_corrections else "")
            )
        return lines


def verify(engine: Engine, cases: Sequence[tuple[str, Any]], chunk: int = 100) -> tuple[list[str], int]:
    """Decide cases through the plain path and through the cache; the derivation's lines and the cases that differ.

    The cases go through twice, so the second pass is answered from memory.
    """
    import json

    cache = DecisionCache(engine)
    if not cache.active:
        return cache.describe(), 0
    differ = 0
    cases = list(cases) * 2
    for start in range(0, len(cases), chunk):
        part = cases[start : start + chunk]
        for a, b in zip(engine.decide(part), cache.decide(part)):
            differ += json.dumps(a.to_json()) != json.dumps(b.to_json())
    cache.keep()
    lines = cache.describe()
    lines.append(
        f"decision cache verified: {len(cases) - differ} of {len(cases)} cases byte-identical to the plain path"
        if not differ else f"PROBLEM: decision cache: {differ} of {len(cases)} cases differ from the plain path"
    )
    return lines, differ


class _Keys(NamedTuple):
    """One case's facts by input name, and the keys the layers look it up by."""

    by: dict[str, tuple]
    groups: list[tuple]  # per leaf group, in self._groups order
    hooks: tuple  # the facts of the inputs the hooks read


_EVIDENCE = frozenset({"because", "findings"})  # the fields of _Outcome that Engine._plan does not read
KEYED_KEPT = 1_000  # per stored evidence term, the case keys it keeps its keyed copy for (keys are a chunk's places)
OTHER = ("other value",)  # stands for every value of a collapsed argument that no data fact holds


def _inputs(sigs: Sequence[tuple[str, int]], selected: dict[str, tuple] | None = None) -> tuple[tuple, ...]:
    """A key's inputs in name order, as (name, place, values); place None: every fact."""
    selected = selected or {}
    return tuple((name, *selected.get(name, (None, None))) for name in sorted({name for name, _ in sigs}))


def _keyed(by: dict[str, tuple], inputs: Sequence[tuple]) -> tuple:
    """A key: the facts of its inputs (or of a selected input, those it selects), input by input, in one flat tuple."""
    get = by.get
    key: tuple = ()
    for name, place, values in inputs:
        found = get(name)
        if found:
            key += found if place is None else tuple(f for f in found if f[place] in values)
    return key


def _key_maker(groups: Sequence[tuple], hooks: tuple) -> Callable[[dict], tuple[list[tuple], tuple]]:
    """One function that makes every group's key and the hooks' key of a case, each as ``_keyed`` makes it.

    A case is keyed 20-odd times; one generated function with each input fetched once
    makes the same tuples in about a third of the time of calling ``_keyed`` per key.
    Only indices go into its text: input names and selected values are passed in as data.
    """
    names = sorted({name for inputs in (*groups, hooks) for name, _, _ in inputs})
    index = {name: i for i, name in enumerate(names)}
    scope: dict[str, Any] = {"_names": tuple(names)}

    def made(inputs: tuple) -> str:
        parts = []
        for name, place, values in inputs:
            i = index[name]
            if place is None:
                parts.append(f"*v{i}")
            else:
                scope[f"_s{len(scope)}"] = values
                parts.append(f"*[f for f in v{i} if f[{int(place)}] in _s{len(scope) - 1}]")
        return f"({', '.join(parts)},)" if parts else "()"

    text = "\n".join([
        "def keys(by):",
        "    get = by.get",
        *(f"    v{i} = get(_names[{i}], ())" for i in range(len(names))),
        f"    return [{', '.join(made(inputs) for inputs in groups)}], {made(hooks)}",
    ])
    exec(compile(text, "<keys of the decision cache>", "exec"), scope)
    return scope["keys"]


def _collapsed(fact: tuple, positions: dict[int, frozenset]) -> tuple:
    values = list(fact)
    for pos, kept in positions.items():
        if pos < len(values) and values[pos] not in kept:
            values[pos] = OTHER
    return tuple(values)


class _Piece(NamedTuple):
    """What one part (or the decision level) adds to an outcome: atoms without evidence, evidence to fetch."""

    items: tuple  # (field of _Outcome, its value) for the fields the part fills
    selectors: tuple  # (field, entry, group, (leaf, status)): where a finding's evidence goes
    interface: tuple  # keys (parts.key) of the part's interface atoms that hold: the decision level is keyed by them


_EMPTY = _Piece((), (), ())


def _filled(outcome: _Outcome) -> tuple:
    """A piece's items: the fields of the outcome that hold something, with their values."""
    return tuple((name, value) for name, value in outcome.__dict__.items() if value)


def _split(parts: Parts, projection: list[tuple]) -> list[tuple]:
    """Each part's (leaf, status) pairs, from each group's: a leaf in no part changes nothing for these hooks."""
    split: list[list] = [[] for _ in parts.parts]
    part_of = parts.part_of
    for pairs in projection:
        for pair in pairs:
            i = part_of.get(pair[0])
            if i is not None:
                split[i].append(pair)
    return [tuple(pairs) for pairs in split]


def _compose(pieces: Sequence[_Piece]) -> tuple[_Outcome, list, list]:
    """An upper entry (template, selectors, a slot for its record's plan) put together from pieces of disjoint parts."""
    template = _Outcome()
    selectors: list = []
    for piece in pieces:
        for name, value in piece.items:
            current = getattr(template, name)
            if isinstance(current, list):
                current.extend(value)
            elif isinstance(current, dict):
                for entry, found in value.items():
                    had = current.get(entry)
                    current[entry] = had + found if isinstance(had, list) else found
            elif isinstance(current, set):
                current.update(value)
            else:
                setattr(template, name, value)
        selectors.extend(piece.selectors)
    return template, selectors, [None]


def _put(table: dict, key: Any, value: Any, cap: int) -> None:
    if len(table) >= cap:
        del table[next(iter(table))]  # the oldest entry: memory stays bounded
    table[key] = value


def _compound(fact: Symbol) -> bool:
    return any(a.type == SymbolType.Function and a.arguments for a in fact.arguments[1:])


class _Evidence:
    """An evidence term of a cached finding, ready to be given any case key."""

    __slots__ = ("symbol", "name", "args", "positive", "paths", "templates", "keyed")

    def __init__(self, symbol: Symbol, templates: dict):
        self.symbol = symbol
        self.paths = None  # worked out on first use: most stored evidence is never shown
        self.templates = templates
        self.keyed: dict[int, Symbol] = {}  # case key -> the term at it: keys are places in a chunk, so few

    def at(self, k: int) -> Symbol:
        found = self.keyed.get(k)
        if found is None:
            found = self._at(Number(k))
            if len(self.keyed) < KEYED_KEPT:
                self.keyed[k] = found
        return found

    def _at(self, key: Symbol) -> Symbol:
        if self.paths is None:
            symbol = self.symbol
            self.paths = ()
            if symbol.type == SymbolType.Function:
                args = symbol.arguments
                self.paths = self.templates.get((symbol.name, len(args)), ())
                if self.paths:
                    self.name, self.args, self.positive = symbol.name, list(args), symbol.positive
        if not self.paths:
            return self.symbol
        args = list(self.args)
        for path in self.paths:
            args[path[0]] = key if len(path) == 1 else _replace(args[path[0]], path[1:], key)
        return Function(self.name, args, self.positive)


def _replace(term: Symbol, path: tuple[int, ...], key: Symbol) -> Symbol:
    args = list(term.arguments)
    args[path[0]] = key if len(path) == 1 else _replace(args[path[0]], path[1:], key)
    return Function(term.name, args, term.positive)


def cache_for(engine: Engine) -> DecisionCache:
    """One cache per engine, derived on first use (a one-case run never pays for it)."""
    found = getattr(engine, "_decision_cache", None)
    if found is None:
        found = DecisionCache(engine)
        engine._decision_cache = found  # type: ignore[attr-defined]
    return found
