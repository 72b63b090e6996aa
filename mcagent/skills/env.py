"""A Crafter episode for one skill: it starts where the skill applies and ends when it is done.

`SkillEnv` wraps `CrafterEnv`. At reset it gives the player what the skill
needs (its tools and ingredients) and, for a manipulation skill, moves the
player next to the skill's target (Plan4MC's "target nearby" starts): near an
existing tree, cow or diamond when the world has one within reach, else it
puts one there. A finding skill starts where its target is out of sight.

The policy sees what the player sees: the frame and the inventory. The
privileged state (semantic map, position) decides success and shapes the
reward: +1 on success, plus `shaping` times the decrease in distance to the
nearest target (a potential-based term, which leaves the best policy as it is).
"""

from __future__ import annotations

from collections.abc import Mapping

import gymnasium as gym
import numpy as np

from mcagent.skills.library import SkillSpec, target_distance
from mcagent.worlds.crafter_world import CrafterEnv

MAX_SHAPED_DISTANCE = 20  # beyond this, moving closer earns nothing: the target is out of reach
START_TRIES = 8


class SkillEnv(gym.Env):
    """Episodes of one skill in Crafter; reward = success + distance shaping."""

    def __init__(self, spec: SkillSpec, shaping: float = 0.05, budget: int | None = None,
                 size: int = 64):
        self.spec = spec
        self.shaping = shaping
        self.budget = budget or spec.budget
        self.base = CrafterEnv(size=size, max_steps=10**9)
        self.ids = {name: i for i, name in enumerate(self.base.semantic_names) if name}
        self.action_names = self.base.action_names
        self.allowed = np.array([a in spec.actions for a in self.action_names])
        self.observation_space = self.base.observation_space
        self.action_space = self.base.action_space
        self._target = self.ids.get(spec.target) if spec.target else None
        self._distance = 0
        self._steps = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        for _ in range(START_TRIES):
            obs, info = self.base.reset(seed=int(self.np_random.integers(2**31 - 1)))
            if self._arrange(info):
                break
        # One noop step gives the frame and info of the arranged world.
        obs, _, _, _, info = self.base.step(self.action_names.index("noop"))
        self._steps = 0
        self._distance = self._target_distance(info)
        info["skill_success"] = False
        return obs, info

    def step(self, action):
        obs, _, dead, _, info = self.base.step(action)
        self._steps += 1
        success = self.spec.succeeded(info, self.ids)
        reward = float(success)
        distance = self._target_distance(info)
        if self._target is not None:
            reward += self.shaping * (min(self._distance, MAX_SHAPED_DISTANCE)
                                      - min(distance, MAX_SHAPED_DISTANCE))
        self._distance = distance
        info["skill_success"] = success
        terminated = bool(success or dead)
        truncated = not terminated and self._steps >= self.budget
        return obs, reward, terminated, truncated, info

    def _target_distance(self, info: Mapping) -> int:
        return target_distance(info, self._target) if self._target is not None else 0

    # -- starts ------------------------------------------------------------------
    def _arrange(self, info: Mapping) -> bool:
        """Set up the start; False when this world cannot give one (try another)."""
        player = self.base.player
        for item, count in self.spec.start_inventory.items():
            player.inventory[item] = max(player.inventory[item], count)
        if self.spec.kind == "crafting":
            self._put_stations_near()
        if self.spec.target is None:
            return True
        if self.spec.kind == "finding":
            return self._target_distance(info) > self.spec.nearby
        return self._move_near_target(info)

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
            for cx, cy in cells[order[:20]]:
                stands = [(cx + dx, cy + dy) for dx in range(-2, 3) for dy in range(-2, 3)
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
