"""A Crafter episode for one skill: it starts where the skill applies and ends when it is done.

`SkillEnv` wraps `CrafterEnv`. At reset it gives the player what the skill
needs (its tools and ingredients) and, for a manipulation skill, moves the
player next to the skill's target (Plan4MC's "target nearby" starts): near an
existing tree, cow or diamond when the world has one within reach, else it
puts one there. A finding skill starts where its target is out of sight.

Two things make the starts look like the places a skill runs in a long
episode rather than like fresh worlds at noon: each episode starts at a
random time of day (`daytime`; Crafter's nights are dark, noisy and full of
zombies for 40% of every 300-step day), and a finding skill starts, with
probability `anywhere`, on a random walkable cell of the world instead of at
the world's centre.

The policy sees what the player sees: the frame and the inventory. The
privileged state (semantic map, position) decides success and shapes the
reward: +1 on success, plus `shaping` times the decrease in distance to the
nearest target (a potential-based term, which leaves the best policy as it is),
plus `explore` for each cell the player stands on for the first time in the
episode (count-based exploration on the privileged position, as Plan4MC's
finding skills are rewarded for exploring), minus `death_penalty` on death
(lava, arrows: dying only forfeits the success reward otherwise, too weak a
signal to keep a finder out of lava), and `lava_shaping` times the change in
whether lava lies next to the player (a potential-based term too: stepping up
to lava costs, stepping away from it earns the same back; a finder learns to
keep a cell from the lava it would die in with one wrong step).
"""

from __future__ import annotations

from collections.abc import Mapping

import gymnasium as gym
import numpy as np

from mcagent.skills.library import SkillSpec, load_settings, target_distance, within
from mcagent.worlds.crafter_world import CrafterEnv
from mcagent.worlds.rules import VITALS

MAX_SHAPED_DISTANCE = 20  # beyond this, moving closer earns nothing: the target is out of reach
START_TRIES = 8
DAY_LENGTH = 300          # Crafter's day: daylight is a function of the step modulo this


def _open_cells(info: Mapping, walkable: np.ndarray) -> int:
    """Walkable cells within 2 steps (Manhattan) of the player, its own left out."""
    x, y = info["player_pos"]
    semantic = info["semantic"]
    window = semantic[max(0, x - 2):x + 3, max(0, y - 2):y + 3]
    dx, dy = np.meshgrid(np.arange(max(0, x - 2), min(semantic.shape[0], x + 3)) - x,
                         np.arange(max(0, y - 2), min(semantic.shape[1], y + 3)) - y,
                         indexing="ij")
    near = (np.abs(dx) + np.abs(dy) <= 2) & ((dx != 0) | (dy != 0))
    return int((np.isin(window, walkable) & near).sum())


def _reachable(walkable: np.ndarray, start) -> np.ndarray:
    """Cells of `walkable` joined to `start` by steps through walkable cells (a flood fill)."""
    reach = np.zeros_like(walkable)
    reach[tuple(start)] = True
    while True:
        grown = reach.copy()
        grown[1:] |= reach[:-1]
        grown[:-1] |= reach[1:]
        grown[:, 1:] |= reach[:, :-1]
        grown[:, :-1] |= reach[:, 1:]
        grown &= walkable
        grown[tuple(start)] = True
        if np.array_equal(grown, reach):
            return reach
        reach = grown


class SkillEnv(gym.Env):
    """Episodes of one skill in Crafter; reward = success + distance shaping."""

    def __init__(self, spec: SkillSpec, shaping: float = 0.05, budget: int | None = None,
                 size: int = 64, explore: float = 0.0, death_penalty: float = 0.0,
                 daytime: str | None = None, anywhere: float | None = None,
                 lava_shaping: float = 0.0, start_reach: int = 2):
        settings = load_settings()["episodes"]
        self.spec = spec
        self.shaping = shaping
        self.explore = explore
        self.death_penalty = death_penalty
        self.lava_shaping = lava_shaping
        self.start_reach = start_reach   # a manipulation skill starts this close to its target
        self.budget = budget or spec.budget
        self.daytime = daytime or settings["daytime"]
        if self.daytime not in ("random", "morning"):
            raise ValueError(f"daytime must be 'random' or 'morning', not {self.daytime!r}")
        self.anywhere = settings["finding_anywhere"] if anywhere is None else anywhere
        self.threats = tuple(t for t in settings["removed_threats"] if t != spec.target)
        self.threats_removed = 0   # in this episode
        vitals = settings["vitals"]
        self.vital_start = {k: tuple(v) for k, v in vitals["start"].items()
                            if k not in spec.start_inventory}
        restored = vitals["restores"].get(spec.name)
        self.served_at = {k: v for k, v in vitals["served_at"].items() if k != restored}
        self.base = CrafterEnv(size=size, max_steps=10**9)
        self.ids = {name: i for i, name in enumerate(self.base.semantic_names) if name}
        self.action_names = self.base.action_names
        self.allowed = np.array([a in spec.actions for a in self.action_names])
        self.observation_space = self.base.observation_space
        self.action_space = self.base.action_space
        self._target = self.ids.get(spec.target) if spec.target else None
        self._walkable = np.array([self.ids[m] for m in self.base.rules.walkable])
        self._lava = self.ids.get("lava")
        self._by_lava = False
        self._distance = 0
        self._steps = 0
        self._visited: set = set()

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        for _ in range(START_TRIES):
            obs, info = self.base.reset(seed=int(self.np_random.integers(2**31 - 1)))
            if self._arrange(info):
                break
        if self.daytime == "random":
            # Crafter's clock: daylight follows the step count (the next step's, once updated).
            self.base._env._step = int(self.np_random.integers(DAY_LENGTH))
        # One noop step gives the frame and info of the arranged world.
        obs, _, _, _, info = self.base.step(self.action_names.index("noop"))
        self._steps = 0
        self._distance = self._target_distance(info)
        self._by_lava = self._next_to_lava(info)
        self._visited = {info["player_pos"]}
        self.threats_removed = 0
        info["skill_success"] = False
        return obs, info

    def step(self, action):
        if self.threats:
            self._remove_threats()
        self._serve_vitals()
        obs, _, dead, _, info = self.base.step(action)
        self._steps += 1
        success = self.spec.succeeded(info, self.ids)
        reward = float(success)
        distance = self._target_distance(info)
        if self._target is not None or self.spec.enclosure:
            reward += self.shaping * (min(self._distance, MAX_SHAPED_DISTANCE)
                                      - min(distance, MAX_SHAPED_DISTANCE))
        self._distance = distance
        if self.explore and info["player_pos"] not in self._visited:
            self._visited.add(info["player_pos"])
            reward += self.explore
        if self.lava_shaping:
            by_lava = self._next_to_lava(info)
            reward += self.lava_shaping * (self._by_lava - by_lava)
            self._by_lava = by_lava
        if dead and not success:
            reward -= self.death_penalty
        info["skill_success"] = success
        terminated = bool(success or dead)
        truncated = not terminated and self._steps >= self.budget
        return obs, reward, terminated, truncated, info

    def _serve_vitals(self) -> None:
        """Put a vital that ran low back to the maximum, as the agent's survival layer would."""
        inventory = self.base.player.inventory
        for vital, low in self.served_at.items():
            if inventory[vital] <= low:
                inventory[vital] = self.base.rules.items[vital].max

    def _remove_threats(self) -> None:
        """Take away the threats next to the player, as the agent would fight them: it checks
        before every action (mcagent.agent.Survival.threat), so they have had one step to hit."""
        world, player = self.base.world, self.base.player
        x, y = player.pos
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                obj = world[(x + dx, y + dy)][1]
                if obj is not None and obj is not player and type(obj).__name__.lower() in self.threats:
                    world.remove(obj)
                    self.threats_removed += 1

    def _next_to_lava(self, info: Mapping) -> bool:
        """Whether lava lies on one of the four cells the player could step to."""
        if self._lava is None:
            return False
        x, y = info["player_pos"]
        semantic = info["semantic"]
        w, h = semantic.shape
        return any(0 <= x + dx < w and 0 <= y + dy < h and semantic[x + dx, y + dy] == self._lava
                   for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)))

    def _target_distance(self, info: Mapping) -> int:
        """The shaping's distance: to the nearest target, or for a shelter (`enclosure`) how
        open the player's surroundings still are (walkable cells within 2 steps)."""
        if self.spec.enclosure:
            return _open_cells(info, self._walkable)
        return target_distance(info, self._target) if self._target is not None else 0

    # -- starts ------------------------------------------------------------------
    def _arrange(self, info: Mapping) -> bool:
        """Set up the start; False when this world cannot give one (try another)."""
        player = self.base.player
        for vital, (low, high) in self.vital_start.items():
            player.inventory[vital] = int(self.np_random.integers(low, high + 1))
        for item, count in self.spec.start_inventory.items():
            # Vitals are set (wake_up starts tired); items are at least the count.
            player.inventory[item] = count if item in VITALS else max(player.inventory[item], count)
        if self.spec.kind == "crafting":
            self._put_stations_near()
        if self.spec.target is None:
            return True
        if self.spec.kind == "finding":
            if not (info["semantic"] == self._target).any():
                # A world without the target (no diamond in about one world in ten)
                # gives a search that cannot succeed: it measures the world, not the skill.
                return False
            if self.np_random.random() < self.anywhere:
                return self._move_anywhere(info)
            if self.spec.start_near:
                return self._move_anywhere(info, near=self.ids[self.spec.start_near])
            return self._target_distance(info) > self.spec.nearby
        return self._move_near_target(info)

    def _move_anywhere(self, info: Mapping, near: int | None = None) -> bool:
        """A finding start on a random walkable cell, one the player could have walked to
        from where it spawned, with the target out of range (and next to a cell of `near`)."""
        semantic = info["semantic"]
        in_range = within(semantic == self._target, self.spec.nearby)
        reach = _reachable(np.isin(semantic, self._walkable), info["player_pos"])
        if near is not None:
            reach &= within(semantic == near, 1)
        cells = np.argwhere(reach & ~in_range)
        if not len(cells):
            return False
        x, y = cells[int(self.np_random.integers(len(cells)))]
        if self.base.world[(int(x), int(y))][1] is not None:
            return False
        self.base.world.move(self.base.player, (int(x), int(y)))
        return True

    def _free(self, pos) -> bool:
        world = self.base.world
        x, y = pos
        if not (0 <= x < world.area[0] and 0 <= y < world.area[1]):
            return False
        material, obj = world[(x, y)]
        return obj is None and material in self.base.rules.walkable

    def _move_near_target(self, info: Mapping) -> bool:
        world, player = self.base.world, self.base.player
        rng = self.np_random
        cells = np.argwhere(info["semantic"] == self._target)
        px, py = player.pos
        if len(cells):
            # The nearest targets first: their surroundings are like the ones a finding skill reaches.
            order = np.argsort(np.abs(cells - np.array([px, py])).max(axis=1))
            r = self.start_reach
            for cx, cy in cells[order[:20]]:
                stands = [(cx + dx, cy + dy) for dx in range(-r, r + 1) for dy in range(-r, r + 1)
                          if (dx or dy) and self._free((cx + dx, cy + dy))]
                if stands:
                    world.move(player, stands[int(rng.integers(len(stands)))])
                    return True
        return self._put_target_near()

    def _put_target_near(self) -> bool:
        """No reachable target in this world: put one next to the player."""
        from crafter import objects

        world, player = self.base.world, self.base.player
        x, y = player.pos
        spots = [(x + dx, y + dy) for dx in range(-2, 3) for dy in range(-2, 3)
                 if max(abs(dx), abs(dy)) == 2 and self._free((x + dx, y + dy))]
        if not spots:
            return False
        spot = spots[int(self.np_random.integers(len(spots)))]
        target = self.spec.target
        if target in self.base.rules.materials:
            world[spot] = target
        elif target == "cow":
            world.add(objects.Cow(world, spot))
        elif target == "zombie":
            world.add(objects.Zombie(world, spot, player))
        elif target == "skeleton":
            world.add(objects.Skeleton(world, spot, player))
        elif target == "plant":
            if world[spot][0] != "grass":
                world[spot] = "grass"
            plant = objects.Plant(world, spot)
            plant.grown = 301  # ripe: eat_plant needs a ripe one
            world.add(plant)
        else:
            raise ValueError(f"skill {self.spec.name}: cannot put target {target!r} in the world")
        return True

    def _put_stations_near(self) -> None:
        world, player = self.base.world, self.base.player
        x, y = player.pos
        spots = [(x + dx, y + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy]
        for station, spot in zip(self.spec.stations, spots):
            if world[spot][1] is not None:
                world.remove(world[spot][1])
            world[spot] = station


class FlatEnv(gym.Wrapper):
    """The whole game for the flat PPO baseline: Crafter's episodes and Crafter's own reward
    (+1 per achievement first unlocked, health changes), every action; `skill_success`
    marks an episode that unlocked `goal`."""

    def __init__(self, max_steps: int = 10_000, goal: str = "collect_diamond"):
        super().__init__(CrafterEnv(max_steps=max_steps, reward="crafter"))
        self.goal = goal

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["skill_success"] = bool(info["achievements"][self.goal])
        return obs, reward, terminated, truncated, info

