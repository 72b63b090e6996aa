"""Crafter's rules, read from the data.yaml that ships with the crafter package."""

from __future__ import annotations

import dataclasses
import functools
import pathlib
from collections.abc import Mapping

import yaml

from mcagent.errors import UserError


@dataclasses.dataclass(frozen=True)
class ItemInfo:
    max: int
    initial: int


@dataclasses.dataclass(frozen=True)
class CollectRule:
    """`do` facing `material` gives `receive` when `require` is held, and leaves `leaves`."""

    material: str
    require: Mapping[str, int]
    receive: Mapping[str, int]
    leaves: str
    probability: float = 1.0


@dataclasses.dataclass(frozen=True)
class PlaceRule:
    """`place_<name>` puts `name` on a facing cell of a `where` material, spending `uses`."""

    name: str
    uses: Mapping[str, int]
    where: tuple[str, ...]
    type: str  # "material" or "object"


@dataclasses.dataclass(frozen=True)
class MakeRule:
    """`make_<name>` spends `uses` next to every station in `nearby` and gives `gives`."""

    name: str
    uses: Mapping[str, int]
    nearby: tuple[str, ...]
    gives: int


VITALS = ("health", "food", "drink", "energy")


@dataclasses.dataclass(frozen=True)
class CrafterRules:
    actions: tuple[str, ...]
    materials: tuple[str, ...]
    walkable: tuple[str, ...]
    items: Mapping[str, ItemInfo]
    collect: Mapping[str, CollectRule]
    place: Mapping[str, PlaceRule]
    make: Mapping[str, MakeRule]
    achievements: tuple[str, ...]
    source: str

    @property
    def tools(self) -> tuple[str, ...]:
        """Items that are never spent: pickaxes and swords."""
        spent = {i for r in (*self.place.values(), *self.make.values()) for i in r.uses}
        return tuple(i for i in self.make if i not in spent)

    @staticmethod
    def crafts_at(x: int, y: int) -> bool:
        """Whether a recipe's stations around the cell (x, y) count. Crafter looks for them
        in `World.nearby`, which slices the map from x - 1 and y - 1: on the map's first
        column or row the slice is empty, and nothing is made there."""
        return x >= 1 and y >= 1

    def minable(self, inventory: Mapping[str, int], into) -> tuple[str, ...]:
        """The materials `do` mines with the tools `inventory` holds that leave one of
        `into` (stone leaves path), in the collect table's order."""
        return tuple(m for m, rule in self.collect.items() if rule.leaves in into
                     and all(inventory[k] >= v for k, v in rule.require.items()))


def _counts(raw: object, where: str, items: Mapping[str, ItemInfo]) -> dict[str, int]:
    raw = raw or {}
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected a mapping of item to count, got {raw!r}")
    for name, count in raw.items():
        if name not in items:
            raise UserError(f"{where}: unknown item {name!r}")
        if not isinstance(count, int) or count < 0:
            raise UserError(f"{where}: count of {name!r} must be a non-negative integer")
    return dict(raw)


def parse_rules(data: Mapping, source: str) -> CrafterRules:
    """Build typed rules from the parsed data.yaml, rejecting unknown names."""
    items = {k: ItemInfo(int(v["max"]), int(v["initial"])) for k, v in data["items"].items()}
    materials = tuple(data["materials"])

    def material(name: str, where: str) -> str:
        if name not in materials:
            raise UserError(f"{source}: {where}: unknown material {name!r}")
        return name

    collect = {}
    for mat, r in data["collect"].items():
        where = f"{source}: collect.{mat}"
        collect[mat] = CollectRule(
            material(mat, where), _counts(r.get("require"), where, items),
            _counts(r.get("receive"), where, items), material(r["leaves"], where),
            float(r.get("probability", 1.0)))
    place = {}
    for name, r in data["place"].items():
        where = f"{source}: place.{name}"
        place[name] = PlaceRule(name, _counts(r.get("uses"), where, items),
                                tuple(material(m, where) for m in r["where"]), r["type"])
    make = {}
    for name, r in data["make"].items():
        where = f"{source}: make.{name}"
        if name not in items:
            raise UserError(f"{where}: unknown item {name!r}")
        make[name] = MakeRule(name, _counts(r.get("uses"), where, items),
                              tuple(material(m, where) for m in r["nearby"]), int(r["gives"]))
    return CrafterRules(
        actions=tuple(data["actions"]), materials=materials,
        walkable=tuple(material(m, "walkable") for m in data["walkable"]),
        items=items, collect=collect, place=place, make=make,
        achievements=tuple(data["achievements"]), source=source)


@functools.lru_cache(maxsize=None)
def crafter_rules(path: str | None = None) -> CrafterRules:
    """The rules of the installed crafter package (or of the data.yaml at `path`)."""
    if path is None:
        import crafter  # imported here: it is heavy and optional for non-crafter users

        path = str(pathlib.Path(crafter.__file__).parent / "data.yaml")
    try:
        data = yaml.safe_load(pathlib.Path(path).read_text())
    except OSError as error:
        raise UserError(f"cannot read Crafter's rules from {path}: {error}") from error
    return parse_rules(data, path)
