"""Rule sets (bộ tiêu chí) as data: reading and checking config/schemes/<scheme>/<version>.yaml.

A rule set is one version of a scoring scheme: its validity, the units it scores, the tree
field (lĩnh vực) -> criterion (tiêu chí) -> sub-criterion (tiêu chí thành phần) with
maximum points, each scored leaf's source and method, and the classification cut-offs.
The format is docs/rule_sets.md. Every problem found is reported with its file, line and
criterion, all at once (`RuleSetError`); nothing scores with a rule set that fails.

Pure: files in, frozen objects out. No Airflow, no warehouse.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

PERIOD_TYPES = ("month", "quarter", "half", "year", "year_to_date")
LEVELS = ("province", "department", "district", "commune")
METHODS = ("linear", "target_linear", "bands", "boolean", "manual")
SOURCE_KINDS = ("indicator", "portal_metric", "portal_component", "portal_total")
COMPONENTS_766 = ("CKMB", "TDGQ", "CLGQ", "TTTT", "MDHL", "MDSH")
ZERO_DENOMINATOR = ("not_scored", "full")
RANK_BY = ("computed", "portal_total")
SCHEME_766 = "766"  # the scheme whose metrics other sets may name
KINDS = ("field", "criterion", "sub_criterion")
CHILDREN_KEY = {"field": "criteria", "criterion": "sub_criteria"}
TOLERANCE = 1e-6
# Lengths of the warehouse columns these go to (warehouse/schema.py; a test keeps them equal).
CODE_LIMIT, SCHEME_LIMIT, VERSION_LIMIT = 64, 64, 32

SCHEME_KEYS = {"scheme", "version", "name_vi", "name_en", "decision", "example", "level",
               "provinces", "valid_from", "valid_to", "period_types", "rounding",
               "max_points", "classification", "fields", "rank_by", "description"}
NODE_KEYS = {"code", "name_vi", "name_en", "max_points", "criteria", "sub_criteria",
             "source", "method", "target", "bands", "at_least", "zero_denominator",
             "description"}
CLASS_KEYS = {"code", "name_vi", "name_en", "min_percent"}


class RuleSetError(ValueError):
    """One or more problems in rule-set files, each naming its file, line and criterion."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} problem(s) in the rule sets:\n"
                         + "\n".join(f"  {p}" for p in self.problems))


# -- YAML that remembers lines ---------------------------------------------------------
class _Located(dict):
    """A mapping read from YAML, with the line it starts on (1-based)."""

    line: int = 0


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Located:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:  # YAML keeps the last one silently: a second max_points, band...
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} given twice (first on line {seen[key]})",
                key_node.start_mark)
        seen[key] = key_node.start_mark.line + 1
    mapping = _Located(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


# -- the model -------------------------------------------------------------------------
@dataclass(frozen=True)
class Band:
    low: float
    high: float
    low_inclusive: bool
    high_inclusive: bool
    points: float

    def contains(self, value: float | Fraction) -> bool:
        """Whether the value is in the band, its edges taken as written (0.95 exactly)."""
        low, high = Fraction(repr(self.low)), Fraction(repr(self.high))
        above = value >= low if self.low_inclusive else value > low
        below = value <= high if self.high_inclusive else value < high
        return above and below

    def __str__(self) -> str:
        return (f"{'[' if self.low_inclusive else '('}{self.low:g}, {self.high:g}"
                f"{']' if self.high_inclusive else ')'}")


@dataclass(frozen=True)
class Criterion:
    """A node of the tree. A node without children is scored by its method."""

    code: str
    kind: str  # field | criterion | sub_criterion
    name_vi: str
    name_en: str
    max_points: float
    parent: str | None
    field: str
    position: int
    line: int
    children: tuple[str, ...] = ()
    source_kind: str | None = None  # indicator | portal_* | manual
    source_code: str | None = None
    method: str | None = None
    target: float | None = None
    at_least: float | None = None
    bands: tuple[Band, ...] = ()
    zero_denominator: str = "not_scored"

    @property
    def scored(self) -> bool:
        return not self.children

    @property
    def manual(self) -> bool:
        return self.source_kind == "manual"

    def parameters(self) -> dict[str, Any]:
        """The method's parameters, for dim_criterion."""
        params: dict[str, Any] = {}
        if self.target is not None:
            params["target"] = self.target
        if self.at_least is not None:
            params["at_least"] = self.at_least
        if self.bands:
            params["bands"] = {str(b): b.points for b in self.bands}
        if self.scored and self.zero_denominator != "not_scored":
            params["zero_denominator"] = self.zero_denominator
        return params


@dataclass(frozen=True)
class ScoreClass:
    code: str
    name_vi: str
    name_en: str
    min_percent: float


@dataclass(frozen=True)
class RuleSet:
    scheme: str
    version: str
    name_vi: str
    name_en: str
    level: str  # a level, or all (the 766: every level, each ranked among its own)
    provinces: tuple[str, ...] | None  # None: all provinces
    valid_from: dt.date
    valid_to: dt.date | None  # exclusive
    period_types: tuple[str, ...]
    max_points: float
    rounding: int
    classes: tuple[ScoreClass, ...]  # highest cut-off first
    criteria: tuple[Criterion, ...]  # in file order
    rank_by: str = "computed"
    decision: str | None = None
    example: bool = False
    file: str = ""
    sha256: str = ""
    by_code: Mapping[str, Criterion] = field(default_factory=dict, compare=False, repr=False)

    @property
    def leaves(self) -> list[Criterion]:
        return [c for c in self.criteria if c.scored]

    def in_force(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)

    def applies_to(self, level: str | None, province_code: str | None) -> bool:
        return (self.level in ("all", level)
                and (self.provinces is None or province_code in self.provinces))

    def classify(self, percent: float) -> ScoreClass | None:
        """The class whose cut-off the percentage reaches (cut-offs are inclusive)."""
        for score_class in self.classes:
            if percent + TOLERANCE >= score_class.min_percent:
                return score_class
        return None


@dataclass(frozen=True)
class RuleSets:
    """Every rule set of config/schemes/, checked together."""

    sets: tuple[RuleSet, ...]

    def schemes(self) -> list[str]:
        return sorted({s.scheme for s in self.sets})

    def in_force(self, scheme: str, day: dt.date) -> RuleSet | None:
        """The version of `scheme` in force on `day` (a period's last day)."""
        for rule_set in self.sets:
            if rule_set.scheme == scheme and rule_set.in_force(day):
                return rule_set
        return None

    def get(self, scheme: str, version: str) -> RuleSet:
        for rule_set in self.sets:
            if (rule_set.scheme, rule_set.version) == (scheme, version):
                return rule_set
        known = sorted(f"{s.scheme}/{s.version}" for s in self.sets)
        raise KeyError(f"no rule set {scheme}/{version}; known: {known}")


# -- reading ---------------------------------------------------------------------------
def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


_INTERVAL = re.compile(r"^\s*([\[(])\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)\s*([\])])\s*$")


def parse_band(text: str, points: Any) -> Band:
    """`"[0.95, 1)"` -> Band(0.95, 1, True, False, points)."""
    match = _INTERVAL.match(str(text))
    value = _number(points)
    if not match or value is None:
        raise ValueError(f"band {text!r}: {points!r}: write \"[low, high)\": points, with "
                         "[ ] inclusive and ( ) exclusive ends and a number of points")
    low, high = float(match.group(2)), float(match.group(3))
    if low > high:
        raise ValueError(f"band {text!r}: low end above high end")
    return Band(low, high, match.group(1) == "[", match.group(4) == "]", value)


def band_problems(bands: Sequence[Band]) -> list[str]:
    """What keeps bands from covering [0, 1] exactly once (empty: they do)."""
    if not bands:
        return ["no bands"]
    ordered = sorted(bands, key=lambda b: (b.low, not b.low_inclusive))
    problems = []
    for band in ordered:
        if band.low == band.high and not (band.low_inclusive and band.high_inclusive):
            problems.append(f"band {band} is empty")
    first, last = ordered[0], max(ordered, key=lambda b: (b.high, b.high_inclusive))
    if first.low > 0 or (first.low == 0 and not first.low_inclusive):
        problems.append(f"bands leave a gap at 0: the lowest is {first}")
    if first.low < 0 or last.high > 1:
        problems.append("bands reach outside [0, 1]")
    if last.high < 1 or (last.high == 1 and not last.high_inclusive):
        problems.append(f"bands leave a gap at 1: the highest is {last}")
    for before, after in itertools.pairwise(ordered):
        if before.high < after.low or (before.high == after.low and not before.high_inclusive
                                       and not after.low_inclusive):
            problems.append(f"bands leave a gap between {before} and {after}")
        elif before.high > after.low or (before.high == after.low and before.high_inclusive
                                         and after.low_inclusive):
            problems.append(f"bands {before} and {after} overlap")
    return problems


@dataclass
class _Reader:
    """Reads one file, collecting problems instead of stopping at the first."""

    path: Path
    indicators: Collection[str]
    problems: list[str] = field(default_factory=list)

    def problem(self, line: int, where: str | None, message: str) -> None:
        self.problems.append(f"{self.path}:{line}: {where + ': ' if where else ''}{message}")

    def required(self, item: Mapping[str, Any], key: str, where: str | None) -> Any:
        if item.get(key) in (None, ""):
            self.problem(getattr(item, "line", 0), where, f"{key} is required")
        return item.get(key)

    def unknown_keys(self, item: Mapping[str, Any], allowed: set[str], where: str | None,
                     ) -> None:
        for key in sorted(set(item) - allowed, key=str):
            self.problem(getattr(item, "line", 0), where,
                         f"unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")

    def points(self, item: Mapping[str, Any], key: str, where: str) -> float:
        value = _number(item.get(key))
        if value is None or value < 0:
            self.problem(getattr(item, "line", 0), where,
                         f"{key} must be a number >= 0, not {item.get(key)!r}")
            return 0.0
        return value

    def nodes(self, items: Any, kind: str, parent: Criterion | None,
              out: list[Criterion], line: int) -> list[str]:
        """Read a list of nodes of `kind` (and their children) into `out`; their codes."""
        if not isinstance(items, list) or not items:
            self.problem(line, parent.code if parent else None,
                         f"{'fields' if kind == 'field' else CHILDREN_KEY[parent.kind]} must "
                         "be a non-empty list")
            return []
        codes = []
        for item in items:
            if not isinstance(item, Mapping):
                self.problem(line, parent.code if parent else None,
                             f"a {kind} must be a mapping, not {item!r}")
                continue
            codes.append(self.node(item, kind, parent, out))
        return codes

    def node(self, item: _Located, kind: str, parent: Criterion | None,
             out: list[Criterion]) -> str:
        line = item.line
        code = str(item.get("code") or "").strip()
        where = f"{kind.replace('_', '-')} {code or '?'}"
        self.required(item, "code", where)
        if len(code) > CODE_LIMIT:
            self.problem(line, where, f"a code has at most {CODE_LIMIT} characters")
        self.unknown_keys(item, NODE_KEYS, where)
        name_vi = str(self.required(item, "name_vi", where) or "")
        name_en = str(self.required(item, "name_en", where) or "")
        max_points = self.points(item, "max_points", where)
        children_key = CHILDREN_KEY.get(kind)
        other_child_keys = set(CHILDREN_KEY.values()) - {children_key}
        for key in sorted(other_child_keys & set(item)):
            self.problem(line, where, f"a {kind} cannot have {key}")
        common = dict(code=code, kind=kind, name_vi=name_vi, name_en=name_en,
                      max_points=max_points, parent=parent.code if parent else None,
                      field=parent.field if parent else code, position=len(out), line=line)
        if kind == "field" or (children_key and children_key in item):
            if "source" in item or "method" in item:
                self.problem(line, where, "a node with children is the sum of its children: "
                                          "no source or method")
            placeholder = Criterion(**common)
            out.append(placeholder)
            child_kind = "criterion" if kind == "field" else "sub_criterion"
            children = self.nodes(item.get(children_key), child_kind, placeholder, out, line)
            total = sum(c.max_points for c in out if c.parent == code and c.code in children)
            if children and abs(total - max_points) > TOLERANCE:
                self.problem(line, where, f"max_points {max_points:g} but its "
                                          f"{children_key.replace('_', '-')} add up to {total:g}")
            out[out.index(placeholder)] = Criterion(**common, children=tuple(children))
            return code
        out.append(self.leaf(item, common, where))
        return code

    def leaf(self, item: _Located, common: dict[str, Any], where: str) -> Criterion:
        line = item.line
        source = item.get("source")
        source_kind: str | None = None
        source_code: str | None = None
        if source == "manual":
            source_kind = "manual"
        elif isinstance(source, Mapping) and len(source) == 1:
            source_kind, raw = next(iter(source.items()))
            source_code = str(raw)
            if source_kind not in SOURCE_KINDS:
                self.problem(line, where, f"unknown source {source_kind!r} (known: manual, "
                                          f"{', '.join(SOURCE_KINDS)})")
            elif source_kind == "indicator" and source_code not in self.indicators:
                known = ", ".join(sorted(self.indicators))
                self.problem(line, where, f"indicator {source_code!r} is not in the indicator "
                                          f"catalogue (known: {known})")
            elif source_kind == "portal_component" and source_code not in COMPONENTS_766:
                self.problem(line, where, f"portal_component {source_code!r} is not one of "
                                          f"{', '.join(COMPONENTS_766)}")
            elif source_kind == "portal_total" and source_code != "766":
                self.problem(line, where, "portal_total must be \"766\"")
        else:
            self.problem(line, where, "source must be manual or one of {indicator: code}, "
                                      "{portal_metric: code}, {portal_component: code}, "
                                      "{portal_total: \"766\"}")
        method = item.get("method")
        if method not in METHODS:
            self.problem(line, where, f"method must be one of {', '.join(METHODS)}, "
                                      f"not {method!r}")
        elif method == "manual" and source_kind not in (None, "manual"):
            self.problem(line, where, "method manual needs source manual")
        elif source_kind == "manual" and method not in ("manual", "boolean"):
            self.problem(line, where, f"a manual source is scored manual or boolean, "
                                      f"not {method}")
        target = at_least = None
        bands: tuple[Band, ...] = ()
        if method == "target_linear":
            target = _number(item.get("target"))
            if target is None or not 0 < target <= 1:
                self.problem(line, where, f"target_linear needs a target in (0, 1], "
                                          f"not {item.get('target')!r}")
        elif "target" in item:
            self.problem(line, where, f"target is for target_linear, not {method}")
        if method == "boolean" and source_kind != "manual":
            at_least = _number(item.get("at_least"))
            if at_least is None or not 0 <= at_least <= 1:
                self.problem(line, where, "a computed boolean needs at_least in [0, 1]")
        elif "at_least" in item:
            self.problem(line, where, "at_least is for a computed boolean")
        if method == "bands":
            raw_bands = item.get("bands")
            if not isinstance(raw_bands, Mapping) or not raw_bands:
                self.problem(line, where, "bands needs a mapping of intervals to points")
            else:
                parsed = []
                for text, points in raw_bands.items():
                    try:
                        parsed.append(parse_band(text, points))
                    except ValueError as exc:
                        self.problem(line, where, str(exc))
                bands = tuple(parsed)
                for message in band_problems(bands) if len(parsed) == len(raw_bands) else ():
                    self.problem(line, where, message)
                for band in bands:
                    if band.points < 0:
                        self.problem(line, where, f"band {band} gives negative points")
                    if band.points > common["max_points"] + TOLERANCE:
                        self.problem(line, where, f"band {band} gives {band.points:g} points, "
                                                  f"above max_points {common['max_points']:g}")
        elif "bands" in item:
            self.problem(line, where, f"bands are for the bands method, not {method}")
        zero = item.get("zero_denominator", "not_scored")
        if zero not in ZERO_DENOMINATOR:
            self.problem(line, where, f"zero_denominator must be one of "
                                      f"{', '.join(ZERO_DENOMINATOR)}")
        return Criterion(**common, source_kind=source_kind, source_code=source_code,
                         method=method if method in METHODS else None, target=target,
                         at_least=at_least, bands=bands, zero_denominator=zero)

    def read(self, root: Path) -> RuleSet | None:
        text = self.path.read_bytes()
        try:
            data = yaml.load(text.decode("utf-8"), Loader=_LineLoader)  # a SafeLoader
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            mark = getattr(exc, "problem_mark", None)
            self.problem(mark.line + 1 if mark else 0, None, f"not readable YAML: {exc}")
            return None
        if not isinstance(data, Mapping):
            self.problem(1, None, "a rule set is a mapping (scheme, version, fields, ...)")
            return None
        self.unknown_keys(data, SCHEME_KEYS, None)
        for key in ("scheme", "version", "name_vi", "name_en", "level", "valid_from",
                    "period_types", "max_points", "fields"):
            self.required(data, key, None)
        scheme, version = str(data.get("scheme", "")), str(data.get("version", ""))
        relative = self.path.relative_to(root) if self.path.is_relative_to(root) else None
        if relative is not None and relative.parts != (scheme, f"{version}.yaml"):
            self.problem(1, None, f"scheme {scheme!r} version {version!r} must live in "
                                  f"{root / scheme / (version + '.yaml')}")
        level = data.get("level")
        if level not in (*LEVELS, "all"):
            self.problem(data.line, None, f"level must be all or one of {', '.join(LEVELS)}")
        provinces = data.get("provinces", "all")
        if provinces != "all" and not (isinstance(provinces, list) and provinces and all(
                isinstance(p, str) and len(p) == 2 and p.isdigit() for p in provinces)):
            self.problem(data.line, None, "provinces must be all or a list of quoted 2-digit "
                                          "statistical codes, e.g. [\"01\", \"91\"] (01 "
                                          "unquoted is the number 1)")
        if len(scheme) > SCHEME_LIMIT or len(version) > VERSION_LIMIT:
            self.problem(1, None, f"a scheme has at most {SCHEME_LIMIT} characters, a version "
                                  f"at most {VERSION_LIMIT}")
        valid_from, valid_to = data.get("valid_from"), data.get("valid_to")
        if not isinstance(valid_from, dt.date) or not (valid_to is None
                                                       or isinstance(valid_to, dt.date)):
            self.problem(data.line, None, "valid_from (and valid_to, if any) must be dates "
                                          "(YYYY-MM-DD)")
        elif valid_to is not None and valid_to <= valid_from:
            self.problem(data.line, None, "valid_to (exclusive) must be after valid_from")
        period_types = data.get("period_types") or []
        if not period_types:
            self.problem(data.line, None, "period_types must name at least one period type")
        for period_type in period_types if isinstance(period_types, list) else [period_types]:
            if period_type not in PERIOD_TYPES:
                self.problem(data.line, None, f"unknown period type {period_type!r} (known: "
                                              f"{', '.join(PERIOD_TYPES)})")
        rank_by = data.get("rank_by", "computed")
        if rank_by not in RANK_BY:
            self.problem(data.line, None, f"rank_by must be one of {', '.join(RANK_BY)}")
        elif (rank_by == "portal_total") != (scheme == SCHEME_766):
            self.problem(data.line, None, "rank_by: portal_total is the 766's (its published "
                                          "total ranks), and only the 766's")
        rounding = data.get("rounding", 2)
        if not isinstance(rounding, int) or isinstance(rounding, bool) or not 0 <= rounding <= 6:
            self.problem(data.line, None, "rounding must be a whole number of decimals, 0..6")
            rounding = 2
        classes = self.classes(data.get("classification") or [], data.line)
        criteria: list[Criterion] = []
        fields = self.nodes(data.get("fields"), "field", None, criteria, data.line)
        max_points = self.points(data, "max_points", "scheme")
        total = sum(c.max_points for c in criteria if c.kind == "field")
        if fields and abs(total - max_points) > TOLERANCE:
            self.problem(data.line, None, f"max_points {max_points:g} but the fields add up "
                                          f"to {total:g}")
        seen: dict[str, int] = {}
        for criterion in criteria:
            if criterion.code in seen:
                self.problem(criterion.line, criterion.code,
                             f"code used twice (first on line {seen[criterion.code]})")
            seen.setdefault(criterion.code, criterion.line)
        if self.problems:
            return None
        return RuleSet(
            scheme=scheme, version=version, name_vi=str(data["name_vi"]),
            name_en=str(data["name_en"]), level=level,
            provinces=None if provinces == "all" else tuple(str(p) for p in provinces),
            valid_from=valid_from, valid_to=valid_to, period_types=tuple(period_types),
            max_points=max_points, rounding=rounding, classes=classes,
            criteria=tuple(criteria), rank_by=rank_by, decision=data.get("decision"),
            example=bool(data.get("example", False)), file=str(self.path),
            sha256=hashlib.sha256(text).hexdigest(),
            by_code={c.code: c for c in criteria})

    def classes(self, items: Any, line: int) -> tuple[ScoreClass, ...]:
        classes = []
        for item in items if isinstance(items, list) else [items]:
            if not isinstance(item, Mapping):
                self.problem(line, None, f"a class must be a mapping, not {item!r}")
                continue
            where = f"class {item.get('code', '?')}"
            self.unknown_keys(item, CLASS_KEYS, where)
            for key in ("code", "name_vi", "name_en"):
                self.required(item, key, where)
            cut = _number(item.get("min_percent"))
            if cut is None or not 0 <= cut <= 100:
                self.problem(getattr(item, "line", line), where,
                             "min_percent must be a number from 0 to 100")
                continue
            classes.append(ScoreClass(str(item.get("code")), str(item.get("name_vi")),
                                      str(item.get("name_en")), cut))
        cuts = [c.min_percent for c in classes]
        if len(cuts) != len(set(cuts)):
            self.problem(line, None, "classification cut-offs must be distinct")
        return tuple(sorted(classes, key=lambda c: -c.min_percent))


def _overlaps(a: RuleSet, b: RuleSet) -> bool:
    far = dt.date.max
    return a.valid_from < (b.valid_to or far) and b.valid_from < (a.valid_to or far)


def load_rule_sets(root: Path, indicators: Collection[str],
                   files: Iterable[Path] | None = None) -> RuleSets:
    """Read and check every rule set under `root` (or the `files` given), together: the
    versions of a scheme must not overlap, and portal metrics must be the 766's."""
    paths = sorted(files) if files is not None else sorted(Path(root).glob("*/*.yaml"))
    problems: list[str] = []
    sets = []
    for path in paths:
        reader = _Reader(path, indicators)
        rule_set = reader.read(Path(root))
        problems += reader.problems
        if rule_set is not None:
            sets.append(rule_set)
    metrics = {c.source_code for s in sets if s.scheme == SCHEME_766 for c in s.leaves
               if c.source_kind == "portal_metric"}
    for rule_set in sets:
        for leaf in rule_set.leaves:
            if leaf.source_kind == "portal_metric" and rule_set.scheme != SCHEME_766 \
                    and leaf.source_code not in metrics:
                problems.append(f"{rule_set.file}:{leaf.line}: {leaf.code}: portal_metric "
                                f"{leaf.source_code!r} is not a metric of any 766 rule set")
    for i, a in enumerate(sets):
        for b in sets[i + 1:]:
            if a.scheme == b.scheme and _overlaps(a, b):
                problems.append(f"{b.file}:1: versions {a.version} and {b.version} of "
                                f"{a.scheme} are both in force on "
                                f"{max(a.valid_from, b.valid_from)}")
    if not paths:
        problems.append(f"{root}: no rule set (expected <scheme>/<version>.yaml files)")
    if problems:
        raise RuleSetError(problems)
    return RuleSets(tuple(sorted(sets, key=lambda s: (s.scheme, s.valid_from))))


def describe(rule_set: RuleSet) -> dict[str, Any]:
    """Counts a reader checks a set by: fields, criteria, sub-criteria, computed, manual."""
    kinds = {kind: sum(1 for c in rule_set.criteria if c.kind == kind) for kind in KINDS}
    return {"scheme": rule_set.scheme, "version": rule_set.version, **kinds,
            "scored": len(rule_set.leaves),
            "manual": sum(1 for c in rule_set.leaves if c.manual),
            "max_points": rule_set.max_points,
            "valid": f"{rule_set.valid_from} .. {rule_set.valid_to or ''}"}


def parameters_json(criterion: Criterion) -> str | None:
    params = criterion.parameters()
    return json.dumps(params, ensure_ascii=False, sort_keys=True) if params else None
