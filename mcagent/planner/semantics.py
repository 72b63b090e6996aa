"""The skill graph's semantics: when a skill can run and what inventory follows, and a plan verifier.

This module is the single source of truth for what a skill does. The planners,
the verifier, the CLI and the agent all go through `Rules` (or `apply_skill`,
which wraps it); nothing else decides whether a skill can run.

The rules, in Plan4MC's vocabulary:

- a skill can run when the inventory holds its `consume` and `require` items
  (an item in both must be held in the sum of both counts) and one of each
  `equip` item (it must be in hand);
- it then loses its `consume` items and gains its `obtain` items;
- a finding skill (`skill_type` 0) first clears every `*_nearby` item: the
  player walks away from whatever was near;
- where tool tiers are declared (`Tiers`), a better tool stands in for a
  lesser one that is required or equipped but not consumed.

An inventory is a mapping of item to count; items at zero may be left out.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Iterable, Mapping, Sequence

from mcagent.errors import UnknownNameError, UserError
from mcagent.graph.schema import NEARBY_SUFFIX, Skill, SkillGraph, read_data_file

TIERS_FORMAT = "mcagent-tool-tiers/1"
TIERS_DIR = pathlib.Path(__file__).parent / "tiers"


def is_nearby(item: str) -> bool:
    return item.endswith(NEARBY_SUFFIX)


def needs(skill: Skill) -> dict[str, int]:
    """Everything a skill must hold to run: consume + require, and one of each equipped item."""
    found = skill.inputs
    for item in skill.equip:
        found[item] = max(found.get(item, 0), 1)
    return found


@dataclasses.dataclass(frozen=True)
class Tiers:
    """Tool tiers, each chain from the lesser tool to the better: a better one stands in for a lesser."""

    chains: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self):
        chains = tuple(tuple(chain) for chain in self.chains)
        object.__setattr__(self, "chains", chains)
        seen: set[str] = set()
        for chain in chains:
            if len(set(chain)) != len(chain) or seen & set(chain):
                raise UserError(f"tool tiers: an item appears twice in {list(chain)}; "
                                "each tool belongs to one chain, once")
            seen.update(chain)

    def better(self, item: str) -> tuple[str, ...]:
        """The tools that can stand in for `item`, nearest tier first."""
        for chain in self.chains:
            if item in chain:
                return chain[chain.index(item) + 1:]
        return ()

    def restrict(self, items: Iterable[str]) -> Tiers:
        """The chains cut to the tools a graph knows: a world's tiers file serves all its graphs."""
        known = set(items)
        return Tiers(tuple(c for c in (tuple(i for i in chain if i in known)
                                       for chain in self.chains) if len(c) > 1))

    def to_dict(self) -> dict:
        return {"format": TIERS_FORMAT, "tiers": [list(c) for c in self.chains]}


NO_TIERS = Tiers()


def load_tiers(path: str | pathlib.Path) -> Tiers:
    """Tiers from YAML: `{format: mcagent-tool-tiers/1, tiers: [[wooden_pickaxe, stone_pickaxe], ...]}`."""
    path = pathlib.Path(path)
    data = read_data_file(path, "tool tiers")
    if not isinstance(data, Mapping) or data.get("format") != TIERS_FORMAT:
        raise UserError(f"{path}: expected a mapping with format: {TIERS_FORMAT}")
    chains = data.get("tiers")
    if not isinstance(chains, list) or not all(
            isinstance(c, list) and len(c) >= 2 and all(isinstance(i, str) for i in c)
            for c in chains):
        raise UserError(f"{path}: 'tiers' must be a list of lists of at least two item names, "
                        "lesser tool first")
    try:
        return Tiers(tuple(tuple(c) for c in chains))
    except UserError as error:
        raise UserError(f"{path}: {error}") from None


def world_tiers(world: str) -> Tiers:
    """The tool tiers of a world (`tiers/<world>.yaml`), or none where its rules have none (Crafter)."""
    path = TIERS_DIR / f"{world}.yaml"
    return load_tiers(path) if path.is_file() else NO_TIERS


@dataclasses.dataclass(frozen=True)
class Transition:
    """One skill applied to one inventory: what was missing, or what follows."""

    skill: str
    missing: Mapping[str, int]  # item -> how many more are needed; empty when the skill can run
    after: Mapping[str, int] | None  # the inventory that follows; None when it cannot run
    substitutes: Mapping[str, str]  # required tool -> the better tool standing in for it

    @property
    def ok(self) -> bool:
        return self.after is not None


class SkillCannotRun(UserError):
    """A skill was applied to an inventory that lacks its inputs."""


class _Compiled:
    """One skill's rule as tuples, so the planners' inner loops stay fast."""

    __slots__ = ("name", "finding", "needs", "need_of", "consume", "obtain", "tool_needs")

    def __init__(self, skill: Skill):
        self.name = skill.name
        self.finding = skill.skill_type == 0
        self.need_of = needs(skill)
        self.needs = tuple(self.need_of.items())
        self.consume = tuple(skill.consume.items())
        self.obtain = tuple(skill.obtain.items())
        # Items held but not spent: where tiers may let a better tool stand in.
        self.tool_needs = frozenset(i for i in self.need_of if i not in skill.consume)


class Rules:
    """A graph's semantics, compiled once: `missing`, `can_run`, `apply`, `step` for any inventory."""

    def __init__(self, graph: SkillGraph, tiers: Tiers = NO_TIERS):
        self.graph = graph
        self.items = frozenset(graph.items)
        self.tiers = tiers = tiers.restrict(self.items)
        self._skills = {s.name: _Compiled(s) for s in graph}
        self._better = {i: tiers.better(i) for s in graph for i in s.inputs | dict.fromkeys(s.equip)}

    def __contains__(self, name: str) -> bool:
        return name in self._skills

    def _compiled(self, name: str) -> _Compiled:
        try:
            return self._skills[name]
        except KeyError:
            raise UnknownNameError("skill", name, self._skills) from None

    def _check(self, c: _Compiled, inv: Mapping[str, int]) -> tuple[dict[str, int], dict[str, str]]:
        missing: dict[str, int] = {}
        substitutes: dict[str, str] = {}
        for item, n in c.needs:
            have = inv.get(item, 0)
            if have >= n:
                continue
            if item in c.tool_needs:
                stand_in = next((b for b in self._better.get(item, ())
                                 if inv.get(b, 0) >= n + c.need_of.get(b, 0)), None)
                if stand_in is not None:
                    substitutes[item] = stand_in
                    continue
            missing[item] = n - have
        return missing, substitutes

    def missing(self, name: str, inventory: Mapping[str, int]) -> dict[str, int]:
        """What the skill lacks in this inventory (item -> how many more); empty when it can run."""
        return self._check(self._compiled(name), inventory)[0]

    def can_run(self, name: str, inventory: Mapping[str, int]) -> bool:
        c = self._compiled(name)
        for item, n in c.needs:
            if inventory.get(item, 0) < n:
                if item not in c.tool_needs or not self._better.get(item):
                    return False
                return not self._check(c, inventory)[0]
        return True

    def after(self, c: _Compiled, inventory: Mapping[str, int]) -> dict[str, int]:
        """The inventory that follows a skill known to be runnable."""
        inv = dict(inventory)
        for item, n in c.consume:
            left = inv[item] - n
            if left:
                inv[item] = left
            else:
                del inv[item]
        if c.finding:
            for item in [i for i in inv if is_nearby(i)]:
                del inv[item]
        for item, n in c.obtain:
            inv[item] = inv.get(item, 0) + n
        return inv

    def step(self, name: str, inventory: Mapping[str, int]) -> Transition:
        """The one rule: can `name` run with `inventory`, and what inventory follows."""
        c = self._compiled(name)
        missing, substitutes = self._check(c, inventory)
        if missing:
            return Transition(name, missing, None, substitutes)
        return Transition(name, {}, self.after(c, inventory), substitutes)

    def apply(self, name: str, inventory: Mapping[str, int]) -> dict[str, int]:
        """The inventory after `name`; `SkillCannotRun` names what is missing."""
        t = self.step(name, inventory)
        if t.after is None:
            lacking = ", ".join(f"{i} (needs {n} more)" for i, n in t.missing.items())
            raise SkillCannotRun(f"skill {name!r} cannot run: missing {lacking}")
        return dict(t.after)

    def is_finding(self, name: str) -> bool:
        return self._compiled(name).finding


def apply_skill(skill: Skill, inventory: Mapping[str, int], tiers: Tiers = NO_TIERS) -> Transition:
    """Can `skill` run with `inventory`, and what inventory follows (see the module's rules)."""
    return Rules(SkillGraph({skill.name: skill}), tiers).step(skill.name, inventory)


def check_inventory(rules: Rules, inventory: Mapping[str, object],
                    strict: bool = True) -> dict[str, int]:
    """A clean copy of an inventory: counts are integers >= 0, items are the graph's.

    With `strict=False` items the graph never mentions are dropped instead of refused
    (an agent's inventory holds things no skill cares about).
    """
    known = rules.items
    clean: dict[str, int] = {}
    for item, count in inventory.items():
        if item not in known:
            if strict:
                raise UnknownNameError("inventory item", item, known)
            continue
        if isinstance(count, bool) or not isinstance(count, int):
            raise UserError(f"inventory: count of {item!r} must be an integer, got {count!r}")
        if count < 0:
            raise UserError(f"inventory: count of {item!r} is {count}; counts cannot be negative")
        if count:
            clean[item] = count
    return clean


@dataclasses.dataclass(frozen=True)
class Goal:
    """What a plan must reach: `count` of an item held, or a skill run `count` times."""

    kind: str  # "item" or "skill"
    name: str
    count: int = 1

    def reached(self, inventory: Mapping[str, int], runs: Mapping[str, int]) -> bool:
        if self.kind == "item":
            return inventory.get(self.name, 0) >= self.count
        return runs.get(self.name, 0) >= self.count

    def __str__(self) -> str:
        return f"{self.name} x{self.count}" if self.kind == "item" else \
            f"skill {self.name} x{self.count}"


def resolve_goal(rules: Rules, target: str, count: int = 1) -> Goal:
    """A target by name: an item of the graph first, else a skill (run it `count` times)."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise UserError(f"target count must be a positive integer, got {count!r}")
    if target in rules.items:
        return Goal("item", target, count)
    if target in rules:
        return Goal("skill", target, count)
    raise UnknownNameError("target", target, rules.items | set(rules.graph.skills))


@dataclasses.dataclass(frozen=True)
class Verification:
    """A plan checked step by step against the rules."""

    valid: bool  # every step could run and the goal is reached at the end
    reached: bool
    failed_step: int | None  # index of the first step that could not run
    missing: Mapping[str, int]  # what that step lacked
    final: Mapping[str, int]  # the inventory after the last step that ran
    message: str


def verify_plan(rules: Rules, skills: Sequence[str], inventory: Mapping[str, int],
                goal: Goal) -> Verification:
    """Run `skills` from `inventory` under the rules; say whether each step could run and the goal holds."""
    inv = dict(inventory)
    runs: dict[str, int] = {}
    for index, name in enumerate(skills):
        if name not in rules:
            return Verification(False, False, index, {}, inv,
                                f"step {index + 1}: {name!r} is not a skill of the graph")
        t = rules.step(name, inv)
        if t.after is None:
            lacking = ", ".join(f"{i} x{n}" for i, n in t.missing.items())
            return Verification(False, False, index, dict(t.missing), inv,
                                f"step {index + 1}: {name} cannot run, missing {lacking}")
        inv = dict(t.after)
        runs[name] = runs.get(name, 0) + 1
    reached = goal.reached(inv, runs)
    message = "valid" if reached else f"every step runs but the plan does not reach {goal}"
    return Verification(reached, reached, None, {}, inv, message)


def nearby_after(rules: Rules, skill: str, nearby: Iterable[str], succeeded: bool) -> set[str]:
    """Which `*_nearby` items to believe in after running `skill` in the world.

    After a success, the rules say (a finding skill leaves only what it found).
    After a failure, a finding skill leaves nothing nearby (the player has walked
    somewhere unknown), and any other skill leaves what was nearby before.
    """
    before = {i for i in nearby if is_nearby(i)}
    c = rules._compiled(skill)
    if not succeeded:
        return set() if c.finding else before
    after = rules.after(c, {**{i: 1 for i in before}, **{i: n for i, n in c.needs}})
    return {i for i in after if is_nearby(i)}
