"""Typed skill graphs in Plan4MC's vocabulary, and their YAML/JSON files.

A graph file is Plan4MC's `skills.yaml` mapping (skill name -> `skill_type`,
`consume`, `require`, `equip`, `obtain`), read as it is. mcagent's own graphs
add one reserved top-level key, `mcagent`, holding the format version, the
world and the provenance (rules, LLM and model, hand-edited); `save_graph(...,
plan4mc=True)` leaves it out so Plan4MC's code can read the file.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from collections.abc import Iterable, Mapping
from types import MappingProxyType

import yaml

from mcagent.errors import UserError

GRAPH_FORMAT = "mcagent-skill-graph/1"
HEADER_KEY = "mcagent"
SKILL_TYPES = {0: "finding", 1: "manipulation", 2: "crafting"}
NEARBY_SUFFIX = "_nearby"
_FIELDS = ("skill_type", "consume", "require", "equip", "obtain")


def _frozen(counts: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(counts))


@dataclasses.dataclass(frozen=True)
class Skill:
    """One skill: runs when `consume` and `require` are held, then adds `obtain`."""

    name: str
    skill_type: int
    consume: Mapping[str, int] = dataclasses.field(default_factory=dict)
    require: Mapping[str, int] = dataclasses.field(default_factory=dict)
    equip: tuple[str, ...] = ()
    obtain: Mapping[str, int] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        for name in ("consume", "require", "obtain"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        object.__setattr__(self, "equip", tuple(self.equip))

    @property
    def kind(self) -> str:
        return SKILL_TYPES[self.skill_type]

    @property
    def inputs(self) -> dict[str, int]:
        """Every item the skill needs held before it runs (consumed or not)."""
        needed = dict(self.require)
        for item, count in self.consume.items():
            needed[item] = needed.get(item, 0) + count
        return needed

    def to_dict(self) -> dict:
        """Plan4MC's layout: empty mappings as null, `equip` always a list."""
        return {"skill_type": self.skill_type,
                "consume": dict(self.consume) or None,
                "require": dict(self.require) or None,
                "equip": list(self.equip),
                "obtain": dict(self.obtain) or None}


@dataclasses.dataclass(frozen=True)
class SkillGraph:
    """Skills by name, in file order, with the world they are for and where they came from."""

    skills: Mapping[str, Skill]
    world: str = "minecraft"
    provenance: Mapping[str, object] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "skills", MappingProxyType(dict(self.skills)))
        object.__setattr__(self, "provenance", MappingProxyType(dict(self.provenance)))

    def __iter__(self):
        return iter(self.skills.values())

    def __len__(self) -> int:
        return len(self.skills)

    def __getitem__(self, name: str) -> Skill:
        return self.skills[name]

    @property
    def items(self) -> set[str]:
        """Every item any skill mentions."""
        found: set[str] = set()
        for skill in self:
            found.update(skill.consume, skill.require, skill.equip, skill.obtain)
        return found

    def producers(self, item: str) -> list[Skill]:
        """The skills that obtain `item`, in file order."""
        return [s for s in self if item in s.obtain]

    def to_dict(self, plan4mc: bool = False) -> dict:
        data: dict = {}
        if not plan4mc:
            data[HEADER_KEY] = {"format": GRAPH_FORMAT, "world": self.world,
                                "provenance": dict(self.provenance)}
        data.update({name: skill.to_dict() for name, skill in self.skills.items()})
        return data


def _counts(raw: object, where: str) -> dict[str, int]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise UserError(f"{where}: expected a mapping of item to count, got {raw!r}")
    counts = {}
    for item, count in raw.items():
        if not isinstance(item, str) or not item:
            raise UserError(f"{where}: item names must be non-empty strings, got {item!r}")
        if isinstance(count, bool) or not isinstance(count, int):
            raise UserError(f"{where}: count of {item!r} must be an integer, got {count!r}")
        counts[item] = count
    return counts


def skill_from_dict(name: str, raw: object, source: str = "<graph>") -> Skill:
    """One skill from its Plan4MC-style mapping; errors name the skill and the field."""
    where = f"{source}: skill {name!r}"
    if not isinstance(raw, Mapping):
        raise UserError(f"{where}: expected a mapping with {', '.join(_FIELDS)}, got {raw!r}")
    unknown = set(raw) - set(_FIELDS)
    if unknown:
        raise UserError(f"{where}: unknown field(s) {sorted(unknown)}; valid: {', '.join(_FIELDS)}")
    if "skill_type" not in raw:
        raise UserError(f"{where}: field 'skill_type' is missing")
    skill_type = raw["skill_type"]
    if skill_type not in SKILL_TYPES or isinstance(skill_type, bool):
        raise UserError(f"{where}: skill_type must be one of {sorted(SKILL_TYPES)} "
                        f"({', '.join(SKILL_TYPES.values())}), got {skill_type!r}")
    equip = raw.get("equip") or []
    if not isinstance(equip, list) or not all(isinstance(e, str) for e in equip):
        raise UserError(f"{where}.equip: expected a list of item names, got {equip!r}")
    return Skill(name, skill_type,
                 _counts(raw.get("consume"), f"{where}.consume"),
                 _counts(raw.get("require"), f"{where}.require"),
                 tuple(equip),
                 _counts(raw.get("obtain"), f"{where}.obtain"))


def graph_from_dict(data: object, source: str = "<graph>", world: str | None = None) -> SkillGraph:
    """A graph from a parsed file: Plan4MC's mapping, with or without mcagent's header."""
    if not isinstance(data, Mapping) or not data:
        raise UserError(f"{source}: expected a mapping of skill name to skill, got {data!r}")
    header = data.get(HEADER_KEY) or {}
    if header and header.get("format") != GRAPH_FORMAT:
        raise UserError(f"{source}: unsupported graph format {header.get('format')!r}; "
                        f"this version reads {GRAPH_FORMAT!r}")
    skills = {str(name): skill_from_dict(str(name), raw, source)
              for name, raw in data.items() if name != HEADER_KEY}
    if not skills:
        raise UserError(f"{source}: the graph has no skills")
    provenance = dict(header.get("provenance") or {"source": source})
    return SkillGraph(skills, world or header.get("world", "minecraft"), provenance)


def read_data_file(path: pathlib.Path, what: str):
    """The parsed content of a YAML file (JSON for `.json`); a clear error names the file."""
    try:
        text = path.read_text()
    except OSError as error:
        raise UserError(f"cannot read {what} {path}: {error.strerror}") from error
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise UserError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: "
                        f"{error}") from error


def load_graph(path: str | pathlib.Path, world: str | None = None, *, check: bool = False) -> SkillGraph:
    """Read a graph from YAML (Plan4MC's or mcagent's) or JSON.

    With `check`, also run `mcagent.graph.check` (the world's items and limits,
    skills that can never run, cycles, the targets in its provenance) and
    raise one UserError listing every error, each naming its skill and field.
    """
    path = pathlib.Path(path)
    data = read_data_file(path, "skill graph")
    graph = graph_from_dict(data, str(path), world)
    if check:
        from mcagent.graph.check import raise_on_errors

        raise_on_errors(graph, str(path))
    return graph


def save_graph(graph: SkillGraph, path: str | pathlib.Path, plan4mc: bool = False) -> None:
    """Write a graph as YAML (or JSON for a .json path), atomically."""
    path = pathlib.Path(path)
    data = graph.to_dict(plan4mc=plan4mc)
    if path.suffix == ".json":
        text = json.dumps(data, indent=1) + "\n"
    else:
        text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def item_names(graphs: Iterable[SkillGraph]) -> set[str]:
    return set().union(*(g.items for g in graphs))
