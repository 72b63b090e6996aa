"""The skill library: every Crafter skill with its kind, success test, step budget and start.

Skills come from Crafter's rules (`crafter_rules()`), named as the skill graph
names them: `find_<thing>` for each material a collect rule mines and each
creature, `collect_<item>` for each collect rule, `place_<name>` and
`make_<tool>` for each place and make rule, and the manipulation skills of
`skills.yaml` (eating, fighting, waking up). Given a skill graph
(`skill_graph/crafter.yaml`), the library holds that graph's skills and
rejects any it cannot run.

Crafting and placing skills are single game actions guarded by their
preconditions (`GuardedSkill`). Finding and manipulation skills are learned
policies on the frame and the inventory (`mcagent.skills.policy`).
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
from collections.abc import Iterator, Mapping
from types import MappingProxyType

import numpy as np
import yaml

from mcagent.errors import UnknownNameError, UserError
from mcagent.paths import default_path
from mcagent.worlds.rules import CrafterRules, crafter_rules

SETTINGS_PATH = pathlib.Path(__file__).parent / "skills.yaml"
SETTINGS_FORMAT = "mcagent-skill-settings/1"
KINDS = ("finding", "manipulation", "placing", "crafting")
LEARNED_KINDS = ("finding", "manipulation")

# The skills of the tables: the tech tree to the diamond, and survival.
MOBILE = ("cow", "zombie", "skeleton", "arrow")   # creatures that stand on walkable ground
DIAMOND_CHAIN = ("find_tree", "collect_wood", "place_table", "make_wood_pickaxe",
                 "find_stone", "collect_stone", "make_stone_pickaxe", "place_furnace",
                 "find_coal", "collect_coal", "find_iron", "collect_iron",
                 "make_iron_pickaxe", "find_diamond", "collect_diamond")
SURVIVAL = ("find_water", "collect_drink", "find_cow", "eat_cow", "wake_up",
            "collect_sapling", "place_plant", "eat_plant", "defeat_zombie", "build_shelter")
# What else the Crafter-score suite plans for (all 22 achievements): measured too, so that
# the planner's costs for them are figures, not the stand-in for a skill without a policy.
SCORE_ONLY = ("find_grass", "place_stone", "make_wood_sword", "make_stone_sword",
              "make_iron_sword")


@dataclasses.dataclass(frozen=True)
class SkillSpec:
    """One skill: how it is run, when it is done, and where its training episodes start.

    `target` is the material or creature the skill looks for (finding) or works
    on (manipulation; it starts within `nearby` cells of one). A finding skill
    with `start_near` starts next to that material when it does not start
    anywhere: where a plan runs it (find_diamond after collect_iron, by iron). `success_event`
    is the event in `info["events"]` that means done; a finding skill is done
    when its target is within `nearby` cells instead. `start_inventory` holds
    the items the skill needs (tools it requires, items it spends).
    """

    name: str
    kind: str
    target: str | None
    success_event: str | None
    actions: tuple[str, ...]
    budget: int
    start_inventory: Mapping[str, int]
    nearby: int
    stations: tuple[str, ...] = ()   # what must stand next to the player (crafting)
    start_near: str | None = None    # finding: start next to this, where a plan runs the skill
    # > 0: done when the player is walled in, able to walk to at most this many cells
    # (its own included); the survival layer's shelter for the night.
    enclosure: int = 0

    def __post_init__(self):
        object.__setattr__(self, "start_inventory", MappingProxyType(dict(self.start_inventory)))

    @property
    def learned(self) -> bool:
        return self.kind in LEARNED_KINDS

    def holds_start(self, inventory: Mapping[str, int]) -> bool:
        """Whether `inventory` holds what the skill starts with (tools, items it spends)."""
        return all(inventory[k] >= v for k, v in self.start_inventory.items())

    def succeeded(self, info: Mapping, semantic_ids: Mapping[str, int]) -> bool:
        """The skill's success test on one step's `info` (privileged state for finding
        and for the enclosure)."""
        if self.enclosure:
            return walkable_region(info, semantic_ids, self.enclosure) <= self.enclosure
        if self.success_event is not None:
            return self.success_event in info["events"]
        return target_distance(info, semantic_ids[self.target]) <= self.nearby


def walkable_region(info: Mapping, semantic_ids: Mapping[str, int], limit: int) -> int:
    """How many cells the player can walk to, its own included, counting up to `limit` + 1
    (privileged: read from the semantic map; the walkable materials are Crafter's). A cell
    that a creature stands on counts as open: the map shows the creature, not the ground,
    and a zombie inside a shelter is no shelter."""
    walkable = {semantic_ids[m] for m in (*crafter_rules().walkable, *MOBILE)
                if m in semantic_ids}
    hostile = {semantic_ids[m] for m in ("zombie", "skeleton", "arrow") if m in semantic_ids}
    grid = info["semantic"]
    start = tuple(info["player_pos"])
    seen, frontier = {start}, [start]
    while frontier and len(seen) <= limit:
        x, y = frontier.pop()
        for cell in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
            if cell in seen or not (0 <= cell[0] < grid.shape[0] and 0 <= cell[1] < grid.shape[1]):
                continue
            if grid[cell] in hostile:
                return limit + 1         # walled in with a zombie is no shelter
            if grid[cell] in walkable:
                seen.add(cell)
                frontier.append(cell)
    return len(seen)


def target_distance(info: Mapping, target_id: int) -> int:
    """Chebyshev distance from the player to the nearest cell holding `target_id` (privileged)."""
    cells = np.argwhere(info["semantic"] == target_id)
    if len(cells) == 0:
        return 10**6
    x, y = info["player_pos"]
    return int(np.abs(cells - np.array([x, y])).max(axis=1).min())


@dataclasses.dataclass(frozen=True)
class SkillLibrary:
    """Skills by name, in a fixed order (the order of a skill-conditioned policy's ids)."""

    skills: Mapping[str, SkillSpec]
    aliases: Mapping[str, str]
    source: str

    def __post_init__(self):
        object.__setattr__(self, "skills", MappingProxyType(dict(self.skills)))
        object.__setattr__(self, "aliases", MappingProxyType(dict(self.aliases)))

    def __iter__(self) -> Iterator[SkillSpec]:
        return iter(self.skills.values())

    def __len__(self) -> int:
        return len(self.skills)

    def __contains__(self, name: str) -> bool:
        return name in self.skills

    def __getitem__(self, name: str) -> SkillSpec:
        try:
            return self.skills[name]
        except KeyError:
            raise UnknownNameError("skill", name, self.skills) from None

    @property
    def learned(self) -> tuple[str, ...]:
        return tuple(s.name for s in self if s.learned)

    def canonical(self, label: str | None) -> str | None:
        """A recording's skill label as a library skill name, or None when it is none."""
        if label is None:
            return None
        label = self.aliases.get(label, label)
        return label if label in self.skills else None


@functools.lru_cache(maxsize=None)
def load_settings(path: str = str(SETTINGS_PATH)) -> dict:
    data = yaml.safe_load(pathlib.Path(path).read_text())
    if data.get("format") != SETTINGS_FORMAT:
        raise UserError(f"{path}: expected format {SETTINGS_FORMAT!r}, got {data.get('format')!r}")
    return data


def _skills_from_rules(rules: CrafterRules, settings: dict) -> dict[str, SkillSpec]:
    nearby = int(settings["nearby"])
    budgets = settings["budget"]
    actions = {k: tuple(v) for k, v in settings["actions"].items()}
    for kind, names in actions.items():
        unknown = [a for a in names if a not in rules.actions]
        if unknown:
            raise UserError(f"{SETTINGS_PATH}: actions.{kind}: unknown action(s) {unknown}")
    skills: dict[str, SkillSpec] = {}
    finds = [*rules.collect, *settings["creatures"]]
    for thing in finds:
        name = f"find_{thing}"
        skills[name] = SkillSpec(name, "finding", thing, None, actions["finding"],
                                 int(budgets["finding"]), {}, nearby)
    for material, rule in rules.collect.items():
        item = next(iter(rule.receive))
        name = f"collect_{item}"
        if name not in rules.achievements:
            raise UserError(f"{rules.source}: collect.{material} gives {item!r}, "
                            f"but there is no achievement {name!r} to test it by")
        skills[name] = SkillSpec(name, "manipulation", material, name, actions["manipulation"],
                                 int(budgets["manipulation"]), dict(rule.require), nearby)
    for name, raw in settings["extra_skills"].items():
        if name not in rules.achievements:
            raise UserError(f"{SETTINGS_PATH}: extra skill {name!r} is not an achievement")
        raw = raw or {}
        skills[name] = SkillSpec(
            name, "manipulation", raw.get("target"), name,
            tuple(raw.get("actions", actions["manipulation"])),
            int(raw.get("budget", budgets["manipulation"])),
            dict(raw.get("start_inventory") or {}), nearby)
    for thing, rule in rules.place.items():
        name = f"place_{thing}"
        skills[name] = SkillSpec(name, "placing", None, name, (name,),
                                 int(budgets["placing"]), dict(rule.uses), nearby)
    for tool, rule in rules.make.items():
        name = f"make_{tool}"
        skills[name] = SkillSpec(name, "crafting", None, name, (name,),
                                 int(budgets["crafting"]), dict(rule.uses), nearby,
                                 stations=rule.nearby)
    for name, raw in (settings.get("overrides") or {}).items():
        if name not in skills:
            raise UnknownNameError(f"skill in {SETTINGS_PATH} overrides", name, skills)
        raw = dict(raw)
        if "actions" in raw:
            raw["actions"] = tuple(raw["actions"])
            unknown = [a for a in raw["actions"] if a not in rules.actions]
            if unknown:
                raise UserError(f"{SETTINGS_PATH}: overrides.{name}.actions: unknown action(s) "
                                f"{unknown}")
        skills[name] = dataclasses.replace(skills[name], **raw)
    for name, raw in (settings.get("survival_skills") or {}).items():
        if name in skills:
            raise UserError(f"{SETTINGS_PATH}: survival skill {name!r} is already a skill")
        unknown = [a for a in raw["actions"] if a not in rules.actions]
        if unknown:
            raise UserError(f"{SETTINGS_PATH}: survival_skills.{name}.actions: unknown "
                            f"action(s) {unknown}")
        skills[name] = SkillSpec(name, "manipulation", None, None, tuple(raw["actions"]),
                                 int(raw["budget"]), dict(raw.get("start_inventory") or {}),
                                 nearby, enclosure=int(raw["enclosure"]))
    return skills


def skill_library(graph: str | pathlib.Path | None = None, *,
                  rules: CrafterRules | None = None) -> SkillLibrary:
    """The Crafter skill library, restricted to the skills of `graph` when one is given.

    `graph="auto"` uses skill_graph/crafter.yaml when that file exists; None or
    "none" uses every skill of the rules.
    """
    rules = rules or crafter_rules()
    settings = load_settings()
    skills = _skills_from_rules(rules, settings)
    source = rules.source
    if graph in ("none", ""):
        graph = None
    if graph == "auto":
        graph = default_path("skill_graph", "crafter.yaml")
        graph = graph if graph.exists() else None
    if graph is not None:
        from mcagent.graph.schema import load_graph

        loaded = load_graph(graph, world="crafter")
        unknown = [s.name for s in loaded if s.name not in skills]
        if unknown:
            raise UserError(f"{graph}: skill(s) {unknown} have no runner in mcagent.skills; "
                            f"known: {', '.join(skills)}")
        # The graph's skills, and the survival layer's, which no plan asks for.
        survival = settings.get("survival_skills") or {}
        skills = {name: skills[name] for name in (*(s.name for s in loaded), *survival)}
        source = str(graph)
    return SkillLibrary(skills, settings.get("aliases") or {}, source)


class GuardedSkill:
    """A crafting or placing skill: its one game action, taken when its preconditions hold.

    The guard reads only what the player sees: the inventory, and the cells
    around the player (the frame shows them). A placing skill turns to face a
    cell it may place on first. A crafting skill whose stations are in view
    (within `reach` cells) but not next to the player walks up to them first:
    Crafter crafts only beside its stations, and the skill before may have
    wandered a few cells off. `act` returns None when the guard fails: the
    skill cannot run here, and the planner must supply what is missing.
    """

    MOVES = {(-1, 0): "move_left", (1, 0): "move_right", (0, -1): "move_up", (0, 1): "move_down"}

    def __init__(self, spec: SkillSpec, rules: CrafterRules | None = None, reach: int | None = None):
        if spec.learned:
            raise ValueError(f"{spec.name} is a learned skill, not a guarded action")
        self.spec = spec
        self.rules = rules or crafter_rules()
        self.materials = (None, *self.rules.materials)
        self.reach = int(load_settings()["crafting_reach"]) if reach is None else reach

    def guard(self, info: Mapping) -> bool:
        if not self.spec.holds_start(info["inventory"]):
            return False
        if self.spec.kind == "crafting":
            around = self._cells(info, self.reach)
            return all(station in around for station in self.spec.stations)
        return True

    def act(self, info: Mapping) -> str | None:
        """The next action, or None when the skill cannot run."""
        if not self.guard(info):
            return None
        if self.spec.kind == "crafting":
            around = self._cells(info, 1)
            missing = [s for s in self.spec.stations if s not in around]
            return self.spec.actions[0] if not missing else self._towards(info, missing[0])
        where = self.rules.place[self.spec.name[len("place_"):]].where
        x, y = info["player_pos"]
        fx, fy = info["facing"]
        if self._material(info, x + fx, y + fy) in where and not self._creature(info, x + fx, y + fy):
            return self.spec.actions[0]
        for (dx, dy), move in self.MOVES.items():
            if self._material(info, x + dx, y + dy) in where:
                return move
        return "noop"

    def _towards(self, info: Mapping, station: str) -> str:
        """A step towards the nearest cell of `station` in reach, along a walkable cell."""
        x, y = info["player_pos"]
        cells = [(x + dx, y + dy) for dx in range(-self.reach, self.reach + 1)
                 for dy in range(-self.reach, self.reach + 1)
                 if self._material(info, x + dx, y + dy) == station]
        tx, ty = min(cells, key=lambda c: abs(c[0] - x) + abs(c[1] - y))
        walkable = self.rules.walkable
        steps = sorted(self.MOVES.items(), key=lambda m: abs(tx - x - m[0][0]) + abs(ty - y - m[0][1]))
        for (dx, dy), move in steps:
            closer = abs(tx - x - dx) + abs(ty - y - dy) < abs(tx - x) + abs(ty - y)
            if closer and self._material(info, x + dx, y + dy) in walkable \
                    and not self._creature(info, x + dx, y + dy):
                return move
        return "noop"

    def _material(self, info, x, y):
        semantic = info["semantic"]
        if not (0 <= x < semantic.shape[0] and 0 <= y < semantic.shape[1]):
            return None
        value = int(semantic[x, y])
        return self.materials[value] if value < len(self.materials) else None

    def _creature(self, info, x, y) -> bool:
        semantic = info["semantic"]
        return int(semantic[x, y]) >= len(self.materials)

    def _cells(self, info, distance: int) -> set:
        x, y = info["player_pos"]
        return {self._material(info, x + dx, y + dy)
                for dx in range(-distance, distance + 1) for dy in range(-distance, distance + 1)}
