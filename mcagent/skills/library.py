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
policies on the frame and the inventory (`mcagent.skills.policy`); in the agent a
finding skill first walks to a target the player has seen this episode
(`RememberedWalk`, over the memory `remember_view` keeps), and explores the
unseen cells of that memory for one never seen (`RememberedWalk.explore`).
"""

from __future__ import annotations

import dataclasses
import functools
import heapq
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
HOSTILE = ("zombie", "skeleton")                  # those a walk in their way hits
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

    The guard reads only what the player sees, or has seen: the inventory, and the
    cells in `view` around the player (the frame shows them) or, given the agent's
    memory of the episode's cells (`info["seen"]`, kept by `remember_view`), the
    remembered cells up to `remembered_reach` from the player. Crafter crafts only
    where every station of the recipe lies in the 3x3 cells around the player (an
    iron pickaxe needs the table and the furnace both there). A crafting skill whose
    stations are not all around the player walks, along walkable cells, to the
    nearest cell that has them all around it first: the skill before may have
    wandered off. A placing skill first gets to face a cell it may place on (or mine,
    with `do`, into one: stone leaves path); a move
    turns the player only towards a cell it cannot walk onto, so turning often
    means steps, and it searches for the fewest, from a cell beside the stations its
    item is used with (a furnace placed after a step away from the table would stand
    two cells from it, and no cell would have both around it). `act` returns None
    when the guard fails: the skill cannot run here, and the planner must supply
    what is missing.
    """

    MOVES = {(-1, 0): "move_left", (1, 0): "move_right", (0, -1): "move_up", (0, 1): "move_down"}

    def __init__(self, spec: SkillSpec, rules: CrafterRules | None = None,
                 view: int | tuple[int, int] | None = None,
                 remembered_reach: int | tuple[int, int] | None = None):
        if spec.learned:
            raise ValueError(f"{spec.name} is a learned skill, not a guarded action")
        self.spec = spec
        self.rules = rules or crafter_rules()
        self.materials = (None, *self.rules.materials)
        settings = load_settings()
        self.view = _pair(settings["view"] if view is None else view)
        self.remembered_reach = _pair(settings["remembered_reach"][spec.kind]
                                      if remembered_reach is None else remembered_reach)

    def _reach(self, info: Mapping) -> tuple[int, int]:
        return self.remembered_reach if "seen" in info else self.view

    def guard(self, info: Mapping) -> bool:
        if not self.spec.holds_start(info["inventory"]):
            return False
        if self.spec.kind == "crafting":
            return self._to_stations(info) is not None
        return True

    def act(self, info: Mapping) -> str | None:
        """The next action, or None when the skill cannot run."""
        if not self.spec.holds_start(info["inventory"]):
            return None
        if self.spec.kind == "crafting":
            move = self._to_stations(info)
            return None if move is None else self.spec.actions[0] if move == "here" else move
        return self._to_place(info)

    def _to_place(self, info: Mapping) -> str | None:
        """The place action when the player faces a cell it may place on, else the first
        move of a shortest walk to such a facing; "noop" when there is none in reach.
        With `info["place_at"]` (cells), only those cells are placed on, the player's own
        cell among them once it steps off (it stands on walkable ground), and None when
        none can be faced.

        A move towards a walkable cell steps onto it, towards any other cell only turns
        the player, so the search runs over (cell, facing). For a station that recipes use
        together with others (a furnace: the iron pickaxe needs the table too) the player
        must also stand next to those in view: the new station then lands beside them, with
        a cell (the player's) that has them all around it. Where no such facing is in
        reach, any facing that may be placed on will do."""
        placed = self.spec.name[len("place_"):]
        where = self.rules.place[placed].where
        if info.get("place_at") is not None:
            return self._search_facing(info, where, set(), cells=set(info["place_at"]))
        if self.rules.place[placed].type == "object":
            # An object (Crafter's plant) is eaten by the creatures that come beside it:
            # it goes where the fewest sides are ground they walk on (fewer walls to build).
            return self._to_sheltered_cell(info, where) or "noop"
        companions = {s for rule in self.rules.make.values() if placed in rule.nearby
                      for s in rule.nearby} - {placed}
        x0, y0 = info["player_pos"]
        reach = self._reach(info)
        beside = {m for dx in range(-reach[0] - 1, reach[0] + 2)
                  for dy in range(-reach[1] - 1, reach[1] + 2)
                  if (m := self._material(info, x0 + dx, y0 + dy)) in companions}
        return self._search_facing(info, where, beside) or \
            self._search_facing(info, where, set()) or self._mine_faced(info) or "noop"

    def _mine_faced(self, info: Mapping) -> str | None:
        """`do` when the player faces what it may mine into walkable ground (a way out of a
        pocket where a station would shut it in, `_shuts_in`), else None."""
        x, y = (int(v) + int(d) for v, d in zip(info["player_pos"], info["facing"]))
        return "do" if self._material(info, x, y) in self._ways_out(info) else None

    def _ways_out(self, info: Mapping) -> set[str]:
        """The materials the tools held mine into walkable ground (stone with a pickaxe)."""
        walkable = self.rules.walkable
        return set(self.rules.minable(info["inventory"], walkable)) - set(walkable)

    def _to_sheltered_cell(self, info: Mapping, where) -> str | None:
        """The first step towards placing on a cell of `where` in reach with the fewest
        sides a creature could step onto (walkable ground, or a creature standing there),
        the nearest of those; None when none can be faced."""
        x0, y0 = (int(v) for v in info["player_pos"])
        reach = self._reach(info)
        walkable = self.rules.walkable
        by_sides: dict[int, set] = {}
        for x in range(x0 - reach[0], x0 + reach[0] + 1):
            for y in range(y0 - reach[1], y0 + reach[1] + 1):
                if self._material(info, x, y) not in where or self._creature(info, x, y):
                    continue
                sides = sum(self._material(info, x + dx, y + dy) in walkable
                            or self._creature(info, x + dx, y + dy) for dx, dy in self.MOVES)
                by_sides.setdefault(sides, set()).add((x, y))
        cells: set = set()
        for sides in sorted(by_sides):
            cells |= by_sides[sides]
            move = self._search_facing(info, where, set(), cells=cells)
            if move is not None:
                return move
        return None

    def _search_facing(self, info: Mapping, where, beside: set,
                       cells: set | None = None) -> str | None:
        x0, y0 = (int(v) for v in info["player_pos"])
        walkable, reach = self.rules.walkable, self._reach(info)
        # What the player may mine into a cell it may place on (stone leaves path): in a
        # tunnel the one cell beside the table may face only stone.
        minable = set(self.rules.minable(info["inventory"], where)) - set(where)
        if cells is not None:
            minable = set()
        escape = self._ways_out(info)

        def ground(x, y):
            # The map shows the player, not what it stands on: walkable ground (path will
            # do for what may be placed there) when only some cells are placed on.
            if cells is not None and (x, y) == (x0, y0):
                return "path"
            return self._material(info, x, y)

        def done(x, y, facing) -> bool:
            tx, ty = x + facing[0], y + facing[1]
            if cells is not None:
                return (tx, ty) in cells and (tx, ty) != (x, y) and ground(tx, ty) in where \
                    and ((tx, ty) == (x0, y0) or not self._creature(info, tx, ty))
            material = self._material(info, tx, ty)
            if (material not in where and material not in minable) or self._creature(info, tx, ty):
                return False
            around = {self._material(info, x + dx, y + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
            return beside <= around and not self._shuts_in(info, (x, y), (tx, ty), escape)

        start = (x0, y0, tuple(info["facing"]))
        first = {start: self.spec.actions[0]}
        frontier = [start]
        while frontier:
            nxt = []
            for x, y, facing in frontier:
                if done(x, y, facing):
                    if (x, y, facing) == start and self._material(
                            info, x + facing[0], y + facing[1]) in minable:
                        return "do"          # mine it first; the place action comes next
                    return first[(x, y, facing)]
                for (dx, dy), move in self.MOVES.items():
                    cx, cy = x + dx, y + dy
                    if abs(cx - x0) > reach[0] or abs(cy - y0) > reach[1]:
                        continue
                    walk = ground(cx, cy) in walkable and (
                        (cx, cy) == (x0, y0) and cells is not None or not self._creature(info, cx, cy))
                    state = (cx, cy, (dx, dy)) if walk else (x, y, (dx, dy))
                    if state not in first:
                        first[state] = move if (x, y, facing) == start else first[(x, y, facing)]
                        nxt.append(state)
            frontier = nxt
        return None

    def _shuts_in(self, info: Mapping, cell: tuple[int, int], target: tuple[int, int],
                  escape: set[str], enough: int = 10) -> bool:
        """Whether a station placed on `target` by a player on `cell` would leave it fewer
        than `enough` cells to walk to and nothing of `escape` (`_ways_out`) to mine its way
        out through (a station is never mined): seed 2e9+17 mined its way out of a night's
        shelter by the water and put its table on the cell it had opened, walled in by
        water for good."""
        x0, y0 = (int(v) for v in info["player_pos"])
        walkable = self.rules.walkable
        seen, frontier = {cell}, [cell]
        while frontier and len(seen) < enough:
            x, y = frontier.pop()
            for dx, dy in self.MOVES:
                side = (x + dx, y + dy)
                if side in seen or side == target:
                    continue
                material = self._material(info, *side)
                if material in escape:
                    return False
                if side == (x0, y0) or material in walkable or self._creature(info, *side):
                    seen.add(side)
                    frontier.append(side)
        return len(seen) < enough

    def _to_stations(self, info: Mapping) -> str | None:
        """"here" when every station of the recipe is around the player, else the first
        move of a shortest walk (through walkable cells within `reach`, and creatures, which
        move on: "noop" waits for one in the way) to a cell where they all are; None when no
        such cell can be walked to."""
        x0, y0 = info["player_pos"]
        walkable, reach = self.rules.walkable, self._reach(info)
        frontier, first = [(x0, y0)], {(x0, y0): "here"}
        while frontier:
            nxt = []
            for x, y in frontier:
                around = {self._material(info, x + dx, y + dy)
                          for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
                if self.rules.crafts_at(x, y) and all(s in around for s in self.spec.stations):
                    return first[(x, y)]
                for (dx, dy), move in self.MOVES.items():
                    cell = (x + dx, y + dy)
                    if cell in first or abs(cell[0] - x0) > reach[0] \
                            or abs(cell[1] - y0) > reach[1]:
                        continue
                    if self._material(info, *cell) in walkable or self._creature(info, *cell):
                        # A creature moves on: wait for it rather than walk into it.
                        here = "noop" if self._creature(info, *cell) else move
                        first[cell] = here if (x, y) == (x0, y0) else first[(x, y)]
                        nxt.append(cell)
            frontier = nxt
        return None

    def _material(self, info, x, y):
        semantic = info.get("seen", info["semantic"])
        if not (0 <= x < semantic.shape[0] and 0 <= y < semantic.shape[1]):
            return None
        value = int(semantic[x, y])
        return self.materials[value] if 0 <= value < len(self.materials) else None

    def _creature(self, info, x, y) -> bool:
        semantic = info.get("seen", info["semantic"])
        return (0 <= x < semantic.shape[0] and 0 <= y < semantic.shape[1]
                and int(semantic[x, y]) >= len(self.materials))


class RememberedWalk:
    """A finding skill's way to a target the player has seen this episode (and a
    manipulation skill's, `approach`, to beside its target).

    Given the agent's memory of the cells it has seen (`info["seen"]`, kept by
    `remember_view`), `act` gives the first action of a shortest way, through remembered
    cells within `remembered_reach["finding"]` of the player, to a cell within the skill's
    `nearby` of a remembered target: the learned policy explores for a target never seen,
    and this walks back to one seen before (the water passed on the way to the trees, the
    iron glimpsed while digging for coal). It reads only what the frames showed. A skill
    whose actions hold `do` mines its way through what the tools held may mine (stone, for
    a search in the mountains), a mined cell costing two steps: the turn or `do`, then the
    move. A creature in the way of the first step is waited for (`noop`), but a zombie or
    skeleton is hit by a skill that may `do` (turned to first), and gone round by one that
    may not once it has waited `wait_for` steps in a row; out of view a creature counts as
    open ground (it moves on). None when no remembered target can be reached.
    """

    MOVES = GuardedSkill.MOVES

    def __init__(self, spec: SkillSpec, semantic_ids: Mapping[str, int],
                 rules: CrafterRules | None = None, reach: int | tuple[int, int] | None = None,
                 gain: float | None = None, settings: Mapping | None = None,
                 digs: bool | None = None):
        # settings: skills.yaml as `load_settings` reads it, when the caller has it already.
        # digs: whether the walk mines (None: when the skill's actions hold `do`).
        if spec.kind not in ("finding", "manipulation") or spec.target is None:
            raise ValueError(f"{spec.name} is not a finding or manipulation skill with a target")
        self.rules = rules or crafter_rules()
        self.spec, self.ids = spec, semantic_ids
        self.target = semantic_ids[spec.target]
        self.walkable = {semantic_ids[m] for m in self.rules.walkable if m in semantic_ids}
        self.creatures = {semantic_ids[m] for m in MOBILE if m in semantic_ids}
        self.hostile = {semantic_ids[m] for m in HOSTILE if m in semantic_ids}
        self.digs = "do" in spec.actions if digs is None else digs
        settings = load_settings() if settings is None else settings
        self.reach = _pair(settings["remembered_reach"]["finding"] if reach is None else reach)
        # explore: how much a frontier cell's view of unseen cells is worth, in steps per
        # cell (`explore.gain`: one number, or one per skill), the view being the player's.
        self.view = _pair(settings["view"])
        if gain is None:
            gain = settings["explore"].get("gain") or 0.0
            gain = gain.get(spec.name, 0.0) if isinstance(gain, Mapping) else gain
        self.gain = float(gain)
        # In the dark a walk keeps off the grass where it can (skills.yaml's `dark_grass`).
        dark = settings.get("dark_grass") or {}
        self.dark_below = float(dark.get("below", 0.0))
        self.dark_cost = int(dark.get("cost", 0))
        self.grass = semantic_ids.get(dark.get("material", "grass"))
        # A walk under way reaches `walk_on` cells further (skills.yaml): the step of its
        # last `act` that walked.
        self.walk_on = int(settings.get("walk_on") or 0)
        self.walked_at: int | None = None
        # A creature target that leaves the memory (its cell came into view without it) is
        # walked after to where it was remembered last, for `follow_for` steps (skills.yaml):
        # its cells on the map and the step.
        self.follow_for = int(settings.get("follow_for") or 0) if spec.target in MOBILE else 0
        self.last_seen: tuple[np.ndarray, int] | None = None
        # A walk that may not `do` waits for a creature in its way, but after `wait_for`
        # steps of waiting in a row (skills.yaml) it goes round a skeleton or zombie there:
        # (steps waited, the step of the last wait).
        self.wait_for = settings.get("wait_for")
        self.waited: tuple[int, int | None] = (0, None)

    def act(self, info: Mapping) -> str | None:
        """The first step towards a remembered target; None when none can be reached."""
        step = info.get("step")
        walking = (step is not None and self.walked_at is not None
                   and 0 < int(step) - self.walked_at <= 3)
        window, start = self._window(info, self.walk_on if walking else 0)
        targets = window == self.target
        corner = np.subtract([int(v) for v in info["player_pos"]], start)  # window's (0, 0)
        following = not targets.any()
        if following:
            goal = self._last_seen(step, window, corner)
            if goal is None:
                return None
        else:
            # Cells within `nearby` of a remembered target: where the skill's test holds.
            goal = within(targets, self.spec.nearby)
            if self.follow_for and step is not None:
                self.last_seen = (np.argwhere(targets) + corner, int(step))
        _, first, reached = self._search(info, window, start, stop=goal, unseen=False)
        if reached is None or (following and reached == start):
            if following:        # there, and no creature in sight; or no way there
                self.last_seen = None
            return None
        self.walked_at = None if step is None else int(step)
        return self._count_wait(first[reached] or "noop", step)

    def _count_wait(self, action: str, step: int | None) -> str:
        """`action`, the steps waited in a row counted (`wait_for`)."""
        if action != "noop":
            self.waited = (0, None)
        elif step is not None:
            count, last = self.waited
            self.waited = (count + 1 if last is not None and int(step) == last + 1 else 1,
                           int(step))
        return action

    def _last_seen(self, step: int | None, window: np.ndarray,
                   corner: np.ndarray) -> np.ndarray | None:
        """Where a creature target that has left the memory was remembered last (the cells
        beside it), in `window`'s cells (its cell (0, 0) at `corner` on the map), while
        that was within `follow_for` steps of `step`; else None. A cow the walk was
        nearing steps out of the view's edge as its cell comes into view: it is most
        likely one or two cells beyond, where the frontier search, which seeks unseen
        cells, may not look (seed 1e9+76 turned back from a cow 4 cells off and searched
        the dark for 70 steps)."""
        if self.last_seen is None or step is None or not 0 < int(step) - self.last_seen[1] \
                <= self.follow_for:
            return None
        cells = self.last_seen[0] - corner
        inside = ((cells >= 0) & (cells < window.shape)).all(axis=1)
        if not inside.any():
            return None
        mask = np.zeros(window.shape, bool)
        mask[tuple(cells[inside].T)] = True
        return within(mask, 1)

    def approach(self, info: Mapping) -> str | None:
        """The first step towards a cell beside (left, right, above or below) a remembered
        target, mining through stone on the way when the skill may, then the turn to face
        it (a move towards it: the target is not walked into), where a manipulation skill
        only has to `do`. None when the player faces one already, or none can be reached."""
        if self.target in self.walkable:     # grass, for a sapling: stood on already
            return None
        window, start = self._window(info)
        targets = window == self.target
        beside = np.zeros_like(targets)
        beside[1:, :] |= targets[:-1, :]
        beside[:-1, :] |= targets[1:, :]
        beside[:, 1:] |= targets[:, :-1]
        beside[:, :-1] |= targets[:, 1:]
        if not beside.any():
            return None
        if beside[start]:
            fx, fy = (int(v) for v in info["facing"])
            (w, h), (x, y) = window.shape, start
            around = {(dx, dy): move for (dx, dy), move in self.MOVES.items()
                      if 0 <= x + dx < w and 0 <= y + dy < h and targets[x + dx, y + dy]}
            return None if (fx, fy) in around else min(around.items())[1]
        _, first, reached = self._search(info, window, start, stop=beside, unseen=False)
        return None if reached is None else first[reached]

    def explore(self, info: Mapping, prefer: str | None = None) -> str | None:
        """The first step towards the unseen cell that is cheapest to reach (a frontier of
        the memory), less a bonus for remembered `prefer` cells around it (stone: iron,
        coal and diamonds lie in the mountains) and `gain` steps for each unseen cell a
        player there would see (a frontier cell that opens a whole new view beats one in
        a corner of the memory that shows two more cells). None when no unseen cell is in
        reach."""
        window, start = self._window(info)
        unseen = window < 0
        if not unseen.any():
            return None
        best, first, _ = self._search(info, window, start, stop=None, unseen=True)
        frontier = [cell for cell in best if unseen[cell]]
        if not frontier:
            return None
        bonus = np.zeros(window.shape)
        if prefer is not None and prefer in self.ids:
            near = box_count(window == self.ids[prefer], 3)
            bonus = 0.5 * np.minimum(near, 12)
        if self.gain:
            bonus = bonus + self.gain * box_count(unseen, self.view)
        goal = min(frontier, key=lambda cell: (best[cell] - bonus[cell], cell))
        return self._count_wait(first[goal] or "noop", info.get("step"))

    def _window(self, info: Mapping, more: int = 0) -> tuple[np.ndarray, tuple[int, int]]:
        """The remembered cells within `reach` (and `more`) of the player, and the player's
        cell in them."""
        seen = info["seen"]
        x0, y0 = (int(v) for v in info["player_pos"])
        rx, ry = (r + more for r in self.reach)
        x1, x2 = max(0, x0 - rx), min(seen.shape[0], x0 + rx + 1)
        y1, y2 = max(0, y0 - ry), min(seen.shape[1], y0 + ry + 1)
        return seen[x1:x2, y1:y2], (x0 - x1, y0 - y1)

    def _search(self, info: Mapping, window: np.ndarray, start, stop: np.ndarray | None,
                unseen: bool):
        """Shortest ways from `start` through the remembered `window` (Dijkstra): the cost
        of each cell reached, the first action of its way, and the first cell of `stop`
        reached, where the search ends (None without `stop` or when none is reached). With
        `unseen`, unseen cells (-1) are reached but never crossed (the player sees the cells
        around it: it never steps into one)."""
        # What may be mined on the way with the tools held: what leaves walkable ground.
        mine = {self.ids[m] for m in self.rules.minable(info["inventory"], self.rules.walkable)
                if m in self.ids} if self.digs else set()
        facing = tuple(int(v) for v in info["facing"])
        # A grass cell crossed in the dark costs `dark_cost` steps more: zombies crowd it
        # (`self.grass`: the material they spawn on, skills.yaml's dark_grass.material).
        dark = (self.dark_cost if self.grass is not None
                and float(info.get("daylight", 1.0)) < self.dark_below else 0)
        best, first = {start: 0}, {start: None}
        queue = [(0, start)]
        while queue:
            cost, cell = heapq.heappop(queue)
            if cost > best[cell]:
                continue
            if stop is not None and stop[cell]:
                return best, first, cell
            if window[cell] < 0 and cell != start:
                continue
            for (dx, dy), move in self.MOVES.items():
                nxt = (cell[0] + dx, cell[1] + dy)
                if not (0 <= nxt[0] < window.shape[0] and 0 <= nxt[1] < window.shape[1]):
                    continue
                value = int(window[nxt])
                if value in self.walkable or value in self.creatures or (unseen and value < 0):
                    step, action = (1 + dark if value == self.grass else 1), move
                    if cell == start and value in self.creatures:
                        # Wait for it to move on; but a skeleton keeps its place in the
                        # tunnel, shooting, and a cow in a dead end has nowhere to go but
                        # the player's cell: a walk that may `do` hits them (turned first).
                        action = "noop"
                        if (value in self.hostile and not self.digs
                                and self.wait_for is not None
                                and self.waited[0] >= int(self.wait_for)):
                            continue     # a skeleton keeps its place: go round it
                        if self.digs and (value in self.hostile
                                          or self._wedged(window, nxt, start)):
                            action = "do" if (dx, dy) == facing else move
                elif value in mine:
                    step, action = 2, "do" if (dx, dy) == facing else move
                else:
                    continue
                if cost + step < best.get(nxt, 10**9):
                    best[nxt] = cost + step
                    first[nxt] = action if cell == start else first[cell]
                    heapq.heappush(queue, (cost + step, nxt))
        return best, first, None

    def _wedged(self, window: np.ndarray, cell: tuple[int, int], player: tuple[int, int]) -> bool:
        """Whether the creature on `cell` has no side to move to but the player's (a cow in
        a tunnel's dead end waited there for the player to leave, and the player for it,
        until the episode ended: seeds 2e9+89, 3e9+24)."""
        for dx, dy in self.MOVES:
            side = (cell[0] + dx, cell[1] + dy)
            if side != player and 0 <= side[0] < window.shape[0] and 0 <= side[1] < window.shape[1] \
                    and int(window[side]) in self.walkable:
                return False
        return True


def box_count(mask: np.ndarray, radius: int | tuple[int, int]) -> np.ndarray:
    """How many True cells of `mask` lie within `radius` (Chebyshev; or a pair, columns
    and rows, for a view's box) of each cell: the (2rx+1) x (2ry+1) box around it, read
    from an integral image."""
    w, h = mask.shape
    rx, ry = _pair(radius)
    padded = np.zeros((w + 2 * rx, h + 2 * ry), np.int64)
    padded[rx:rx + w, ry:ry + h] = mask
    integral = np.pad(padded.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    kx, ky = 2 * rx + 1, 2 * ry + 1
    return (integral[kx:kx + w, ky:ky + h] - integral[0:w, ky:ky + h]
            - integral[kx:kx + w, 0:h] + integral[0:w, 0:h])


def memory_step(walk: RememberedWalk, remembered: Mapping, ran: int,
                explore_after: int | None, prefer: str | None) -> tuple[str | None, str]:
    """A finding skill's step from the memory, as the agent and `skills evaluate
    --as-agent` take it: the walk to a target remembered (`walk.act`), else, once the skill
    has run `explore_after` steps (None: never), the walk to the frontier (`walk.explore`).
    Returns (the action, "walk" or "explore"), or (None, "policy") when neither has one:
    the learned policy's step then."""
    action = walk.act(remembered)
    if action is not None:
        return action, "walk"
    if explore_after is not None and ran >= explore_after:
        action = walk.explore(remembered, prefer=prefer)
        if action is not None:
            return action, "explore"
    return None, "policy"


def stepped_onto(info: Mapping, action: str) -> int | None:
    """What `info`'s map shows on the cell that the move named `action` leads to from the
    player's; None for an action that is no move, or a cell off the map."""
    step = next((d for d, name in GuardedSkill.MOVES.items() if name == action), None)
    if step is None:
        return None
    grid = info["semantic"]
    x, y = (int(v) + d for v, d in zip(info["player_pos"], step))
    return int(grid[x, y]) if 0 <= x < grid.shape[0] and 0 <= y < grid.shape[1] else None


def within(mask: np.ndarray, distance: int) -> np.ndarray:
    """Cells within `distance` (Chebyshev) of a True cell of `mask`."""
    return box_count(mask, distance) > 0


def _pair(reach: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    return (reach, reach) if isinstance(reach, int) else (int(reach[0]), int(reach[1]))


def remember_view(seen: np.ndarray | None, info: Mapping,
                  view: int | tuple[int, int] | list[int]) -> np.ndarray:
    """The episode's map as the player has seen it: `seen` (None at the episode's start,
    when nothing is known: -1 everywhere) with the cells in `view` of the player now
    (skills.yaml's `view`) copied from `info["semantic"]`. Out of view a cell keeps
    what it showed last, creatures included (they may have moved on)."""
    semantic = info["semantic"]
    if seen is None:
        seen = np.full(semantic.shape, -1, dtype=np.int16)
    vx, vy = _pair(view)
    x, y = (int(v) for v in info["player_pos"])
    cols = slice(max(0, x - vx), min(semantic.shape[0], x + vx + 1))
    rows = slice(max(0, y - vy), min(semantic.shape[1], y + vy + 1))
    seen[cols, rows] = semantic[cols, rows]
    return seen
