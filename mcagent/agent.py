"""The hierarchical agent: the planner picks the next skill, a skill policy runs it, survival interrupts.

After every skill, successful or not, the agent re-plans from the inventory it
has and the `*_nearby` items it believes in (Plan4MC's semantics,
`planner.semantics.nearby_after`; a failed skill also drops the nearby items
it needed, since evidently they were not there; a table or furnace that the memory
shows within the placing reach is believed nearby, `Agent._believe_stations`, so that
the crafting skill walks back to it instead of the plan placing another). When the plan's next skill
is a search, a collecting skill the plan runs later whose target is at hand
runs first (`Agent._gather_ahead`). The agent remembers the cells it has seen
this episode (`skills.library.remember_view`): crafting and placing walk back
through them to a table the skill before wandered away from, and a finding skill
walks to a target seen before (`skills.library.RememberedWalk`) and, for a target
never seen, to the nearest unseen cell of the memory (`RememberedWalk.explore`, after
`skills.yaml`'s `explore.after` steps of the learned policy's search; not for a
privileged runner, which sees the whole map). A skill runs until its
success test (`SkillSpec.succeeded`) or its step budget; a learned manipulation
skill also ends once its target is no longer within its `nearby` cells (it walked
off, the cow or zombie left; when the memory knows no way to that target, as across
water, its cells are hidden from the skills for a while, `OUT_OF_REACH_FOR` steps, so
that the search looks for another, and when it does, the skill's next run walks beside
one first), a learned policy whose steps change nothing gets
another move after `skills.yaml`'s `stuck_after` of them (off by default), one that
stands idle on the map's edge fails after its `stall_after` (the shelter), a learned `do`
for a target that is walked on (grass, for a sapling) that faces anything else becomes a
step towards it, a learned manipulation skill that faces its target does `do`
(`skills.yaml`'s `do_when_facing`), and no learned policy steps into lava. When health, food,
drink or energy run low the current skill is interrupted and the library's
survival skills run (`find_water`/`collect_drink`, `find_cow`/`eat_cow`,
`wake_up`, walled in first where the shelter can be tried). As the light falls it gathers what the shelter starts with (its
stone, `Survival.prepare`); at dusk it builds the shelter (`build_shelter`, when
the library and the policies have it), sleeps or waits in it until the light is
back, drinking from water that walls it (`Survival.sip_from`), then opens it; a dusk
top-up whose source the memory does not show nearby may wait for the morning
(`Survival.dusk_reach`). A task may set its own survival rules (its file's `survival:`,
`Task.survival`). A plant it placed (skills.yaml's `plants`) is walled in with stone by
day, its growth counted (Crafter grows a plant only near the player), and it is eaten
once ripe, or sooner when the food runs low (before a search for a cow); the plant's
walls are not mined by the other skills. A finding skill that may not mine digs its
way out of a pocket its walk knows no way out of, and a walk that may mine hits a
zombie or skeleton in its way. Every skill's step first steps out of the line of an
arrow flying at the player (`Survival.dodge`), and while no sword is held the first
table the plan reaches makes one, its wood held back from the plan (`Survival.arms`).
The agent gives up only when the planner says the target is out of reach, or the
episode ends.

A task whose target is `achievements: all` (Crafter's score suite) has no one
goal: the agent pursues the not-yet-unlocked achievement with the cheapest
plan (among those whose `Task.after` achievements are unlocked; a search for a target
the memory shows costs the walk there, `Agent._cost_from_here`), puts one aside after `hold_after` failed skills in a row while pursuing
it (or when the planner finds it out of reach), comes back to the ones put
aside when nothing else is left, and plays on (survival, then `noop`) until
the episode ends.

Every decision is an event (`skill_started`, `skill_succeeded`,
`skill_failed`, `replanned`, `interrupted`, and `episode_started`/
`episode_ended`) written to an episode log, one JSON object per line, so an
episode can be replayed and explained.

Policies are passed in: a mapping from skill name to either an object with
`act(obs, info) -> action` (`mcagent.skills.runner.SkillRunner`, the oracle's
runners) or a callable `policy(obs) -> action`; an action is a name or an
index, and None means the skill cannot run here.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
from collections.abc import Callable, Container, Mapping
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from mcagent.errors import UserError
from mcagent.graph.schema import NEARBY_SUFFIX
from mcagent.planner import Planner, PlanNotFoundError, UnreachableError
from mcagent.planner.semantics import is_nearby, nearby_after
from mcagent.skills.library import (MOBILE, GuardedSkill, RememberedWalk, SkillLibrary,
                                    load_settings, memory_step, remember_view, stepped_onto,
                                    target_distance)
from mcagent.worlds.rules import VITALS
from mcagent.worlds.tasks import Task

log = logging.getLogger(__name__)

_MOVES = {move: step for step, move in GuardedSkill.MOVES.items()}   # name -> (dx, dy)
VITAL_MAX = 9      # Crafter's health, food, drink and energy run from 0 to 9


def _at(grid: np.ndarray, cell: tuple[int, int]) -> int | None:
    """What `grid` shows at `cell`, or None off the map."""
    x, y = (int(v) for v in cell)
    return int(grid[x, y]) if 0 <= x < grid.shape[0] and 0 <= y < grid.shape[1] else None


def _in_view(grid: np.ndarray, centre: tuple[int, int], half: tuple[int, int],
             value: int) -> list[tuple[int, int]]:
    """The cells of `grid` that show `value` within `half` (columns, rows) of `centre`."""
    (x, y), (hx, hy) = (int(v) for v in centre), half
    x0, y0 = max(0, x - hx), max(0, y - hy)
    return [(int(cx) + x0, int(cy) + y0)
            for cx, cy in np.argwhere(grid[x0:x + hx + 1, y0:y + hy + 1] == value)]


def _gathered(before: tuple, after: tuple) -> bool:
    """Whether the player's holdings changed between two `Agent._pose` inventories by its
    own doing: an item gained or spent, or a vital other than health restored."""
    before, after = dict(before), dict(after)
    return any(after[k] != before[k] if k not in VITALS else
               (k != "health" and after[k] > before[k]) for k in after)


EVENT_KINDS = ("episode_started", "replanned", "skill_started", "skill_succeeded", "skill_failed",
               "interrupted", "dodged", "dig_in", "episode_ended")
LOG_FORMAT = "mcagent-episode-log/1"
OUT_OF_REACH_FOR = 150   # steps a target with no way to it stays hidden from the skills
STATION_DISTRUST_FOR = 50   # steps a station remembered beside a failed craft is not believed


@dataclasses.dataclass(frozen=True)
class Survival:
    """When to interrupt for a vital (at or below `low`), and until when to serve it (`resume`)."""

    low: Mapping[str, int] = dataclasses.field(
        default_factory=lambda: {"health": 3, "food": 2, "drink": 2, "energy": 1})
    # At dusk, before a shelter, the vitals at or below these levels are topped up to
    # `resume` first (a night is about 140 steps, in which drink falls by about 7 awake and
    # half that asleep, food by 5 and 3): without it the agent came out of the night with
    # food and drink at 0 and died in the morning. Measured with learned skills
    # (mcagent/agent.md, "Skills that stall"): drink 5 and food 4, 125 / 108 / 129
    # successes of 200 against 111 / 102 / 128 at 2 and 2; 4 and 3, or 6 and 5, less.
    # (Before the learned skills' stalls were mended it measured no better: the day's
    # light went on the stalls.)
    dusk_low: Mapping[str, int] = dataclasses.field(
        default_factory=lambda: {"health": 3, "food": 4, "drink": 5, "energy": 1})
    # The order the vitals are topped up in at dusk. The Crafter score's task file puts
    # the drink last (the agent then stands at the water when it walls itself in, and
    # the shelter often has the water for a wall, drunk from all night: `sip_from`); on
    # `collect_diamond` that order did worse (34 / 22 / 26 -> 28 / 21 / 22 of 100 from
    # seeds 1e9 / 2e9 / 3e9), so the default serves the drink first.
    dusk_order: tuple[str, ...] = ("drink", "food", "energy")
    # The dusk top-up of a vital whose source (water, a cow) the memory does not show
    # within this many cells waits for the morning, unless the vital is at `low` (None:
    # every top-up runs). A long search at dusk meets the night's zombies before the
    # shelter; the Crafter score's task sets 6 (mcagent/agent.md, "A top-up from far waits
    # for the morning").
    dusk_reach: int | None = None
    # What the agent drinks from, sheltered, when a cell beside it shows it (None: it
    # waits the night out thirsty). Crafter's drink falls by about 7 in a waking night.
    sip_from: str | None = "water"
    resume: Mapping[str, int] = dataclasses.field(
        default_factory=lambda: {"food": 6, "drink": 6, "energy": 1})
    # The skills that restore each vital: an optional finding skill, then the one that restores.
    skills: Mapping[str, tuple[str | None, str]] = dataclasses.field(
        default_factory=lambda: {"drink": ("find_water", "collect_drink"),
                                 "food": ("find_cow", "eat_cow"),
                                 "energy": (None, "wake_up")})
    # Creatures to fight, the skill that does, and how close (Chebyshev cells) one comes
    # before the fight. A creature whose skill has no policy is not fought.
    threats: Mapping[str, str] = dataclasses.field(
        default_factory=lambda: {"zombie": "defeat_zombie"})
    threat_range: Mapping[str, int] = dataclasses.field(
        default_factory=lambda: {"zombie": 1})
    # A weapon for the night's fights: when none of `arms` is held, the first is made at
    # the first table the plan brings the agent to, its ingredients held back from the
    # plan until then (the planner plans as if they were spent, so the sword's wood is cut
    # at the first trees with the rest). A zombie has 5 health: bare hands take 5 hits,
    # during which it strikes twice (2 damage each); a wooden sword takes 3, a stone one
    # 2. Learned collect_diamond, 200 episodes from seeds 1e9 / 2e9 / 3e9: 69 / 66 / 66
    # successes without, 74 / 80 / 72 with (health lost a fight 2.05 -> 1.2);
    # make_iron_pickaxe 144 / 155 / 150 -> 144 / 151 / 154. A stone sword first: 79 and 135
    # from 1e9 (its stone comes after the wooden pickaxe: the iron 14 steps later). Empty:
    # none made.
    arms: tuple[str, ...] = ("wood_sword", "stone_sword", "iron_sword")
    # Step out of the line of an arrow flying at the player from within this many cells
    # (and the view; None: never). Skeletons shoot along a row or a column, 2 damage an
    # arrow; the arrows killed 27 of the 62 `collect_diamond` episodes lost in the tunnels.
    dodge_within: int | None = 5
    # The night: shelter once the light falls below `dusk` (or is below `dark`), stay in
    # until it has risen above `dawn`. Zombies crowd the grass in the dark and do 7
    # damage to a sleeper (2 otherwise). None: no shelter.
    shelter: str | None = "build_shelter"
    # What the shelter skill starts with (its stone) is gathered once the light falls
    # below `prepare`, when the tools to collect it are held (None: only what is held at
    # dusk is built with); not while the plan of a task with one goal expects to reach it
    # within `finish_within` steps, before dusk. Without it 60 of 94 Crafter-score episodes
    # alive at dusk held a pickaxe and under 3 stone and never walled themselves in (score
    # 31.8 / 30.1 from seeds 1e9 / 3e9; 35.8 / 32.9 with it; mcagent/agent.md, "Stone for
    # the night").
    prepare: float | None = 0.85
    # At dusk, where the memory shows a site within this many steps, the agent digs itself
    # into the stone (`Agent._dig_in`: seven steps and one stone) instead of building a
    # shelter on the grass (None: it builds). Learned collect_diamond, 200 episodes from
    # seeds 1e9 / 2e9 / 3e9: 74 / 74 / 76 successes without, 79 / 77 / 86 with (within 3
    # steps 77 / 76 / 81, 10 steps 79 / 78 / 86; mcagent/agent.md, "Nights in the
    # stone"). Not beside the `sip_from` water: a shelter there is drunk from all night
    # (81 / 76 / 82); nor beside lava (80 / 76 / 83).
    dig_in: int | None = 6
    # A dusk top-up stopped by a zombie at hand runs once more after the fight (False: it
    # counts as served, `Agent.dusk_served`). Stopped for good, the food top-up left 25 of
    # 200 learned collect_diamond episodes from 1e9 with no food by dawn (15 of them dead
    # before step 400, against 6 of 75 with 3 or more); with the second try, 4. 200
    # episodes from seeds 1e9 / 2e9 / 3e9: collect_diamond 80 / 76 / 83 -> 82 / 80 / 84
    # (mcagent/agent.md, "A meal stopped by a zombie").
    dusk_retry: bool = True
    # At dawn a zombie within this many cells (Chebyshev) keeps the agent in its shelter
    # while the light is below 0.9 and its food and drink are 2 or more and its health 3
    # or more (None: it leaves at `dawn`). Crafter keeps int(3.5 - 3 x light) zombies in
    # a chunk of 50 grass cells or more, one until the light passes 0.83, and those of the
    # night wait at the walls. 200 learned episodes from seeds 1e9 / 2e9 / 3e9:
    # collect_diamond 82 / 81 / 84 -> 87 / 90 / 78, make_iron_pickaxe 149 / 160 / 163 ->
    # 152 / 164 / 165 (mcagent/agent.md, "Zombies at the door").
    dawn_wait: int | None = 4
    finish_within: int = 40
    dusk: float = 0.6
    dark: float = 0.3
    dawn: float = 0.7

    def with_overrides(self, overrides: Mapping[str, Any], where: str = "survival") -> "Survival":
        """These rules with some fields replaced (a task file's `survival:`); a mapping field
        (`dusk_low`, ...) is updated key by key, a list becomes a tuple. Unknown fields, or
        keys a mapping field does not have, are a UserError naming `where`."""
        fields = {f.name for f in dataclasses.fields(self)}
        changes: dict[str, Any] = {}
        for name, value in overrides.items():
            if name not in fields:
                raise UserError(f"{where}: unknown survival field {name!r}; "
                                f"valid: {', '.join(sorted(fields))}")
            current = getattr(self, name)
            if isinstance(current, Mapping):
                if not isinstance(value, Mapping) or set(value) - set(current):
                    raise UserError(f"{where}: survival {name} takes a mapping of "
                                    f"{', '.join(current)}; got {value!r}")
                value = {**current, **value}
            elif isinstance(current, tuple):
                value = tuple(value)
                if name == "dusk_order" and set(value) - set(self.skills):
                    raise UserError(f"{where}: survival dusk_order names vitals among "
                                    f"{', '.join(self.skills)}; got {list(value)!r}")
            changes[name] = value
        return dataclasses.replace(self, **changes)

    def night(self, light: float, falling: bool) -> bool:
        """Whether it is time to be in a shelter (the light is read from `info`; the frame
        shows the same darkening): from dusk until the light is back above `dawn`."""
        return light < self.dark or (falling and light < self.dusk) or \
            (not falling and light < self.dawn and light < 0.5 * (self.dusk + self.dawn))

    def threat(self, info: Mapping, semantic_ids: Mapping[str, int],
               fought: Container[str] | None = None) -> str | None:
        """The creature to fight now, or None (read from the map around the player: the frame
        shows the same cells, but a learned agent would need a detector for it). `fought`:
        the creatures there is a skill for (default all)."""
        x, y = info["player_pos"]
        for creature in self.threats:
            if fought is not None and creature not in fought:
                continue
            r = self.threat_range.get(creature, 1)
            window = info["semantic"][max(0, x - r):x + r + 1, max(0, y - r):y + r + 1]
            if (window == semantic_ids[creature]).any():
                return creature
        return None

    def dodge(self, info: Mapping, semantic_ids: Mapping[str, int], walkable: Container[int],
              before: Mapping | None, view: tuple[int, int]) -> str | None:
        """The move that takes the player out of the line of an arrow flying at it, or None.
        An arrow flies straight on, one cell a step, over `walkable` ground, water and lava,
        and hits what it meets; where it flies is read from the map: it came from the cell
        behind it (an arrow there in the view of the step before, whose `info` is `before`;
        or the skeleton that shot it). The player moves before the arrow does, so one beside it still misses.
        With no side to step to, a stone is put in the arrow's way when the player faces
        it."""
        arrow = semantic_ids.get("arrow")
        if self.dodge_within is None or arrow is None:
            return None
        grid, (px, py) = info["semantic"], (int(v) for v in info["player_pos"])
        near = [(ax, ay) for ax, ay in _in_view(
            grid, (px, py), tuple(min(self.dodge_within, v) for v in view), arrow)
            if ax == px or ay == py]
        if not near:       # (every step asks: the previous view is read only for an arrow)
            return None
        over = set(walkable) | {semantic_ids[m] for m in ("water", "lava") if m in semantic_ids}
        seen = [] if before is None else _in_view(before["semantic"], before["player_pos"],
                                                  view, arrow)
        for ax, ay in near:
            dx, dy = int(np.sign(px - ax)), int(np.sign(py - ay))
            back = (ax - dx, ay - dy)
            if back not in seen and _at(grid, back) != semantic_ids.get("skeleton"):
                continue           # flying another way, or lying still
            way = range(1, abs(px - ax) + abs(py - ay))
            if any(_at(grid, (ax + k * dx, ay + k * dy)) not in over for k in way):
                continue           # it hits something else first
            for side in ((dy, dx), (-dy, -dx)):
                if _at(grid, (px + side[0], py + side[1])) in walkable:
                    return GuardedSkill.MOVES[side]
            # No side to step to (a tunnel): a stone put in its way, when the player
            # faces it, holds one, and the cell ahead is free; the arrow breaks on it.
            facing = tuple(int(v) for v in info.get("facing", (0, 0)))
            if (facing == (-dx, -dy) and info.get("inventory", {}).get("stone", 0) > 0
                    and abs(px - ax) + abs(py - ay) > 1
                    and _at(grid, (px - dx, py - dy)) in over):
                return "place_stone"
        return None

    def need(self, inventory: Mapping[str, int], sheltered: bool = False,
             dusk: bool = False, far: Container[str] = ()) -> tuple[str, str] | None:
        """(vital that ran low, need to serve) or None. Low health is served through the
        most depleted of the other vitals (health comes back when they are fine).
        `sheltered` for the night, nothing gets the agent out into the dark: a vital at
        0 costs a point of health every 15 to 30 steps, a zombie at night far more. At
        `dusk` (a shelter to come) the vitals are topped up from the `dusk_low` levels.
        The vitals in `far` are served only at `low`, for health too (at dusk: those
        whose source is far, and those topped up already this dusk)."""
        if sheltered:
            return None
        low = self.dusk_low if dusk else self.low
        for vital in self.dusk_order if dusk else ("drink", "food", "energy"):
            if inventory[vital] <= low[vital] and not (
                    vital in far and inventory[vital] > self.low[vital]):
                return vital, vital
        if inventory["health"] <= self.low["health"]:
            behind = [v for v in ("drink", "food", "energy") if inventory[v] < self.resume[v]
                      and not (v in far and inventory[v] > self.low[v])]
            if behind:
                return "health", min(behind, key=lambda v: inventory[v] - self.resume[v])
        return None


@dataclasses.dataclass(frozen=True)
class EpisodeResult:
    task: str
    seed: int | None
    success: bool
    steps: int
    end: str                 # "success", "death", "step limit", "unreachable: ..."
    skills_run: int
    skills_succeeded: int
    interrupts: int
    replans: int
    policies: str            # where the skill policies came from (e.g. the oracle, a checkpoint)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class EpisodeLog:
    """The events of one episode, kept in memory and written as JSONL when a stream is given."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream
        self.events: list[dict[str, Any]] = []

    def emit(self, kind: str, step: int, **data) -> dict:
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}; valid: {', '.join(EVENT_KINDS)}")
        event = {"event": kind, "step": step, **data}
        self.events.append(event)
        if self.stream is not None:
            self.stream.write(json.dumps(event, separators=(",", ":")) + "\n")
            self.stream.flush()
        log.debug("%s", event)
        return event

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["event"] == kind]


def read_episode_log(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def _held(inventory: Mapping[str, int]) -> dict[str, int]:
    return {k: int(v) for k, v in inventory.items() if v}


class _EpisodeEnded(Exception):
    pass


class Agent:
    """Planner + skill policies + survival, run in one world episode at a time.

    `on_step(frame, action, info, skill, plan)` is called after every world step
    with the frame the action was taken on (for videos and progress bars).
    `budgets` overrides skills' step budgets (tests use short ones).
    """

    def __init__(self, planner: Planner, library: SkillLibrary, policies: Mapping[str, Any], *,
                 survival: Survival | None = Survival(), budgets: Mapping[str, int] | None = None,
                 source: str = "policies", hold_after: int = 3, gather_ahead: bool = True,
                 remember: bool = True, walk_to_seen: bool = True,
                 on_step: Callable[..., None] | None = None):
        self.planner, self.library, self.policies = planner, library, policies
        self.base_survival, self.budgets = survival, dict(budgets or {})
        self.survival = survival             # with the task's overrides, set in run()
        self.source, self.on_step = source, on_step
        self.hold_after = hold_after
        self.gather_ahead = gather_ahead
        # skills.yaml, read once: the walks of every episode take it from here.
        self.settings = settings = load_settings()
        # The view copied each step into `self.seen`, the episode's map of the cells seen,
        # which the guarded skills walk through (None: no map; they see the view only).
        self.view = settings["view"] if remember else None
        # Finding skills walk to a target seen this episode (RememberedWalk) before their
        # learned policy explores, and a manipulation skill that dawdles is walked beside
        # its target (`approach_after`); needs the memory.
        self.walk_to_seen = walk_to_seen and remember
        self.walks: dict[str, RememberedWalk] = {}
        self.dig_walks: dict[str, RememberedWalk] = {}     # `_dig_out`'s, made when needed
        # A finding skill whose target was never seen explores the memory's frontier
        # (RememberedWalk.explore) once its learned policy has run `after` steps.
        explore = settings["explore"]
        self.explore_after: int | None = explore["after"]
        self.explore_prefer: dict[str, str] = dict(explore.get("prefer") or {})
        # A learned policy's steps in a row that changed nothing before the agent takes
        # another move for it (None: never; skills.yaml's `stuck_after`).
        self.stuck_after: int | None = settings.get("stuck_after")
        # A learned manipulation skill not done after this many steps is walked beside its
        # target through the memory (RememberedWalk.approach; None: never).
        self.approach_after: int | None = settings.get("approach_after")
        # ... and fails when its approach knows no way and its policy turns on the spot this
        # many steps (`no_way_after`; None: never).
        self.no_way_after: int | None = settings.get("no_way_after")
        # A learned skill whose policy stands idle on the map's edge (the player neither
        # moved nor its inventory changed) this many steps in a row fails, per skill
        # (`stall_after`; a skill not named: never).
        self.stall_after: dict[str, int] = dict(settings.get("stall_after") or {})
        # A learned manipulation skill facing its target does `do` (`do_when_facing`).
        self.do_when_facing: bool = bool(settings.get("do_when_facing"))
        # Plants the agent places: walled in, their updates counted, eaten ripe
        # (skills.yaml's `plants`; None: left to the plan).
        self.garden: Mapping | None = settings.get("plants")
        self.plants: dict[tuple[int, int], int] = {}     # set per episode in run()
        self.out_of_reach: dict[tuple[int, int], int] = {}     # likewise
        self.walk_next: set[str] = set()                       # likewise
        self.fought: set[str] = set()      # set per episode in run()
        # A crafting station (table, furnace) the memory shows within this many cells is
        # believed nearby when planning: the placing reach, so that a furnace goes down
        # beside the table believed (skills.yaml's `remembered_reach`).
        self.station_reach: int = int(settings["remembered_reach"]["placing"])
        self.stations: dict[str, str] = {}                      # set per episode in run()
        self.distrust: dict[str, int] = {}                      # likewise

    # -- one episode ---------------------------------------------------------------
    def run(self, env, task: Task, seed: int | None = None,
            log_to: EpisodeLog | None = None) -> EpisodeResult:
        self.env, self.task, self.log = env, task, log_to or EpisodeLog()
        # The task's own survival settings (its file's `survival:`) for this episode.
        self.survival = self.base_survival.with_overrides(task.survival, where=task.name) \
            if self.base_survival is not None and task.survival else self.base_survival
        self.action_index = {name: i for i, name in enumerate(env.action_names)}
        self.semantic_ids = {name: i for i, name in enumerate(env.semantic_names) if name}
        self.walks = {s.name: RememberedWalk(s, self.semantic_ids, settings=self.settings)
                      for s in self.library
                      if s.kind in ("finding", "manipulation") and s.target in self.semantic_ids} \
            if self.walk_to_seen else {}
        self.dig_walks = {}
        self.walkable_ids = {self.semantic_ids[m] for m in env.rules.walkable
                             if m in self.semantic_ids}
        # The stations the crafting skills need nearby (the world's materials among them):
        # material -> its `*_nearby` item.
        self.stations = {item.removesuffix(NEARBY_SUFFIX): item
                         for skill in self.planner.graph.skills.values() if skill.kind == "crafting"
                         for item in skill.inputs
                         if is_nearby(item) and item.removesuffix(NEARBY_SUFFIX) in self.semantic_ids}
        # Stations not to believe from the memory until the step given: a crafting skill
        # failed beside the one remembered (no cell with every station around, say).
        self.distrust = {}
        # The creatures the survival layer fights: those whose skill has a policy.
        self.fought = {c for c, skill in self.survival.threats.items()
                       if skill in self.policies} if self.survival is not None else set()
        self.obs, self.info = env.reset(seed=seed)
        self.seen = None
        self._remember()
        self.done, self.end = False, ""
        self.nearby: set[str] = set()
        self.plan_skills: tuple[str, ...] = ()
        self.plan_left: float | None = None    # the current plan's expected steps
        self.current: str | None = None
        counts = {"run": 0, "succeeded": 0, "interrupts": 0, "replans": 0}
        self.counts = counts
        # For `achievements: all`: the achievement pursued now, and those put aside.
        self.goal: str | None = None
        self.on_hold: set[str] = set()
        self.goal_failures = 0
        # The night: the last light seen, whether the agent walled itself in, and when a
        # failed shelter may be tried again.
        self.light, self.falling = float(self.info["daylight"]), False
        self.sheltered, self.shelter_again_at = False, 0
        self.dig_in_site = None      # (O, X, Y, direction) of a dig-in under way
        self.dusk_served: set[str] = set()     # the vitals topped up this dusk
        self.dusk_retried: set[str] = set()    # those whose top-up a zombie stopped once
        self.last_info: Mapping | None = None   # the step before's, for Survival.dodge
        # The plants placed this episode (cell -> updates counted), and when a failed wall
        # or meal may be tried again.
        self.plants = {}
        # Targets a learned manipulation skill found no way to (stone across water, in view
        # and so within the finding skill's test): cell -> the step until which the skills
        # do not see them (`_walls_for`), so that the search looks for another.
        self.out_of_reach = {}
        # Learned manipulation skills that lost a target they could have walked to: their
        # next run walks beside one first (the finding skill's step back, then the
        # policy's step off again, went round and round).
        self.walk_next = set()
        self.wall_again_at = self.eat_again_at = 0
        self.log.emit("episode_started", 0, task=task.name, target=task.target,
                      target_kind=task.target_kind, count=task.count, seed=seed,
                      world_seed=self.info.get("world_seed"), policies=self.source,
                      inventory=_held(self.info["inventory"]))
        every = task.target_kind == "achievements"
        try:
            while not self.done:
                if self._serve_survival() or self._tend_plants():
                    continue
                if every and self._pick_goal() is None:
                    self._step("noop")      # nothing left to pursue: play on to the end
                    continue
                plan = self._replan()
                if plan is None:
                    if every:
                        self._hold_goal()
                        continue
                    break
                if plan.first is None:     # the planner says the goal holds
                    if every:
                        self._hold_goal()
                        continue
                    self.end = "success" if self.info["success"] else "goal holds per planner"
                    break
                if self._ripening(plan.first.skill):
                    self.current = None
                    self._step("noop")      # the plant is walled in: wait for it to ripen
                    continue
                if (maker := self._arm_maker(runnable=True)) is not None:
                    self._run_skill(maker, reason="survival:arm")
                    continue
                ahead = self._gather_ahead(plan) if self.gather_ahead else None
                outcome = self._run_skill(ahead or plan.first.skill,
                                          reason="plan:ahead" if ahead else "plan")
                if every:
                    self._count_goal_outcome(outcome)
        except _EpisodeEnded:
            pass
        success = bool(self.info["success"])
        if success:
            self.end = "success"
        result = EpisodeResult(task.name, seed, success, int(self.info["step"]), self.end,
                               counts["run"], counts["succeeded"], counts["interrupts"],
                               counts["replans"], self.source)
        self.log.emit("episode_ended", self.info["step"], **result.to_dict(),
                      inventory=_held(self.info["inventory"]))
        return result

    # -- planning ------------------------------------------------------------------
    def _pick_goal(self) -> str | None:
        """The achievement to pursue (`achievements: all`): the current one while it is
        locked, else the locked one with the cheapest plan; None when none is left."""
        unlocked = {a for a, n in self.info["achievements"].items() if n > 0}
        if self.goal is not None and self.goal not in unlocked:
            return self.goal
        locked = [a for a in self.info["achievements"] if a not in unlocked]
        if not locked:
            return None
        if not set(locked) - self.on_hold:
            self.on_hold.clear()       # everything left was put aside: try them again
        self._believe_stations()
        ready = [a for a in locked if a not in self.on_hold and not self._ripening(a)
                 and not (self.garden and a == self.garden["place"] and self._evening())
                 and set(self.task.after.get(a, ())) <= unlocked]
        costs, distances = {}, {}
        for achievement in ready or [a for a in locked if a not in self.on_hold]:
            try:
                plan = self.planner.replan(achievement, self.info["inventory"], self.nearby)
            except (UnreachableError, PlanNotFoundError):
                self.on_hold.add(achievement)
                continue
            costs[achievement] = self._cost_from_here(plan, distances)
        if not costs:
            self.goal = None
            return None
        self.goal = min(costs, key=lambda a: (costs[a], a))
        self.goal_failures = 0
        return self.goal

    def _cost_from_here(self, plan, distances: dict[str, int | None]) -> float:
        """The plan's expected steps, a finding skill whose target the memory shows within
        its walk's reach (`remembered_reach.finding`) costing the walk there instead of its
        measured mean: the planner's costs do not know what the player has seen, and the
        score suite went looking for water (a 20 to 50 step search) before the wood pickaxe
        whose tree was in view. `distances`: target -> cells to the nearest one remembered
        (None: none), filled as the targets come up."""
        cost = plan.expected_steps
        if self.seen is None:
            return cost
        for step in plan.steps:
            spec = self.library[step.skill] if step.skill in self.library else None
            if spec is None or spec.kind != "finding" or spec.target not in self.semantic_ids:
                continue
            if spec.target not in distances:
                distances[spec.target] = self._remembered_distance(
                    self.semantic_ids[spec.target], self.settings["remembered_reach"]["finding"])
            distance = distances[spec.target]
            if distance is not None:
                cost -= max(0.0, step.expected_steps - max(0, distance - spec.nearby))
        return cost

    def _remembered_distance(self, target: int, reach: int) -> int | None:
        """Cells (Chebyshev) to the nearest `target` cell the memory shows within `reach`
        cells of the player, or None."""
        distance = target_distance({"semantic": self.seen, "player_pos": self.info["player_pos"]},
                                   target)
        return distance if distance <= reach else None

    def _gather_ahead(self, plan) -> str | None:
        """A collecting skill the plan runs later, to run now instead of the finding skill
        that comes first, when its target is at hand (its finding skill's test holds) and
        the tools it needs are held: the wood for the last table is cut at the first
        trees, not after a walk back out of the mountains. None when there is none."""
        first = self.library[plan.first.skill] if plan.first.skill in self.library else None
        if first is None or first.kind != "finding":
            return None
        for name in dict.fromkeys(plan.skills[1:]):
            spec = self.library[name] if name in self.library else None
            finder = f"find_{spec.target}" if spec is not None and spec.target else None
            if (not name.startswith("collect_") or finder not in self.library
                    or not self.library[finder].succeeded(self._sensed(finder), self.semantic_ids)):
                continue
            if self._runnable_at_hand(name):
                return name
        return None

    def _arm_maker(self, runnable: bool = False) -> str | None:
        """The skill that makes the survival rules' first arm while none of `arms` is held
        (None when one is, or no skill with a policy makes it); with `runnable`, only when
        it can run here: its ingredients held, its station believed nearby."""
        arms = self.survival.arms if self.survival is not None else ()
        if not arms or any(self.info["inventory"].get(a, 0) for a in arms):
            return None
        maker = next((s.name for s in self.planner.graph.producers(arms[0])
                      if s.name in self.policies and s.name in self.library), None)
        if maker is None or not runnable:
            return maker
        here = {**self.info["inventory"], **dict.fromkeys(self.nearby, 1)}
        return maker if self.planner.rules.can_run(maker, here) else None

    def _held_back(self) -> Mapping[str, int]:
        """The inventory the planner plans from: what is held, less what the arm to be made
        will consume (`Survival.arms`)."""
        inventory = self.info["inventory"]
        maker = self._arm_maker()
        if maker is None:
            return inventory
        spend = self.planner.graph[maker].consume
        return {k: max(0, int(v) - int(spend.get(k, 0))) for k, v in inventory.items()}

    def _runnable_at_hand(self, name: str) -> bool:
        """Whether the planner's own rules let skill `name` run on the inventory held, its
        target (the nearby item it needs) being at hand: the tools are what is checked."""
        if name not in self.planner.graph.skills:
            return False
        at_hand = {i: 1 for i in self.planner.graph[name].inputs if is_nearby(i)}
        return self.planner.rules.can_run(name, {**self.info["inventory"], **at_hand})

    def _hold_goal(self) -> None:
        if self.goal is not None:
            self.on_hold.add(self.goal)
        self.goal = None

    def _count_goal_outcome(self, outcome: str) -> None:
        self.goal_failures = 0 if outcome == "succeeded" else self.goal_failures + (
            outcome == "failed")
        if self.goal_failures >= self.hold_after:
            self._hold_goal()

    def _target(self) -> tuple[str, int]:
        task = self.task
        if task.target_kind == "achievements":
            return self.goal, 1
        if task.target_kind == "achievement":
            return task.target, max(1, task.count - int(self.info["achievements"][task.target]))
        return task.target, task.count

    def _believe_stations(self) -> None:
        """Believe the crafting stations that the memory shows within `station_reach` cells
        nearby: a finding skill clears the belief (the player has walked off), and the next
        plan would place a new table beside the player, where the crafting skill can walk
        back to the one it remembers."""
        if self.seen is None:
            return
        step = int(self.info["step"])
        for material, item in self.stations.items():
            if step >= self.distrust.get(material, 0) and self._remembered_distance(
                    self.semantic_ids[material], self.station_reach) is not None:
                self.nearby.add(item)

    def _replan(self):
        target, count = self._target()
        step = self.info["step"]
        self._believe_stations()
        try:
            plan = self.planner.replan(target, self._held_back(), self.nearby, count=count)
        except (UnreachableError, PlanNotFoundError) as error:
            self.end = f"unreachable: {error}"
            self.log.emit("replanned", step, target=target, count=count, plan=None,
                          unreachable=str(error), nearby=sorted(self.nearby))
            return None
        self.plan_skills, self.plan_left = plan.skills, plan.expected_steps
        self.counts["replans"] += 1
        self.log.emit("replanned", step, target=target, count=count, plan=list(plan.skills),
                      first=plan.first.skill if plan.first else None, nearby=sorted(self.nearby),
                      inventory=_held(self.info["inventory"]))
        return plan

    # -- survival ------------------------------------------------------------------
    def _serve_survival(self) -> bool:
        """Run survival skills when a vital is low; True when something was run."""
        if self.survival is None:
            return False
        threat = self._threat()
        if threat is not None:
            if not self.log.events or self.log.events[-1]["event"] != "interrupted":
                self.counts["interrupts"] += 1
                self.log.emit("interrupted", self.info["step"], skill=None, threat=threat, steps=0)
            self._run_skill(self.survival.threats[threat], reason=f"survival:{threat}",
                            interruptible=False)
            return True
        need, dusk = self._need()
        if need is None:
            return self._prepare_shelter() or self._serve_night()
        vital, serve = need
        if not self.log.events or self.log.events[-1]["event"] != "interrupted":
            # Ran low between skills: the plan's next skill is what gets put off.
            self.counts["interrupts"] += 1
            self.log.emit("interrupted", self.info["step"], skill=None, vital=vital,
                          value=int(self.info["inventory"][vital]), steps=0)
        if self.garden is not None and serve == self.garden.get("feeds"):
            ripe = self._ripe_plant()
            if ripe is not None:      # a meal the memory knows, before a search for a cow
                self._eat_plant(ripe, reason=f"survival:{vital}", interruptible=False)
                return True
        if dusk:
            self.dusk_served.add(serve)
        find, restore = self.survival.skills[serve]
        if find is None and restore == "wake_up":
            if self._shelter_ready():
                # Sleep walled in: a zombie's blow does a sleeper 7 damage (2 awake).
                if not self._enclosed() and self._wall_in(f"survival:{vital}"):
                    return True
                self.sheltered = True    # opened again once the night, if any, is over
            elif self._shelter_due():
                # In the dark, the shelter to be tried again soon: wait for it awake rather
                # than sleep in the open, until the energy is out (awake at 0 it costs a
                # point of health every 16 steps; asleep health comes back).
                self.current = None
                self._step("noop")
                return True
        spec = self.library[restore]
        ran, outcome = False, None
        # Serve the need until it is back at `resume`, as long as its skills succeed.
        for _ in range(10):
            if find is not None and f"{spec.target}_nearby" not in self.nearby:
                ran = True
                outcome = self._run_skill(find, reason=f"survival:{vital}", interruptible=False)
                if outcome != "succeeded":
                    break
            ran = True
            outcome = self._run_skill(restore, reason=f"survival:{vital}", interruptible=False)
            if outcome == "interrupted" and restore in self.walk_next:
                continue     # its target walked off (a cow): find it again, walk there first
            if outcome != "succeeded" or self.info["inventory"][serve] >= self.survival.resume[serve]:
                break
        if (dusk and outcome == "interrupted" and "threat" in self.log.events[-1]
                and self.survival.dusk_retry and serve not in self.dusk_retried):
            self.dusk_served.discard(serve)      # once more, after the fight
            self.dusk_retried.add(serve)
        return ran

    def _need(self) -> tuple[tuple[str, str] | None, bool]:
        """(Survival.need now, whether it is dusk): the vital to serve, with the dusk's
        top-ups but those whose source is far or that were served this dusk already. The
        survival layer and the skills it interrupts ask the same."""
        if not self.falling:
            self.dusk_served = set()
            self.dusk_retried = set()
        dusk = self._dusk()
        # At dusk each vital is topped up once (twice where a zombie stopped the first,
        # `Survival.dusk_retry`): drink at 6 falls back to the top-up's 5
        # in 20 steps, and the agent went back and forth between water and a cow in
        # the dark, among the zombies, instead of walling itself in.
        far = self._far(self.survival.dusk_reach) | self.dusk_served if dusk else ()
        return self.survival.need(self.info["inventory"], sheltered=self.sheltered,
                                  dusk=dusk, far=far), dusk

    def _far(self, reach: int | None) -> set[str]:
        """The vitals whose source (water, a cow) is not in the memory within `reach`
        cells (None: none is far): their dusk top-up waits for the morning
        (`Survival.dusk_reach`)."""
        if reach is None or self.seen is None:
            return set()
        far = set()
        for vital, (find, restore) in self.survival.skills.items():
            target = self.library[restore].target if restore in self.library else None
            if find is None or target not in self.semantic_ids:
                continue
            if self._remembered_distance(self.semantic_ids[target], reach) is None:
                far.add(vital)
        return far

    def shelter_possible(self) -> bool:
        name = self.survival.shelter if self.survival is not None else None
        return name is not None and name in self.library and name in self.policies

    def _dusk(self) -> bool:
        """The light is falling into the night and a shelter is to come: time to top up."""
        return (self.survival.night(self.light, self.falling) and self.falling
                and not self.sheltered and self._shelter_ready())

    def _shelter_held(self) -> bool:
        """The shelter skill is there and the player holds what its training episodes
        started with (stone to build with, a pickaxe to dig)."""
        return self.shelter_possible() and \
            self.library[self.survival.shelter].holds_start(self.info["inventory"])

    def _shelter_ready(self) -> bool:
        """A shelter may be tried now: it is held (`_shelter_held`) and did not just fail."""
        return self.info["step"] >= self.shelter_again_at and self._shelter_held()

    def _shelter_due(self) -> bool:
        """It is night, the player is not walled in and not yet out of energy, and the
        shelter, which failed a while ago, is to be tried again (`_shelter_held`)."""
        return (self.survival.night(self.light, self.falling)
                and self.info["inventory"]["energy"] > 0
                and self.info["step"] < self.shelter_again_at
                and self._shelter_held() and not self._enclosed())

    def _prepare_shelter(self) -> bool:
        """Before the night, gather what the shelter skill starts with and is short of (the
        stone to build with), with the collecting skills the planner can run on the tools
        held; True when a skill was run."""
        survival, info = self.survival, self.info
        if (survival.prepare is None or self.sheltered or not self.shelter_possible()
                or info["step"] < self.shelter_again_at):
            return False
        if not self._evening():
            return False
        night = survival.night(self.light, self.falling)
        if (not night and self.task.target_kind != "achievements" and self.plan_left is not None
                and self.plan_left <= survival.finish_within):
            return False          # the goal comes first: it is expected before dusk
        # Each item short needs a collecting skill with a policy and the tools for it (a
        # pickaxe): otherwise what is held must do. The first one is gathered now.
        start = self.library[survival.shelter].start_inventory
        collects = [f"collect_{item}" for item, n in start.items() if info["inventory"][item] < n]
        if not collects or not all(c in self.library and c in self.policies
                                   and self._runnable_at_hand(c) for c in collects):
            return False
        collect = collects[0]
        target = self.library[collect].target
        find = f"find_{target}" if target else None
        if (find in self.library and f"{target}_nearby" not in self.nearby
                and not self.library[find].succeeded(self._sensed(find), self.semantic_ids)):
            if self._run_skill(find, reason="survival:shelter", interruptible=False) != "succeeded":
                self.shelter_again_at = int(self.info["step"]) + 30
                return True
        if self._run_skill(collect, reason="survival:shelter", interruptible=False) == "failed":
            self.shelter_again_at = int(self.info["step"]) + 10
        return True

    def _wall_in(self, reason: str) -> bool:
        """Towards being walled in: a step of the dig-in where the memory shows a site, else
        the shelter skill (tried again 30 steps after it fails). True while the player is
        not walled in yet (the shelter failed, or a zombie at hand stopped it)."""
        if self._dig_in():
            return True
        outcome = self._run_skill(self.survival.shelter, reason=reason, interruptible=False)
        if outcome == "failed":
            self.shelter_again_at = self.info["step"] + 30
        return outcome != "succeeded"

    def _enclosed(self) -> bool:
        return self.library[self.survival.shelter].succeeded(self.info, self.semantic_ids)

    def _serve_night(self) -> bool:
        """Shelter for the night, sleep or wait in it, open it in the morning; True when
        something was done."""
        if self.survival.night(self.light, self.falling):
            if not self._shelter_ready() and not self.sheltered:
                return False
            if not self._enclosed():
                if self.sheltered:   # the shelter was opened (an arrow, a zombie): again
                    self.sheltered = False
                if not self._shelter_ready():
                    return False
                if not self.log.events or self.log.events[-1]["event"] != "interrupted":
                    self.counts["interrupts"] += 1
                    self.log.emit("interrupted", self.info["step"], skill=None, night=True,
                                  light=round(self.light, 2), steps=0)
                if self._wall_in("survival:night"):
                    return True
            self.sheltered = True
            if self._sip():
                return True
            if self.info["inventory"]["energy"] < VITAL_MAX and "wake_up" in self.policies:
                self._run_skill("wake_up", reason="survival:night", interruptible=False)
            else:
                self.current = None
                self._step("noop")
            return True
        if self.sheltered:
            if not self._wait_for_day():
                self._leave_shelter()
            return True
        return False

    def _wait_for_day(self) -> bool:
        """At dawn, stay walled in while a zombie is within `Survival.dawn_wait` cells, the
        light below 0.9 and the vitals allow (read from the map around the player, as
        `Survival.threat` does). True when the agent waited a step."""
        reach, inventory = self.survival.dawn_wait, self.info["inventory"]
        zombie = self.semantic_ids.get("zombie")
        if (reach is None or zombie is None or self.light >= 0.9
                or min(inventory["food"], inventory["drink"]) < 2 or inventory["health"] < 3
                or not self._enclosed()):
            return False
        if not _in_view(self.info["semantic"], self.info["player_pos"], (reach, reach), zombie):
            return False
        self.current = None
        self._step("noop")
        return True

    def _dig_in(self) -> bool:
        """Shelter in the mountain instead of building one: from open ground O, mine the
        stone X beyond it and the stone Y beyond that, step into Y, back into X (the
        move faces O) and put a stone on O. X and Y must have no other side that is open
        ground, unseen, lava or a creature (in the memory); such a site within `dig_in`
        steps of the player over open ground, the nearest. True when a step was taken;
        False when there is no site (the shelter skill builds one)."""
        if self.survival.dig_in is None or self.seen is None \
                or not self.info["inventory"].get("stone"):
            return False
        pos = tuple(int(v) for v in self.info["player_pos"])
        source = self.semantic_ids.get(self.survival.sip_from) if self.survival.sip_from else None
        if source is not None and self.dig_in_site is None \
                and any(shown == source for _, _, shown in self._beside(pos)):
            return False      # a shelter here has the water for a wall, drunk from all night
        site, action = self.dig_in_site, None
        if site is not None and pos in site[:3]:
            action = self._dig_in_step(site, pos)
        if action is None:
            found = self._find_dig_in_site(pos)
            if found is not None:
                site, walk = found
                action = walk or self._dig_in_step(site, pos)
            if action is None:
                self.dig_in_site = None
                return False
            if site != self.dig_in_site:
                self.log.emit("dig_in", self.info["step"],
                              cells=[[int(v) for v in cell] for cell in site[:3]])
            self.dig_in_site = site
        self.current = None
        self._step(action)
        if self.done:
            raise _EpisodeEnded
        return True

    def _dig_in_mine(self) -> set[int]:
        """The materials the tools held mine into path: stone, the ores."""
        return {self.semantic_ids[m] for m in
                self.env.rules.minable(self.info["inventory"], ("path",))
                if m in self.semantic_ids}

    def _find_dig_in_site(self, start: tuple[int, int]):
        """((O, X, Y, (dx, dy)), the first step of the walk to O or None at O) for the
        site nearest the player (at `start`) by a walk over open ground the memory shows;
        None when none is in reach."""
        mine, grid = self._dig_in_mine(), self.seen
        # What a creature comes from, and lava (the morning's way out must not step in).
        others = [self.semantic_ids[m] for m in (*MOBILE, "lava") if m in self.semantic_ids]
        open_cells = np.isin(grid, list(self.walkable_ids) + others) | (grid < 0)
        # The memory shows the player, not the ground, on its cell: ground it stands on.
        # (Read as a wall, it sealed a site beside the player that one step away was not
        # sealed, and the walk went back and forth between two sites.)
        open_cells[start] = True

        def sealed(cell, but):
            return all(not open_cells[side] for _, side, _ in self._beside(cell)
                       if side not in but)
        steps, first = {start: 0}, {start: None}
        frontier = collections.deque([start])
        while frontier:
            cell = frontier.popleft()
            for d in _MOVES.values():
                x, y = (cell[0] + d[0], cell[1] + d[1]), (cell[0] + 2 * d[0], cell[1] + 2 * d[1])
                if _at(grid, y) in mine and grid[x] in mine \
                        and sealed(x, (cell, y)) and sealed(y, (x,)):
                    return (cell, x, y, d), first[cell]
            if steps[cell] >= self.survival.dig_in:
                continue
            for move, nxt, shown in self._beside(cell):
                if nxt not in steps and shown in self.walkable_ids:
                    steps[nxt] = steps[cell] + 1
                    first[nxt] = move if cell == start else first[cell]
                    frontier.append(nxt)
        return None

    def _dig_in_step(self, site, pos: tuple[int, int]) -> str | None:
        """The next action of the dig-in at `site` for a player on O, X or Y (at `pos`);
        None when it no longer holds (X or Y is neither minable nor mined, O is taken)."""
        o, x, y, (dx, dy) = site
        grid = self.info["semantic"]
        mine = self._dig_in_mine()
        # (the map shows the player, not the ground, on the player's cell)
        if not all(_at(grid, c) in mine | {self.semantic_ids.get("path")}
                   for c in (x, y) if c != pos):
            return None
        facing = tuple(int(v) for v in self.info["facing"])
        ahead, back = GuardedSkill.MOVES[(dx, dy)], GuardedSkill.MOVES[(-dx, -dy)]
        if pos == o:
            return "do" if facing == (dx, dy) and _at(grid, x) in mine else ahead
        if pos == x:
            if facing == (-dx, -dy):
                return "place_stone" if _at(grid, o) in self.walkable_ids else None
            return "do" if facing == (dx, dy) and _at(grid, y) in mine else ahead
        return back       # from Y back into X, facing O

    def _sip(self) -> bool:
        """In the shelter, drink from the `sip_from` material beside the player (water: a
        wall no zombie crosses) until the drink is full: turn to it (a move towards a cell
        that is not walked on only turns the player), then drink. True when a step was
        taken."""
        source = self.semantic_ids.get(self.survival.sip_from) if self.survival.sip_from else None
        if source is None or self.info["inventory"]["drink"] >= VITAL_MAX:
            return False
        player = tuple(int(v) for v in self.info["player_pos"])
        for move, _, shown in self._beside(player):
            if shown == source:
                self.current = None
                facing = tuple(int(v) for v in self.info["facing"])
                self._step("do" if facing == _MOVES[move] else move)
                return True
        return False

    def _leave_shelter(self) -> None:
        """Open the shelter: mine the wall the player faces, else turn to the next one and
        mine it (a move towards a wall only turns the player), until there is a way out."""
        self.sheltered = False
        self.dig_in_site = None
        self.current = None
        for move in ("do", "move_left", "do", "move_up", "do", "move_right", "do",
                     "move_down", "do"):
            if not self._enclosed():
                return
            if self._into_lava(move):
                continue          # (a wall of lava: a pocket dug into the stone may have one)
            self._step(move)
            if self.done:
                raise _EpisodeEnded

    # -- plants --------------------------------------------------------------------
    def _evening(self) -> bool:
        """The light has fallen below the shelter's `prepare` level (or it is night): the
        time for the shelter's stone, not for a plant and its walls."""
        survival = self.survival
        if survival is None or not self.shelter_possible():
            return False
        return survival.night(self.light, self.falling) or (
            survival.prepare is not None and self.falling and self.light < survival.prepare)

    def _ripening(self, name: str) -> bool:
        """Whether `name` (the skill, or achievement, of eating a plant) waits for a plant
        placed this episode to ripen: `_tend_plants` eats it then."""
        garden = self.garden
        return (garden is not None and name == garden["eat"] and bool(self.plants)
                and max(self.plants.values()) <= garden["ripe_after"])

    def _note_plant(self) -> None:
        """After the placing skill: the plant stands on the cell the player faces."""
        cell, plant = self._faced(), self.semantic_ids.get("plant")
        if plant is not None and _at(self.info["semantic"], cell) == plant:
            self.plants[cell] = 0

    def _grow_plants(self) -> None:
        """Count an update for each plant within `grows_within` of the player (Crafter
        updates only those), and forget one that the view shows gone."""
        x, y = (int(v) for v in self.info["player_pos"])
        vx, vy = self.settings["view"]
        grid = self.info["semantic"]
        for (px, py) in list(self.plants):
            if abs(px - x) + abs(py - y) < self.garden["grows_within"]:
                self.plants[(px, py)] += 1
            if abs(px - x) <= vx and abs(py - y) <= vy \
                    and grid[px, py] != self.semantic_ids.get("plant"):
                del self.plants[(px, py)]

    def _walls(self) -> set[tuple[int, int]]:
        """The stone beside the plants placed this episode (the walls built, or the
        mountain's): not to be mined, which would open the way to the plant."""
        stone = self.semantic_ids.get("stone")
        return {side for plant in self.plants for _, side, shown in self._beside(plant)
                if shown == stone}

    def _walled_off(self, walls: set[tuple[int, int]], grid: np.ndarray) -> np.ndarray:
        """`grid` (the memory, or the map) with the plants' walls shown as a table: stone
        no skill looks for, mines or walks through, so that finding and collecting skills
        look for stone elsewhere."""
        if not walls:
            return grid
        grid = grid.copy()
        for x, y in walls:
            if 0 <= x < grid.shape[0] and 0 <= y < grid.shape[1]:
                grid[x, y] = self.semantic_ids["table"]
        return grid

    def _walls_for(self, skill: str | None) -> set[tuple[int, int]]:
        """The cells skill `skill` does not see as what they are: the plants' walls, which
        it must leave standing (for the meal, every plant but the ripe ones counted
        instead: the map shows a sapling and a ripe plant alike), and targets out of
        reach."""
        hidden = self._out_of_reach()
        if not self.plants:
            return hidden
        if self.garden is not None and skill == self.garden["eat"]:
            # Every plant the memory shows but the ripe ones counted (one sown by a skill
            # outside the garden's count, too: the meal hit it for its whole budget).
            grid = self.seen if self.seen is not None else self.info["semantic"]
            ripe = {cell for cell, grown in self.plants.items()
                    if grown > self.garden["ripe_after"]}
            shown = np.argwhere(grid == self.semantic_ids["plant"])
            return hidden | ({(int(x), int(y)) for x, y in shown} - ripe)
        return self._walls() | hidden

    def _out_of_reach(self) -> set[tuple[int, int]]:
        if not self.out_of_reach:
            return set()
        step = int(self.info["step"])
        self.out_of_reach = {cell: until for cell, until in self.out_of_reach.items()
                             if until > step}
        return set(self.out_of_reach)

    def _reachable(self, walk: RememberedWalk, walls: set[tuple[int, int]], target: int,
                   origin: tuple[int, int], mobile: bool = False) -> bool:
        """Whether the memory walk knows a way beside a `target` cell within `nearby` cells
        of `origin` (the others are hidden from the search). A `mobile` target (a cow)
        may have stepped out of that box since: one within `nearby` + 2 cells of the
        player counts too, and with none left in the memory there is nothing to judge:
        a cow that walks off is lost, not out of reach."""
        seen = self._walled_off(walls, self.seen).copy()
        near = np.zeros(seen.shape, dtype=bool)
        near[self._around(origin)] = True
        if mobile:
            near[self._around(tuple(int(v) for v in self.info["player_pos"]), 2)] = True
            if not ((seen == target) & near).any():
                return True
        seen[(seen == target) & ~near] = self.semantic_ids["table"]
        return walk.approach({**self.info, "seen": seen}) is not None

    def _put_out_of_reach(self, target: int | None, origin: tuple[int, int]) -> None:
        """Hide the cells of `target` within the skills' `nearby` cells of `origin` (where
        the finding skill's test held) for a while."""
        if target is None:
            return
        box = self._around(origin)
        until = int(self.info["step"]) + OUT_OF_REACH_FOR
        for dx, dy in np.argwhere(self.info["semantic"][box] == target):
            self.out_of_reach[(box[0].start + int(dx), box[1].start + int(dy))] = until

    def _around(self, origin: tuple[int, int], more: int = 0) -> tuple[slice, slice]:
        """The cells within the skills' `nearby` (+ `more`) cells of `origin`, as a map's
        slices."""
        x, y = origin
        r = int(self.settings["nearby"]) + more
        return slice(max(0, x - r), x + r + 1), slice(max(0, y - r), y + r + 1)

    def _sensed(self, skill: str | None, walls: set[tuple[int, int]] | None = None) -> Mapping:
        """The step's `info` as the skills other than the meal read it (their success tests,
        policies and walks): the plants' walls (`walls`, found when not given) are not stone
        there. Guarded skills, which mine nothing, read `self.info`."""
        walls = self._walls_for(skill) if walls is None else walls
        if not walls:
            return self.info
        return {**self.info, "semantic": self._walled_off(walls, self.info["semantic"])}

    def _faced(self) -> tuple[int, int]:
        x, y = (int(v) for v in self.info["player_pos"])
        fx, fy = (int(v) for v in self.info["facing"])
        return x + fx, y + fy

    def _spare_for(self, skill: str) -> bool:
        """Whether the inventory holds what `skill` starts with beyond what the shelter
        starts with (its stone is kept for the night)."""
        need = dict(self.library[skill].start_inventory)
        if self.shelter_possible():
            for item, n in self.library[self.survival.shelter].start_inventory.items():
                if item in need:
                    need[item] += n
        return all(self.info["inventory"][item] >= n for item, n in need.items())

    def _open_sides(self, cell: tuple[int, int]) -> list[tuple[int, int]]:
        """The cells beside a plant that a creature could step onto (walkable ground as
        the memory shows it, or a creature or the player standing there)."""
        walkable = {self.semantic_ids[m] for m in self.env.rules.walkable if m in self.semantic_ids}
        objects = {self.semantic_ids[m] for m in ("player", "cow", "zombie", "skeleton")
                   if m in self.semantic_ids}
        return [side for _, side, shown in self._beside(cell)
                if shown in walkable or shown in objects]

    def _beside(self, cell: tuple[int, int]) -> list[tuple[str, tuple[int, int], int]]:
        """The cells left of, right of, above and below `cell` that lie on the map, each as
        (the move towards it, the cell, what the memory shows there: the map's cell when
        there is no memory)."""
        grid = self.seen if self.seen is not None else self.info["semantic"]
        sides = []
        for move, (dx, dy) in _MOVES.items():
            x, y = cell[0] + dx, cell[1] + dy
            if 0 <= x < grid.shape[0] and 0 <= y < grid.shape[1]:
                sides.append((move, (x, y), int(grid[x, y])))
        return sides

    def _tend_plants(self) -> bool:
        """By day, wall in the plants placed this episode (stone on every side creatures
        walk on) and eat one that is ripe (a walk back first); True when a skill was run."""
        garden = self.garden
        if (garden is None or not self.plants or self.sheltered
                or (self.survival is not None and self.survival.night(self.light, self.falling))):
            return False
        ripe = self._ripe_plant()
        if ripe is not None:
            self._eat_plant(ripe, reason="plant:ripe")
            return True
        if self.info["step"] < self.wall_again_at:
            return False
        x, y = (int(v) for v in self.info["player_pos"])
        reach = self.settings["remembered_reach"]["placing"]
        for cell, grown in self.plants.items():
            if grown > garden["ripe_after"]:
                continue
            # Only the sides the placing skill can walk to (beyond, its guard fails at once).
            sides = [(sx, sy) for sx, sy in self._open_sides(cell)
                     if max(abs(sx - x), abs(sy - y)) <= reach]
            if (sides and garden["wall"] in self.policies and not self._evening()
                    and self._spare_for(garden["wall"])):
                outcome = self._run_skill(garden["wall"], reason="plant:wall",
                                          extra={"place_at": sides})
                if outcome == "failed":
                    self.wall_again_at = int(self.info["step"]) + 30
                return True
        return False

    def _ripe_plant(self) -> tuple[int, int] | None:
        """A plant placed this episode that is ripe, within the finding walks' reach, when
        the meal may be tried now (it has a policy and did not just fail); else None."""
        garden = self.garden
        if (garden is None or garden["eat"] not in self.policies
                or self.info["step"] < self.eat_again_at):
            return None
        x, y = (int(v) for v in self.info["player_pos"])
        reach = self.settings["remembered_reach"]["finding"]
        for cell, grown in self.plants.items():
            if grown > garden["ripe_after"] and max(abs(cell[0] - x), abs(cell[1] - y)) <= reach:
                return cell
        return None

    def _eat_plant(self, cell: tuple[int, int], reason: str, interruptible: bool = True) -> None:
        """Walk to the ripe plant at `cell` and eat it (a failed meal waits 30 steps)."""
        outcome = self._run_skill(self.garden["eat"], reason=reason, walk_first=True,
                                  interruptible=interruptible)
        if outcome == "succeeded":
            self.plants.pop(cell, None)     # it may have gone meanwhile
        elif outcome == "failed":
            self.eat_again_at = int(self.info["step"]) + 30

    # -- one skill -----------------------------------------------------------------
    def _run_skill(self, skill: str, reason: str, interruptible: bool = True,
                   walk_first: bool = False, extra: Mapping | None = None) -> str:
        """Run `skill` to its success test or budget. Returns succeeded, failed or interrupted.
        `walk_first`: a manipulation skill walks to its target (RememberedWalk.approach)
        from its first step, and only then must keep it near. `extra`: more for the
        policy's `info` (a guarded skill's `place_at`)."""
        spec = self.library[skill]
        budget = self.budgets.get(skill, spec.budget)
        start = int(self.info["step"])
        walk_first = walk_first or skill in self.walk_next
        self.walk_next.discard(skill)
        self.current = skill
        self.counts["run"] += 1
        self.log.emit("skill_started", start, skill=skill, reason=reason, budget=budget,
                      plan=list(self.plan_skills), inventory=_held(self.info["inventory"]))
        policy = self.policies.get(skill)
        if policy is None:
            self._step("noop")  # the clock moves on, so a missing policy never stalls the loop
            return self._failed(skill, start, "no policy for this skill")
        if spec.kind == "finding" and spec.succeeded(self._sensed(skill), self.semantic_ids):
            return self._succeeded(skill, start)
        guarded = spec.kind in ("crafting", "placing")
        learned = not getattr(policy, "privileged", False)
        # A learned manipulation skill works on a target within its `nearby` cells (where
        # its training episodes start); one that has walked off from it, or whose zombie
        # or cow has gone, ends, and the plan's finding skill walks back or looks again.
        target = (self.semantic_ids.get(spec.target)
                  if learned and spec.kind == "manipulation" and spec.target else None)
        approach_after = 0 if walk_first else self.approach_after
        near = not walk_first    # the target has been within `nearby`
        origin = tuple(int(v) for v in self.info["player_pos"])   # where the skill began
        still = 0    # the policy's steps in a row that changed nothing
        stall_after = self.stall_after.get(skill) if learned else None
        idle = 0     # its steps in a row on the map's edge that moved and gathered nothing
        in_place = 0  # its steps in a row, with no way beside the target, that went nowhere
        for _ in range(budget):
            if (dodge := self._dodge()) is not None:
                # An arrow flies at the player: a step aside first, whatever runs.
                self.log.emit("dodged", self.info["step"], skill=skill, move=dodge)
                self._step(dodge)
                if self.done:
                    return self._failed(skill, start, f"episode ended ({self.end})")
                continue
            if not interruptible and (threat := self._threat(but=skill)) is not None:
                # A survival skill still stops for a zombie at hand (its training episodes
                # take such zombies away, as this layer does): the fight comes first.
                return self._interrupted(skill, start, {"threat": threat})
            if interruptible and self.survival is not None:
                # A crafting or placing skill is a few steps: only a zombie at hand stops it.
                need = None if guarded else self._need()[0]
                threat = self._threat()
                # Night interrupts a search, not work on a target already at hand.
                night = (spec.kind == "finding" and self.survival.night(self.light, self.falling)
                         and self._shelter_ready() and not self._enclosed())
                if need is not None or threat is not None or night:
                    why = ({"vital": need[0], "value": int(self.info["inventory"][need[0]])}
                           if need is not None else {"threat": threat} if threat is not None
                           else {"night": True, "light": round(self.light, 2)})
                    return self._interrupted(skill, start, why)
            walls = self._walls_for(skill)
            info = self.info if guarded else self._sensed(skill, walls)
            if guarded and self.seen is not None:
                info = {**info, "seen": self.seen}
            if extra:
                info = {**info, **extra}
            walk = self.walks.get(skill) if self.seen is not None and learned else None
            ran = int(self.info["step"]) - start
            # A manipulation skill's walk beside its target has taken over from the policy.
            approaching = (walk is not None and spec.kind == "manipulation"
                           and approach_after is not None and ran >= approach_after)
            action = None
            if walk is not None:
                remembered = {**info, "seen": self._walled_off(walls, self.seen)}
                if spec.kind == "manipulation":
                    if approaching:
                        action = walk.approach(remembered)
                        if action is None and not near:      # walk_first, and no way there
                            self._step("noop")
                            return self._failed(skill, start, "no way to its target")
                else:
                    action, _ = memory_step(walk, remembered, ran, self.explore_after,
                                            self.explore_prefer.get(skill))
                    if action is None and not walk.digs:
                        action = self._dig_out(skill, remembered)
            from_policy = action is None
            if action is None:
                action = policy.act(self.obs, info) if hasattr(policy, "act") else policy(self.obs)
            if action is None:
                self._step("noop")  # the clock moves on, so a skill that cannot run never stalls
                return self._failed(skill, start, "cannot run here (its guard failed)")
            action = self._name(action)
            unstuck = from_policy and learned and self._stuck(still, spec, action)
            if unstuck:
                action, still = unstuck, 0
            if (from_policy and self.do_when_facing and action != "do"
                    and self._works_faced(spec, target, info)):
                # It faces its target, the policy steps or turns away (to and fro beside
                # a tree for a hundred steps): the `do` that the skill is for instead.
                action = "do"
            if (target is not None and from_policy and action == "do"
                    and spec.target in self.env.rules.walkable):
                # A target that is walked on (grass, for a sapling) has no approach walk:
                # a `do` facing anything else gathers nothing, so it becomes a step
                # towards the nearest target cell (the frame shows where the grass is).
                action = self._toward(info, target) or action
            if learned and self._into_lava(action):
                action = "noop"     # a step into lava is death; the frame shows it
            if action == "do" and walls and self._faced() in walls:
                # The stone walling in a plant is not mined (but by the meal): a collecting
                # skill walks to other stone, or fails when it knows of none.
                action = (walk.approach(remembered)
                          if walk is not None and spec.kind == "manipulation" else None)
                if action is None or action == "do":
                    self._step("noop")
                    return self._failed(skill, start, "its target walls in a plant")
            before = self._pose()
            self._step(action)
            # The new step's map as the skill reads it, for its test and its target.
            sensed = self._sensed(skill) if spec.kind == "finding" or target is not None \
                else self.info
            if spec.succeeded(sensed if spec.kind == "finding" else self.info, self.semantic_ids):
                return self._succeeded(skill, start)
            if self.done:
                return self._failed(skill, start, f"episode ended ({self.end})")
            pose = self._pose()
            still = still + 1 if from_policy and pose == before else 0
            # Neither moved nor gathered anything (a turn may have changed the facing; the
            # vitals' own fall and health's regrowth are not the policy's doing).
            unmoved = from_policy and pose[0] == before[0] and not _gathered(before[2], pose[2])
            idle = idle + 1 if (stall_after is not None and unmoved and self._on_edge()) else 0
            in_place = in_place + 1 if (approaching and unmoved
                                        and self._no_way_counts(spec, target)) else 0
            if stall_after is not None and idle >= stall_after:
                # The shelter's policy at the map's edge pushes into the void and turns,
                # placing nothing, for the rest of its budget and the night.
                return self._failed(skill, start, "stalled")
            if self.no_way_after is not None and in_place >= self.no_way_after:
                # No remembered way leads beside the target, and the policy turns on
                # the spot (a tree across the corner of two stones, no pickaxe yet):
                # hidden for a while, the search looks for another.
                self._put_out_of_reach(target, origin)
                return self._failed(skill, start, "no way to its target")
            if target is not None:
                away = target_distance(sensed, target) > spec.nearby
                if near and away:
                    if walk is not None and not self._reachable(
                            walk, walls, target, origin, mobile=spec.target in MOBILE):
                        # In view, so the finding skill's test holds, but no way to it
                        # (across water): hidden for a while, the search looks for another
                        # instead of walking back to it, round and round.
                        self._put_out_of_reach(target, origin)
                        return self._failed(skill, start, "no way to its target")
                    if walk is not None and approach_after is not None:
                        self.walk_next.add(skill)
                    return self._interrupted(skill, start, {"lost": spec.target})
                near = near or not away
        return self._failed(skill, start, "budget")

    def _no_way_counts(self, spec, target: int | None) -> bool:
        """Whether a learned manipulation skill's steps in place count towards
        `no_way_after`: its target is a material that `do` collects and no one walks on (a
        tree, stone, an ore, water). Not a creature, which moves on; not grass, where
        `collect_sapling`'s `do`s stand still until a sapling drops; not a plant, by which
        `eat_plant` waits for it to ripen."""
        return self._works_with_do(spec, target) and spec.target in self.env.rules.collect

    def _works_with_do(self, spec, target: int | None) -> bool:
        """Whether a learned manipulation skill works its `target` with `do`: not a
        creature, which moves on, nor a cell walked on."""
        return (target is not None and "do" in spec.actions and spec.target not in MOBILE
                and spec.target not in self.env.rules.walkable)

    def _works_faced(self, spec, target: int | None, info: Mapping) -> bool:
        """Whether a learned manipulation skill that works its `target` with `do`
        (`_works_with_do`) faces one in `info`'s map."""
        return self._works_with_do(spec, target) and \
            _at(info["semantic"], self._faced()) == target

    def _dig_out(self, skill: str, remembered: Mapping) -> str | None:
        """For a finding skill that does not mine, walled in where its walk knows no way to
        a target or an unseen cell (a shelter's pocket, a stone bridge over water): the
        first step of the same walk mining through what the tools allow, or None. Without
        it the policy pushed into the wall for the rest of its budget."""
        walk = self.dig_walks.get(skill)
        if walk is None:
            walk = self.dig_walks[skill] = RememberedWalk(
                self.library[skill], self.semantic_ids, settings=self.settings, digs=True)
        return walk.act(remembered) or walk.explore(remembered,
                                                    prefer=self.explore_prefer.get(skill))

    def _toward(self, info: Mapping, target: int) -> str | None:
        """For a `do` that does not face a `target` cell: the move towards the nearest one
        in view (along the longer axis first), or None when it faces one or none is in view."""
        grid = info["semantic"]
        if _at(grid, self._faced()) == target:
            return None
        x, y = (int(v) for v in info["player_pos"])
        cells = [(cx - x, cy - y)
                 for cx, cy in _in_view(grid, (x, y), tuple(self.settings["view"]), target)]
        if not cells:      # (the player's own cell shows the player, never the target)
            return None
        dx, dy = min(cells, key=lambda c: (abs(c[0]) + abs(c[1]), c))
        step = (int(np.sign(dx)), 0) if abs(dx) >= abs(dy) else (0, int(np.sign(dy)))
        return GuardedSkill.MOVES[step]

    def _on_edge(self) -> bool:
        """Whether the player stands on the map's first or last row or column."""
        (x, y), (w, h) = self.info["player_pos"], self.info["semantic"].shape
        return min(x, y) == 0 or x == w - 1 or y == h - 1

    def _pose(self) -> tuple:
        """Where the player stands, where it faces, and what it holds."""
        info = self.info
        return (tuple(info["player_pos"]), tuple(info.get("facing", ())),
                tuple(sorted(info["inventory"].items())))

    def _name(self, action) -> str:
        """An action's name (policies may give its index)."""
        return action if isinstance(action, str) else self.env.action_names[int(action)]

    def _into_lava(self, name: str) -> bool:
        """Whether the action `name` walks the player into lava."""
        lava = self.semantic_ids.get("lava")
        return lava is not None and stepped_onto(self.info, name) == lava

    def _stuck(self, still: int, spec, name: str) -> str | None:
        """Another move for a learned policy whose last `stuck_after` steps changed nothing,
        or None (its own action, `name`, stands). Drawn from the episode's world seed and the
        step, so an episode reruns exactly; never into lava."""
        if self.stuck_after is None or still < self.stuck_after or name in ("noop", "sleep"):
            return None
        moves = [a for a in _MOVES if a != name and a in spec.actions and not self._into_lava(a)]
        if not moves:
            return None
        seed = [int(self.info.get("world_seed") or 0), int(self.info["step"])]
        rng = np.random.default_rng(seed)
        return moves[int(rng.integers(len(moves)))]

    def _step(self, action) -> None:
        name = self._name(action)
        frame = self.obs["image"]
        self.last_info = self.info
        self.obs, _, terminated, truncated, self.info = self.env.step(self.action_index[name])
        self._remember()
        if self.plants:
            self._grow_plants()
        light = float(self.info["daylight"])
        self.falling, self.light = light < self.light, light
        if self.on_step is not None:
            self.on_step(frame, name, self.info, self.current, self.plan_skills)
        if terminated or truncated:
            self.done = True
            self.end = ("success" if self.info["success"] else
                        "death" if terminated else "step limit")

    def _remember(self) -> None:
        if self.view is not None and "semantic" in self.info and "player_pos" in self.info:
            self.seen = remember_view(self.seen, self.info, self.view)

    def _succeeded(self, skill: str, start: int) -> str:
        if self.garden is not None and skill == self.garden["place"]:
            self._note_plant()
        self.counts["succeeded"] += 1
        self.log.emit("skill_succeeded", self.info["step"], skill=skill,
                      steps=int(self.info["step"]) - start, inventory=_held(self.info["inventory"]))
        self._update_nearby(skill, succeeded=True)
        self._check_ended()
        return "succeeded"

    def _interrupted(self, skill: str, start: int, why: Mapping) -> str:
        self.counts["interrupts"] += 1
        self.log.emit("interrupted", self.info["step"], skill=skill, **why,
                      steps=int(self.info["step"]) - start)
        self._update_nearby(skill, succeeded=False)
        return "interrupted"

    def _dodge(self) -> str | None:
        """The step out of an arrow's way (Survival.dodge), or None."""
        if self.survival is None:
            return None
        return self.survival.dodge(self.info, self.semantic_ids, self.walkable_ids,
                                   self.last_info, tuple(self.settings["view"]))

    def _threat(self, but: str | None = None) -> str | None:
        """The creature to fight now (None behind the shelter's walls, or when `but`, the
        skill running, is the one that fights it)."""
        if self.survival is None or (self.sheltered and self._enclosed()):
            return None
        threat = self.survival.threat(self.info, self.semantic_ids, self.fought)
        return None if threat is None or self.survival.threats[threat] == but else threat

    def _failed(self, skill: str, start: int, why: str) -> str:
        self.log.emit("skill_failed", self.info["step"], skill=skill, why=why,
                      steps=int(self.info["step"]) - start, inventory=_held(self.info["inventory"]))
        if skill in self.planner.graph.skills:
            # The stations it needed are not believed from the memory for a while: the plan
            # places new ones instead of sending the guard back to the same place. But one
            # beside the player (Crafter crafts with what is within a cell) is there to use:
            # a furnace just placed away from the table needs a table beside it, not both anew.
            needed = self.planner.graph[skill].inputs
            for material, item in self.stations.items():
                if item in needed and (self.seen is None or self._remembered_distance(
                        self.semantic_ids[material], 1) is None):
                    self.distrust[material] = int(self.info["step"]) + STATION_DISTRUST_FOR
        self._update_nearby(skill, succeeded=False)
        self._check_ended()
        return "failed"

    def _check_ended(self) -> None:
        if self.done:
            raise _EpisodeEnded

    def _update_nearby(self, skill: str, succeeded: bool) -> None:
        if skill not in self.planner.graph.skills:
            return
        self.nearby = nearby_after(self.planner.rules, skill, self.nearby, succeeded)
        if not succeeded:
            self.nearby -= {i for i in self.planner.graph[skill].inputs if is_nearby(i)}
