"""A synthetic corpus of valid cases near the decision boundaries, reproducible from a seed.

Analysts who change a rule rarely have a year of requests at hand. A corpus of
approvable cases, each with one to three perturbations placed at the edges the
rules judge (ages around the age thresholds, chart dates at the window edge,
last doses a day short of the interval, step-therapy drugs effective or
missing, ...), exercises the boundaries where a rule change shows. The edges
come from the knowledge base's own parameters, so a corpus generated for an
edited KB probes that KB's thresholds.

Every case is valid under case format v1, and stays within the shapes the
exhaustive impact analysis enumerates (lemtrada_asp/space.py): at most one
entry per step-therapy drug (or the pair effective-then-failed), at most one
other DMT in the history, at most one concurrent DMT, one infection, one item
per response list, one Table 2 code plus at most one other code. So a
generated corpus can be checked against `diff --exhaustive`.

Same n, seed and parameters -> the same cases, byte for byte when dumped
with json.dumps: one random.Random(seed) drives everything, in a fixed order.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any, Callable, Iterator, Mapping

from ..case.dates import add_months
from ..case.model import Response, choices

STEP_ORALS = ("dimethyl_fumarate", "fingolimod", "teriflunomide")
BRANDS = {"natalizumab": "Tysabri", "dimethyl_fumarate": "Tecfidera", "fingolimod": "Gilenya", "teriflunomide": "Aubagio"}
OTHER_DMTS = ("ocrelizumab", "ofatumumab", "cladribine", "siponimod", "ozanimod", "interferon_beta", "glatiramer_acetate")
QUALIFYING = ("failed", "intolerant", "contraindicated")
TABLE_2 = ("G35", "G35.A", "G35.C1", "G35.D")
OTHER_CODES = ("G35.9", "G37.9", "K50.90", "Z79.899")
OTHER_CONDITIONS = ("crohns_disease", "rheumatoid arthritis", "neuromyelitis optica")
INFECTIONS = ("tuberculosis", "herpes zoster", "hepatitis B")
STATES = ("NY", "CA", "TX", "FL", "PA", "OH", "IL", "GA", "NC", "MI", "WA", "AZ", "MA", "CO")
OBJECTIVE = choices(Response, "objective")  # read off the case model, in its order
SYMPTOMS = choices(Response, "symptoms")

# The thresholds the generator places cases around, by parameter name. Read
# from the knowledge base (kb/parameters.lp) unless the caller passes them.
PARAMETERS = (
    "initial_chart_months", "continuation_chart_months", "min_age_initial", "pediatric_age_below",
    "dose_mg_per_day", "initial_course_days", "continuation_course_days",
    "min_months_since_last_dose", "case_by_case_from_course",
)

FIRST_DAY = date(2025, 1, 1).toordinal()


def generate_cases(n: int, seed: int, *, params: Mapping[str, int] | None = None) -> Iterator[dict[str, Any]]:
    """Yield n case dicts (case format v1, dates as ISO strings), reproducible from seed.

    params are the KB's param/2 values (kb/parameters.lp); by default those of
    the shipped knowledge base, read once.
    """
    if params is None:
        from ..engine.knowledge import KnowledgeBase

        params = KnowledgeBase().catalogue.params
    missing = [name for name in PARAMETERS if name not in params]
    if missing:
        from ..engine.errors import KnowledgeBaseError

        raise KnowledgeBaseError(f"the knowledge base has no parameter {', '.join(missing)} (param/2); the generator places cases around it")
    maker = _Maker(random.Random(seed), dict(params))
    for index in range(n):
        yield maker.case(f"GEN-{seed}-{index:07d}")


class _Maker:
    def __init__(self, rng: random.Random, params: dict[str, int]):
        self.rng = rng
        self.p = params
        self.perturbations: list[tuple[int, Callable[[dict, date], None]]] = []
        for weight, name in _WEIGHTS:
            self.perturbations.append((weight, getattr(self, "_" + name)))
        self.total = sum(w for w, _ in self.perturbations)

    # --- the approvable starting points --------------------------------------
    def case(self, ident: str) -> dict[str, Any]:
        rng = self.rng
        today = date.fromordinal(FIRST_DAY + rng.randrange(730))
        roll = rng.random()
        continuation = roll >= 0.6
        case = self._initial(ident, today) if not continuation else self._continuation(ident, today, later=roll >= 0.9)
        count = rng.choices((0, 1, 2, 3), weights=(15, 45, 25, 15))[0]
        for _ in range(count):
            self._pick()(case, today)
        _notice_fields(case, ident)
        return _finish(case)

    def _initial(self, ident: str, today: date) -> dict[str, Any]:
        rng = self.rng
        case = self._common(ident, today, self.p["initial_course_days"], self.p["initial_chart_months"])
        history = [{"drug": self._name("natalizumab"), "outcome": rng.choice(QUALIFYING)}]
        orals = rng.sample(STEP_ORALS, rng.choice((1, 1, 1, 2)))
        history += [{"drug": self._name(d), "outcome": rng.choice(QUALIFYING)} for d in orals]
        if rng.random() < 0.2:
            history.append({"drug": rng.choice(OTHER_DMTS), "outcome": rng.choice(QUALIFYING + ("effective",))})
        rng.shuffle(history)
        case["dmt_history"] = history
        return case

    def _continuation(self, ident: str, today: date, later: bool) -> dict[str, Any]:
        rng = self.rng
        case = self._common(ident, today, self.p["continuation_course_days"], self.p["continuation_chart_months"])
        if rng.random() < 0.5:
            case["dmt_history"] = [{"drug": "natalizumab", "outcome": "failed"}, {"drug": "fingolimod", "outcome": "intolerant"}]
        months = self.p["min_months_since_last_dose"] + rng.randrange(0, 7)
        prior = 1 if not later else self.p["case_by_case_from_course"] - 1 + rng.randrange(0, 2)
        case["lemtrada_courses"] = self._courses(today, max(prior, 1), months)
        case["response"] = self._response(rng.choice(("objective", "symptoms", "both")))
        return case

    def _common(self, ident: str, today: date, days: int, chart_months: int) -> dict[str, Any]:
        rng = self.rng
        case: dict[str, Any] = {
            "id": ident,
            "request": {"date": today, "dose_mg_per_day": self.p["dose_mg_per_day"], "days": days,
                        "diagnosis_codes": [rng.choice(TABLE_2)]},
            "member": {"birth_date": _years_before(today, rng.randrange(self.p["min_age_initial"] + 2, 66), rng.randrange(365))},
        }
        if rng.random() < 0.1:
            case["request"]["start_date"] = today + timedelta(days=rng.randrange(1, 30))
            # A scheduled course states whether its days are consecutive; one in five (read off
            # the drawn date, so the random stream is unchanged) is a gapped schedule.
            case["request"]["consecutive"] = case["request"]["start_date"].day % 5 != 0
        if rng.random() < 0.8:
            case["member"]["state"] = rng.choice(STATES)
        specialty = rng.choices(("neurology", "ms_specialist", "other"), weights=(6, 3, 1))[0]
        case["prescriber"] = {"specialty": specialty}
        if specialty == "other":
            case["prescriber"]["consultation_with_specialist"] = True
        back = rng.randrange(0, max(chart_months, 1))
        case["chart_date"] = add_months(today, -back) - timedelta(days=rng.randrange(0, 20))
        if case["chart_date"] < add_months(today, -chart_months):
            case["chart_date"] = add_months(today, -chart_months)
        course = rng.choices(("relapsing_remitting", "secondary_progressive"), weights=(4, 1))[0]
        case["diagnosis"] = {"condition": "multiple_sclerosis", "ms_course": course, "active": True}
        if rng.random() < 0.8:
            case["concurrent_dmts"] = []
        if rng.random() < 0.8:
            case["hiv_positive"] = False
        if rng.random() < 0.7:
            case["active_infections"] = []
        return case

    def _courses(self, today: date, prior: int, months: int, short_by_a_day: bool = False, running: bool = False) -> list[dict[str, Any]]:
        """Prior courses, the latest ending so that `months` whole months have passed by the start
        (running: the latest still running on the request date, its last day the day after it)."""
        last_dose = add_months(today, -months)
        if short_by_a_day:
            last_dose += timedelta(days=1)
        if running:
            last_dose = today + timedelta(days=1)
        latest = {"start_date": last_dose - timedelta(days=4), "days": 5}
        courses = [latest]
        for back in range(1, prior):
            earlier = add_months(latest["start_date"], -12 * back)
            courses.append({"start_date": earlier, "days": 5 if back == prior - 1 else 3})
        self.rng.shuffle(courses)
        return courses

    def _response(self, kind: str) -> dict[str, Any]:
        rng = self.rng
        response: dict[str, Any] = {}
        if kind in ("objective", "both"):
            response["objective"] = [rng.choice(OBJECTIVE)]
        if kind in ("symptoms", "both"):
            response["symptoms"] = [rng.choice(SYMPTOMS)]
        return response

    def _name(self, drug: str) -> str:
        return BRANDS[drug] if self.rng.random() < 0.15 else drug

    def _pick(self) -> Callable[[dict, date], None]:
        point = self.rng.randrange(self.total)
        for weight, perturb in self.perturbations:
            point -= weight
            if point < 0:
                return perturb
        raise AssertionError("unreachable")

    # --- perturbations: each moves one fact to or across an edge -------------
    def _age_edge(self, case: dict, today: date) -> None:
        threshold = self.rng.choice((self.p["min_age_initial"], self.p["pediatric_age_below"]))
        age = threshold + self.rng.choice((-1, 0, 0, 1))
        birth = _years_before(today, age, 0)
        if self.rng.random() < 0.3:  # birthday tomorrow: one year younger today
            birth = _years_before(today + timedelta(days=1), age + 1, 0)
        case.setdefault("member", {})["birth_date"] = birth

    def _no_birth_date(self, case: dict, today: date) -> None:
        case.setdefault("member", {}).pop("birth_date", None)

    def _chart_edge(self, case: dict, today: date) -> None:
        window = self.p["continuation_chart_months" if "lemtrada_courses" in case else "initial_chart_months"]
        choice = self.rng.randrange(4)
        if choice == 0:
            case.pop("chart_date", None)
        else:
            edge = add_months(today, -window)
            case["chart_date"] = edge - timedelta(days=1) if choice == 1 else edge if choice == 2 else add_months(today, -window - 1)

    def _prescriber(self, case: dict, today: date) -> None:
        choice = self.rng.randrange(4)
        if choice == 0:
            case["prescriber"] = {"specialty": "other", "consultation_with_specialist": False}
        elif choice == 1:
            case["prescriber"] = {"specialty": "other"}
        elif choice == 2:
            case.pop("prescriber", None)
        else:
            case["prescriber"] = {"consultation_with_specialist": self.rng.random() < 0.5}

    def _diagnosis(self, case: dict, today: date) -> None:
        rng = self.rng
        choice = rng.randrange(8)
        diagnosis = case.setdefault("diagnosis", {"condition": "multiple_sclerosis"})
        if choice == 0:
            case["diagnosis"] = {"condition": "clinically_isolated_syndrome"}
        elif choice == 1:
            case["diagnosis"] = {"condition": rng.choice(OTHER_CONDITIONS)}
        elif choice == 2:
            diagnosis.update(condition="multiple_sclerosis", ms_course="primary_progressive")
        elif choice == 3:
            diagnosis.update(condition="multiple_sclerosis", ms_course="secondary_progressive", active=False)
        elif choice == 4:
            diagnosis.update(condition="multiple_sclerosis", ms_course="secondary_progressive")
            diagnosis.pop("active", None)
        elif choice == 5:
            diagnosis.update(condition="multiple_sclerosis", ms_course="unspecified")
        elif choice == 6:
            diagnosis.pop("ms_course", None)
        else:
            case.pop("diagnosis", None)

    def _step_therapy(self, case: dict, today: date) -> None:
        rng = self.rng
        history = [dict(entry) for entry in case.get("dmt_history") or []]
        choice = rng.randrange(7)
        canonical = {v.lower(): k for k, v in BRANDS.items()}

        def drug_of(entry: dict) -> str:
            return canonical.get(entry["drug"].lower(), entry["drug"])

        if choice == 0:  # natalizumab effective: tried, did not fail
            history = [e for e in history if drug_of(e) != "natalizumab"] + [{"drug": "natalizumab", "outcome": "effective"}]
        elif choice == 1:  # no natalizumab trial on file
            history = [e for e in history if drug_of(e) != "natalizumab"]
        elif choice == 2:  # every oral DMT tried, each effective: step therapy not met
            history = [e for e in history if drug_of(e) not in STEP_ORALS] + [{"drug": d, "outcome": "effective"} for d in STEP_ORALS]
        elif choice == 3:  # no oral on file, but a related drug the policy does not name
            history = [e for e in history if drug_of(e) not in STEP_ORALS and drug_of(e) in BRANDS]
            history.append({"drug": "diroximel_fumarate", "outcome": rng.choice(QUALIFYING)})
        elif choice == 4:  # another DMT instead of one of the step drugs
            dropped = rng.choice(("natalizumab",) + STEP_ORALS)
            history = [e for e in history if drug_of(e) in BRANDS and drug_of(e) != dropped]
            history.append({"drug": rng.choice(OTHER_DMTS), "outcome": rng.choice(QUALIFYING)})
        elif choice == 5:  # natalizumab worked at first, then failed
            history = [e for e in history if drug_of(e) != "natalizumab"]
            history += [{"drug": "natalizumab", "outcome": "effective"}, {"drug": "natalizumab", "outcome": "failed"}]
        else:
            history = []
        others = [e for e in history if drug_of(e) not in BRANDS]
        if len({drug_of(e) for e in others}) > 1:  # at most one non-step drug
            history = [e for e in history if drug_of(e) in BRANDS] + [others[-1]]
        if history or "dmt_history" not in case or rng.random() < 0.5:
            case["dmt_history"] = history
        else:
            case.pop("dmt_history", None)

    def _infection(self, case: dict, today: date) -> None:
        if self.rng.random() < 0.5:
            case["hiv_positive"] = True
        else:
            case["active_infections"] = [self.rng.choice(INFECTIONS)]

    def _concurrent(self, case: dict, today: date) -> None:
        case["concurrent_dmts"] = [self.rng.choice(OTHER_DMTS + ("fingolimod",))]

    def _dose(self, case: dict, today: date) -> None:
        rng = self.rng
        request = case["request"]
        if rng.random() < 0.5:
            request["dose_mg_per_day"] = rng.choice((self.p["dose_mg_per_day"] - 1, self.p["dose_mg_per_day"] + 1,
                                                     self.p["dose_mg_per_day"] * 2, self.p["dose_mg_per_day"] + 0.5))
        else:
            days = (self.p["initial_course_days"], self.p["continuation_course_days"])
            request["days"] = rng.choice(days + (max(1, request["days"] - 1), request["days"] + 1, 10))

    def _codes(self, case: dict, today: date) -> None:
        rng = self.rng
        choice = rng.randrange(4)
        request = case["request"]
        if choice == 0:
            request.pop("diagnosis_codes", None)
        elif choice == 1:
            request["diagnosis_codes"] = []
        elif choice == 2:
            request["diagnosis_codes"] = [rng.choice(OTHER_CODES)]
        else:
            request["diagnosis_codes"] = [rng.choice(TABLE_2), rng.choice(OTHER_CODES)]

    def _interval_edge(self, case: dict, today: date) -> None:
        courses = case.get("lemtrada_courses")
        if not courses:
            return self._chart_edge(case, today)
        months = self.p["min_months_since_last_dose"] + self.rng.choice((-1, 0, 0, 1))
        case["request"].pop("start_date", None)  # the interval is measured to the request date
        roll = self.rng.random()  # one draw, as before: a few of the short-by-a-day cases become running ones
        case["lemtrada_courses"] = self._courses(today, len(courses), months, short_by_a_day=roll < 0.4, running=roll < 0.06)


    def _response_edge(self, case: dict, today: date) -> None:
        if "lemtrada_courses" not in case:
            return self._prescriber(case, today)
        choice = self.rng.randrange(3)
        if choice == 0:
            case.pop("response", None)
        elif choice == 1:
            case["response"] = {} if self.rng.random() < 0.5 else {"objective": [], "symptoms": []}
        else:
            case["response"] = self._response("symptoms")

    def _course_count(self, case: dict, today: date) -> None:
        if "lemtrada_courses" not in case:
            return self._age_edge(case, today)
        months = self.p["min_months_since_last_dose"] + 1
        case["lemtrada_courses"] = self._courses(today, self.p["case_by_case_from_course"] - 1 + self.rng.randrange(0, 2), months)
        case["request"].pop("start_date", None)


_WEIGHTS = (
    (10, "age_edge"), (3, "no_birth_date"), (10, "chart_edge"), (8, "prescriber"), (10, "diagnosis"),
    (14, "step_therapy"), (6, "infection"), (5, "concurrent"), (8, "dose"), (7, "codes"),
    (8, "interval_edge"), (6, "response_edge"), (4, "course_count"),
)


def _notice_fields(case: dict[str, Any], ident: str) -> None:
    """The fields only a notice reads (member.id, member.name, coverage), some of the time,
    drawn from a stream of their own so the policy's fields are what they were before."""
    from ..case.model import LINES_OF_BUSINESS

    rng = random.Random(ident)
    if rng.random() < 0.5:
        case.setdefault("member", {}).update(id=f"M{rng.randrange(10**8):08d}", name=rng.choice(("Ana Diaz", "Lee Chen", "Sam Okafor")))
    if rng.random() < 0.5:
        coverage: dict[str, Any] = {"line_of_business": rng.choice(LINES_OF_BUSINESS)}
        if rng.random() < 0.5:
            coverage["plan_id"] = f"PLAN-{rng.randrange(100):02d}"
        case["coverage"] = coverage


def _years_before(day: date, years: int, extra_days: int) -> date:
    try:
        birth = day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        birth = day.replace(year=day.year - years, day=28)
    return birth - timedelta(days=extra_days)


def _finish(case: dict[str, Any]) -> dict[str, Any]:
    """Dates as ISO text, so the dict is JSON as it stands."""

    def iso(value: Any) -> Any:
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: iso(v) for k, v in value.items()}
        if isinstance(value, list):
            return [iso(v) for v in value]
        return value

    return iso(case)
