"""Ground truth from a game's own rules: every way the game offers to obtain each item.

A `Way` is one concrete way: what it consumes and requires, with exact counts,
and what it obtains, as a range (drops are random). Alternatives (which tool,
which fuel, which recipe) are separate ways; a graph's skill is right when it
matches one of them. `*_nearby` items that the game does not insist on (a
Minecraft skill may find its own cow) are listed in `nearby`: a skill may
consume or require them, or not.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Collection, Iterable, Mapping
from types import MappingProxyType

from mcagent.errors import UnknownNameError
from mcagent.graph.check import DEFAULT_MAX_COUNT, Target
from mcagent.graph.schema import NEARBY_SUFFIX, Skill, SkillGraph


@dataclasses.dataclass(frozen=True)
class Way:
    name: str
    skill_type: int
    consume: Mapping[str, int] = dataclasses.field(default_factory=dict)
    require: Mapping[str, int] = dataclasses.field(default_factory=dict)
    obtain: Mapping[str, tuple[int, int]] = dataclasses.field(default_factory=dict)
    nearby: frozenset[str] = frozenset()  # optional *_nearby items, in consume or require
    source: str = ""  # where the rule comes from, for reports

    def __post_init__(self):
        for name in ("consume", "require", "obtain"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        object.__setattr__(self, "nearby", frozenset(self.nearby))

    @property
    def inputs(self) -> set[str]:
        return set(self.consume) | set(self.require)

    def to_skill(self, name: str | None = None) -> Skill:
        """The skill that does exactly this (optional items left out, minimum counts)."""
        return Skill(name or self.name, self.skill_type, dict(self.consume), dict(self.require), (),
                     {item: lo for item, (lo, hi) in self.obtain.items() if lo >= 1})


@dataclasses.dataclass(frozen=True)
class Truth:
    """What a world's rules say, with the vocabulary and the limits that checks need."""

    world: str
    ways: tuple[Way, ...]
    items: frozenset[str]
    initial: Mapping[str, int]
    max_counts: Mapping[str, int]
    source: str
    achievements: Mapping[str, Mapping[str, str | None]] = dataclasses.field(default_factory=dict)
    default_targets: tuple[str, ...] = ()

    def __post_init__(self):
        by_item: dict[str, list[Way]] = {}
        for way in self.ways:
            for item in way.obtain:
                by_item.setdefault(item, []).append(way)
        object.__setattr__(self, "_by_item", by_item)
        object.__setattr__(self, "_by_name", {w.name: w for w in self.ways})

    def ways_for(self, item: str) -> list[Way]:
        return list(self._by_item.get(item, ()))

    def way(self, name: str) -> Way | None:
        return self._by_name.get(name)

    def max_count(self, item: str) -> int:
        return self.max_counts.get(item, DEFAULT_MAX_COUNT)

    @functools.cached_property
    def levels(self) -> dict[str, int]:
        """How many rounds of skills from the start each way needs (1: runs at once); unreachable ways are absent."""
        have = {item for item, n in self.initial.items() if n > 0}
        level: dict[str, int] = {}
        rounds = 0
        while True:
            rounds += 1
            ready = [w for w in self.ways if w.name not in level and w.inputs <= have]
            if not ready:
                return level
            for way in ready:
                level[way.name] = rounds
            for way in ready:
                have.update(i for i, (lo, hi) in way.obtain.items() if lo >= 1)

    def preferred_way(self, item: str) -> Way | None:
        """The way to count as missing when a graph has no skill for `item`: the shallowest, then first listed."""
        ways = [w for w in self.ways_for(item) if w.name in self.levels]
        # a sure way before a lucky one (leather only drops sometimes), then the shallowest
        return min(ways, key=lambda w: (self.obtain_min(w, item) < 1, self.levels[w.name]),
                   default=None)

    @staticmethod
    def obtain_min(way: Way, item: str) -> int:
        return way.obtain.get(item, (0, 0))[0]

    def resolve_targets(self, names: Iterable[str]) -> list[Target]:
        """Targets by name: an achievement (a skill of that name) or an item."""
        targets = []
        for name in names:
            if name in self.achievements:
                targets.append(Target("skill", self.achievements[name]["skill"] or name))
            elif name in self.items:
                targets.append(Target("item", name))
            else:
                raise UnknownNameError(f"{self.world} target (achievement or item)", name,
                                       [*self.achievements, *sorted(self.items)])
        return targets

    def check_kwargs(self) -> dict:
        """Keyword arguments of `check_graph` for this world."""
        return {"known_items": self.items, "max_count": self.max_count, "initial": self.initial}


def graph_from_ways(ways: Iterable[Way], world: str, provenance: Mapping[str, object]) -> SkillGraph:
    return SkillGraph({w.name: w.to_skill() for w in ways}, world, provenance)


def closure(truth: Truth, targets: Iterable[Target],
            chosen: Callable[[str], Way | None] | None = None) -> list[Way]:
    """The ways needed to reach `targets` from the world's start, inputs first.

    `chosen(item)` picks the way for an item (default: `truth.preferred_way`).
    """
    pick = chosen or truth.preferred_way
    order: list[Way] = []
    seen: set[str] = set()

    def visit(way: Way, stack: tuple[str, ...]) -> None:
        if way.name in seen or way.name in stack:
            return
        for item in sorted(way.inputs, key=lambda i: (not i.endswith(NEARBY_SUFFIX), i)):
            if truth.initial.get(item, 0) > 0:
                continue
            producer = pick(item)
            if producer is not None:
                visit(producer, stack + (way.name,))
        seen.add(way.name)
        order.append(way)

    for target in targets:
        way = truth.way(target.name) if target.kind == "skill" else pick(target.name)
        if way is not None:
            visit(way, ())
    return order


def known(names: Collection[str], vocabulary: Collection[str], what: str) -> None:
    """Raise if a name in data is not in the vocabulary: data errors show up at load time."""
    for name in names:
        if name not in vocabulary:
            raise UnknownNameError(what, name, vocabulary)
