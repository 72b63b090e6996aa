"""The embedded default world: Crafter behind a Gymnasium interface, deterministic per seed.

Crafter itself (pip `crafter`) is old-gym style and not reproducible: creature
balancing picks which creature to despawn from a Python `set`, whose order
follows memory addresses. `DeterministicCrafter` keeps every chunk's creatures
in insertion order instead, and re-seeds the world from the Gymnasium seed, so
the same seed and actions give the same frames and events in every process.
Everything else is Crafter's own code and rules.

By default it also runs faster code for Crafter's slowest parts, with equal
results (same frames, worlds and random draws): the renderer of
`crafter_render` and the world generation of `crafter_worldgen`.
`DeterministicCrafter(fast=False)` runs Crafter's own code instead.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any

import gymnasium as gym
import numpy as np

from mcagent.worlds import crafter_render, crafter_worldgen
from mcagent.worlds.rules import VITALS, crafter_rules
from mcagent.worlds.tasks import Task

import crafter
from crafter import engine, objects, worldgen

# Ids of the semantic map: Crafter's material ids (0 = outside), then its creatures.
SEMANTIC_OBJECTS = ("player", "cow", "zombie", "skeleton", "arrow", "plant")
_OBJECT_CLASSES = (objects.Player, objects.Cow, objects.Zombie, objects.Skeleton,
                   objects.Arrow, objects.Plant)


class _OrderedSet:
    """The part of `set` that Crafter's chunks use, iterating in insertion order."""

    __slots__ = ("_items",)

    def __init__(self):
        self._items: dict = {}

    def add(self, item):
        self._items[item] = None

    def remove(self, item):
        del self._items[item]

    def __iter__(self):
        return iter(list(self._items))

    def __len__(self):
        return len(self._items)

    def __contains__(self, item):
        return item in self._items


class _DeterministicWorld(engine.World):
    def reset(self, seed=None):
        super().reset(seed)
        self._chunks = collections.defaultdict(_OrderedSet)


class DeterministicCrafter(crafter.Env):
    """`crafter.Env` whose episodes depend only on the seed given to `reset`.

    With `fast` (the default), frames and worlds come from the equal but faster
    code of `crafter_render` and `crafter_worldgen`.
    """

    def __init__(self, fast: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.fast = fast
        self._world = _DeterministicWorld(self._area, crafter.constants.materials, (12, 12))
        # The views keep a reference to the world they draw.
        self._local_view._world = self._world
        self._sem_view = engine.SemanticView(self._world, list(_OBJECT_CLASSES))
        if fast:
            self._local_view = crafter_render.FastLocalView(
                self._world, self._textures, self._local_view._grid)
            self._item_view = crafter_render.CachedItemView(self._textures, self._item_view._grid)
            self._sem_view = crafter_render.FastSemanticView(self._world, list(_OBJECT_CLASSES))

    # The world seed of the next `reset()`, when a wrapper (crafter.Recorder) calls it.
    next_world_seed: int | None = None

    def reset(self):
        """Crafter's `reset`: the world seed from the env seed and the episode number,
        or `next_world_seed` when one is set."""
        seed, self.next_world_seed = self.next_world_seed, None
        if seed is None:
            seed = hash((self._seed, self._episode + 1)) % (2 ** 31 - 1)
        return self.reset_with_seed(seed)

    def reset_with_seed(self, world_seed: int):
        """Crafter's reset, but the world's random state comes from `world_seed` alone."""
        self._episode += 1
        self._step = 0
        self._world.reset(seed=world_seed)
        self._update_time()
        center = (self._world.area[0] // 2, self._world.area[1] // 2)
        self._player = objects.Player(self._world, center)
        self._last_health = self._player.health
        self._world.add(self._player)
        self._unlocked = set()
        if self.fast:
            crafter_worldgen.generate_world(self._world, self._player)
        else:
            worldgen.generate_world(self._world, self._player)
        return self._obs()

    def step(self, action):
        """Crafter's `step`, with the creatures' distance check done in plain ints."""
        if not self.fast:
            return super().step(action)
        self._step += 1
        self._update_time()
        self._player.action = crafter.constants.actions[action]
        self._update_objects()
        if self._step % 10 == 0:
            for chunk, objs in self._world.chunks.items():
                self._balance_chunk(chunk, objs)
        obs = self._obs()
        reward = (self._player.health - self._last_health) / 10
        self._last_health = self._player.health
        unlocked = {name for name, count in self._player.achievements.items()
                    if count > 0 and name not in self._unlocked}
        if unlocked:
            self._unlocked |= unlocked
            reward += 1.0
        dead = self._player.health <= 0
        over = self._length and self._step >= self._length
        info = {
            "inventory": self._player.inventory.copy(),
            "achievements": self._player.achievements.copy(),
            "discount": 1 - float(dead),
            "semantic": self._sem_view(),
            "player_pos": self._player.pos,
            "reward": reward,
        }
        if not self._reward:
            reward = 0.0
        return obs, reward, dead or over, info

    def _update_objects(self):
        """Update every creature near the player, in the order and with the checks of Crafter.

        Crafter iterates over a snapshot of `world.objects` and updates those
        within `2 * max(view)` of the player (Manhattan distance, the player's
        position read at each check). Only an object's own update moves it, so
        each position is known before the loop: the live objects, in index
        order, are the non-zero cells of the object map sorted by index.
        """
        world, player = self._world, self._player
        xs, ys = np.nonzero(world._obj_map)
        index = world._obj_map[xs, ys]
        order = np.argsort(index)
        limit = int(2 * max(self._view))
        px, py = int(player.pos[0]), int(player.pos[1])
        snapshot = [world._objects[i] for i in index[order].tolist()]
        for obj, x, y in zip(snapshot, xs[order].tolist(), ys[order].tolist()):
            if obj is player:
                obj.update()
                px, py = int(player.pos[0]), int(player.pos[1])
            elif abs(x - px) + abs(y - py) < limit:
                obj.update()


@dataclasses.dataclass
class _Snapshot:
    inventory: dict
    achievements: dict


class CrafterEnv(gym.Env):
    """Crafter as a Gymnasium environment.

    Observation: ``{"image": (64, 64, 3) uint8, "inventory": (16,) uint8}``, the
    inventory in the order of `inventory_names`. Actions: Crafter's 17, named in
    `action_names`. `info["events"]` names what the step caused: achievements
    (``collect_wood``), items obtained or consumed (``obtain:wood``,
    ``consume:stone``), damage and its likely cause (``hurt:zombie``) and
    ``death``. Privileged state for scripted players and evaluation is in
    `info` too: ``semantic`` (the whole map, ids in `semantic_names`),
    ``player_pos``, ``facing``, ``daylight``, ``sleeping``.

    With a `task`, the episode starts from the task's inventory, ends with
    ``terminated`` when the target is reached (``info["success"]``) or the
    player dies, and is ``truncated`` at the task's step limit.

    With `stats_dir`, Crafter's own `crafter.Recorder` wraps the game and
    appends each episode's summary (length, reward, achievement counts) to
    `<stats_dir>/stats.jsonl`, as the benchmark's scoring expects; Crafter's
    episode then lasts `max_steps` (a summary is written at death or the limit), the
    task reached or not.

    It always runs the fast code of `DeterministicCrafter` (`fast=True`): the
    renderer of `crafter_render` and the world generation of `crafter_worldgen`,
    whose frames, worlds and random draws equal Crafter's own code (tested in
    tests/test_crafter_speed.py). World generation is compiled with numba when
    numba works, and runs in numpy otherwise (or with NUMBA_DISABLE_JIT=1).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, task: Task | None = None, size: int = 64, max_steps: int | None = None,
                 reward: str = "crafter", render_mode: str | None = "rgb_array",
                 stats_dir: str | None = None):
        if reward not in ("crafter", "task"):
            raise ValueError(f"reward must be 'crafter' or 'task', not {reward!r}")
        self.rules = crafter_rules()
        self.task = task
        self.max_steps = max_steps or (task.max_steps if task else 10000)
        self.reward_mode = reward
        self.render_mode = render_mode
        self._env = DeterministicCrafter(size=(size, size), reward=True, seed=0,
                                         length=self.max_steps if stats_dir else None)
        self._recorder = (crafter.Recorder(self._env, stats_dir, save_stats=True,
                                           save_video=False, save_episode=False)
                          if stats_dir else None)
        self.action_names = tuple(self._env.action_names)
        self.inventory_names = tuple(self.rules.items)
        self.semantic_names = (None, *self.rules.materials, *SEMANTIC_OBJECTS)
        self.action_space = gym.spaces.Discrete(len(self.action_names))
        self.observation_space = gym.spaces.Dict({
            "image": gym.spaces.Box(0, 255, (size, size, 3), np.uint8),
            "inventory": gym.spaces.Box(0, 9, (len(self.inventory_names),), np.uint8),
        })
        self._last_frame = None
        self._before: _Snapshot | None = None
        self._steps = 0

    # -- Gymnasium API ------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        world_seed = int(self.np_random.integers(0, 2**31 - 1))
        self._env.next_world_seed = world_seed
        frame = self._game.reset()
        player = self._env._player
        if self.task:
            for item, count in self.task.initial_inventory.items():
                player.inventory[item] = count
        self._steps = 0
        self._last_frame = frame
        self._before = self._snapshot()
        info = self._info(events=[], success=self._task_done())
        info["world_seed"] = world_seed
        return self._obs(frame), info

    def step(self, action):
        if self._before is None:
            raise RuntimeError("call reset() before step()")
        frame, reward, _, crafter_info = self._game.step(int(action))
        dead = self._env._player.health <= 0
        self._steps += 1
        self._last_frame = frame
        after = self._snapshot()
        events = self._events(self._before, after)
        self._before = after
        success = self._task_done()
        if self.reward_mode == "task":
            reward = float(success)
        # Under Crafter's recorder (its benchmark) an episode lasts to death or the step
        # limit even when the task is done: the recorder writes its summary only then.
        terminated = bool(dead or (self.task is not None and success and self._recorder is None))
        truncated = not terminated and self._steps >= self.max_steps
        info = self._info(events, success, crafter_info["semantic"])
        return self._obs(frame), float(reward), terminated, truncated, info

    def render(self):
        # The last observation: rendering again would draw from the world's random state.
        return self._last_frame

    @property
    def _game(self):
        """What reset and step go through: the game, or Crafter's recorder around it."""
        return self._recorder if self._recorder is not None else self._env

    # -- privileged access for scripted players ----------------------------
    @property
    def world(self):
        return self._env._world

    @property
    def player(self):
        return self._env._player

    @property
    def steps(self) -> int:
        return self._steps

    # -- helpers -------------------------------------------------------------
    def _obs(self, frame):
        inventory = self._env._player.inventory
        vector = np.array([inventory[name] for name in self.inventory_names], np.uint8)
        return {"image": frame, "inventory": vector}

    def _snapshot(self) -> _Snapshot:
        player = self._env._player
        return _Snapshot(player.inventory.copy(), player.achievements.copy())

    def _task_done(self) -> bool:
        if self.task is None:
            return False
        return self.task.reached(self._env._player.inventory, self._env._player.achievements)

    def _events(self, before: _Snapshot, after: _Snapshot) -> list[str]:
        events = [name for name in self.rules.achievements
                  if after.achievements[name] > before.achievements[name]]
        for item in self.inventory_names:
            if item in VITALS:
                continue
            delta = after.inventory[item] - before.inventory[item]
            if delta > 0:
                events.append(f"obtain:{item}")
            elif delta < 0:
                events.append(f"consume:{item}")
        if after.inventory["health"] < before.inventory["health"]:
            events.append(f"hurt:{self._damage_cause(after.inventory)}")
            if after.inventory["health"] <= 0:
                events.append("death")
        return events

    def _damage_cause(self, inventory: dict) -> str:
        player = self._env._player
        world = self._env._world
        if world[player.pos][0] == "lava":
            return "lava"
        x, y = player.pos
        for dx, dy in ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)):
            obj = world[(x + dx, y + dy)][1]
            if isinstance(obj, objects.Zombie):
                return "zombie"
        for need, cause in (("food", "hunger"), ("drink", "thirst"), ("energy", "fatigue")):
            if inventory[need] <= 0:
                return cause
        return "arrow"

    def _info(self, events: list[str], success: bool, semantic=None) -> dict[str, Any]:
        env, player = self._env, self._env._player
        return {
            "events": events,
            "inventory": player.inventory.copy(),
            "achievements": player.achievements.copy(),
            "semantic": env._sem_view() if semantic is None else semantic,
            "player_pos": tuple(int(v) for v in player.pos),
            "facing": tuple(int(v) for v in player.facing),
            "daylight": float(env._world.daylight),
            "sleeping": bool(player.sleeping),
            "step": self._steps,
            "success": success,
        }
