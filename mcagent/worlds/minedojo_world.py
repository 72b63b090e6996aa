"""Real Minecraft through MineDojo, behind the same Gymnasium interface as the Crafter world.

MineDojo (pip `minedojo`, the optional extra `mcagent[minedojo]`) needs a Java 8
JDK and builds Minecraft on first use, downloading it, so it is imported only
when an environment is made. What MineDojo is asked for is data
(`minedojo.yaml`) read by pure functions, testable without Minecraft:

- `minedojo_make_kwargs(task)`: a Plan4MC task -> the arguments of `minedojo.make`;
- `flat_actions(spec)` and `encode_action(...)`: mcagent's flat action set ->
  MineDojo's 8-number action (Plan4MC's 36 movement x interaction actions, then
  `craft:<item>`, `equip:<item>`, `place:<item>`);
- `inventory_counts(...)` and `inventory_events(...)`: MineDojo's 36 inventory
  slots -> item counts, and the `obtain:<item>`/`consume:<item>` events of a step.

MineDojo's API as documented at https://docs.minedojo.org (task customization,
observation space, action space); Plan4MC (PKU-RL/Plan4MC, envs/minecraft_hard_task.py)
drives it the same way, on a modified MineDojo whose extra reset options are
not used here.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import importlib
import pathlib
import types
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import yaml

from mcagent.errors import UserError
from mcagent.worlds.tasks import Task

SPEC_PATH = pathlib.Path(__file__).parent / "minedojo.yaml"
SPEC_FORMAT = "mcagent-minedojo/1"
INSTALL_HELP = (
    "the minedojo world needs MineDojo, which is not installed here. Install it with "
    "`pip install mcagent[minedojo]` (Python >= 3.9), and a Java 8 JDK "
    "(`java -version` must print 1.8, e.g. `apt-get install openjdk-8-jdk`). "
    "The first environment made downloads and builds Minecraft, which needs internet "
    "and takes several minutes; on a machine without a display set MINEDOJO_HEADLESS=1 "
    "or run under xvfb-run. See https://docs.minedojo.org/sections/getting_started/install.html"
)
# Inventory slots 0-35 (docs, sim customization: 0-8 hotbar, 9-35 inventory,
# 36-40 equipment), and a stack holds at most 64.
N_SLOTS, STACK = 36, 64
CAMERA_DIMENSIONS = ("camera_pitch", "camera_yaw")


class InventorySlot(NamedTuple):
    """One initial inventory entry, the fields of `minedojo.sim.InventoryItem`."""

    slot: int
    name: str
    variant: int | None
    quantity: int


@dataclasses.dataclass(frozen=True)
class FlatAction:
    """A named action: values for some of MineDojo's 8 dimensions, and an item argument.

    `fields` maps a dimension name to its value (degrees for the camera);
    `argument` is "craft" (the item's index in MineDojo's craftable list) or
    "slot" (the inventory slot holding the item) for the functional actions.
    """

    name: str
    fields: Mapping[str, int]
    item: str | None = None
    argument: str | None = None


@dataclasses.dataclass(frozen=True)
class MineDojoSpec:
    """`minedojo.yaml`, checked: see that file for what each part means."""

    make: Mapping[str, Any]
    lidar_rays: tuple[tuple[float, float, float], ...]
    task_fields: Mapping[str, str]
    nearby: Mapping[str, tuple[str, str]]  # target -> (item MineDojo harvests, nearby_tools flag)
    reset_time: int | None
    reset_noop_steps: int
    camera_interval: int
    dimensions: tuple[str, ...]
    movements: Mapping[str, Mapping[str, int]]
    interactions: Mapping[str, Mapping[str, int]]
    functional: Mapping[str, int]
    craft: tuple[str, ...]
    equip: tuple[str, ...]
    place: tuple[str, ...]
    inventory: tuple[str, ...]
    biomes: frozenset[str]
    mobs: frozenset[str]
    source: str


# -- the spec file ---------------------------------------------------------------------------
def _fields(raw: Mapping, values: Mapping[str, Mapping[str, int]], camera_interval: int,
            where: str) -> dict[str, int]:
    """A movement's or interaction's dimension values, names resolved to numbers."""
    fields = {}
    for dimension, value in (raw or {}).items():
        if dimension in CAMERA_DIMENSIONS:
            if not isinstance(value, int) or value % camera_interval:
                raise UserError(f"{where}: {dimension} {value!r} must be a multiple of "
                                f"camera_interval ({camera_interval} degrees)")
            fields[dimension] = value
        elif dimension in values:
            if value not in values[dimension]:
                raise UserError(f"{where}: unknown {dimension} value {value!r}; valid: "
                                f"{', '.join(values[dimension])}")
            fields[dimension] = values[dimension][value]
        else:
            raise UserError(f"{where}: unknown dimension {dimension!r}; valid: "
                            f"{', '.join([*CAMERA_DIMENSIONS, *values])}")
    return fields


def _degree_range(raw: Mapping) -> range:
    return range(int(raw["start"]), int(raw["stop"]), int(raw["step"]))


@functools.lru_cache(maxsize=None)
def minedojo_spec(path: pathlib.Path = SPEC_PATH) -> MineDojoSpec:
    """The MineDojo backend's tables, read from `path` and checked."""
    data = yaml.safe_load(pathlib.Path(path).read_text())
    where = str(path)
    if data.get("format") != SPEC_FORMAT:
        raise UserError(f"{where}: expected format {SPEC_FORMAT!r}, got {data.get('format')!r}")
    dimensions = tuple(data["dimensions"])
    needed = {*CAMERA_DIMENSIONS, *data["values"], "craft_item", "inventory_slot"}
    if len(dimensions) != 8 or set(dimensions) != needed:
        raise UserError(f"{where}: dimensions must name MineDojo's 8 action dimensions: "
                        f"{', '.join(sorted(needed))}")
    values = {name: dict(table) for name, table in data["values"].items()}
    interval = int(data["camera_interval"])
    inventory = tuple(data["inventory"])
    for part in ("craft", "equip", "place"):
        unknown = [item for item in data[part] if item not in inventory]
        if unknown:
            raise UserError(f"{where}: {part} names item(s) {unknown} missing from inventory")
    nearby = {target: (entry["item"], entry["flag"]) for target, entry in data["nearby"].items()}
    lidar = data["lidar"]
    rays = tuple((float(np.deg2rad(pitch)), float(np.deg2rad(yaw)), float(lidar["distance"]))
                 for pitch in _degree_range(lidar["pitch_degrees"])
                 for yaw in _degree_range(lidar["yaw_degrees"]))
    after_reset = data.get("after_reset") or {}
    return MineDojoSpec(
        make=types.MappingProxyType(dict(data["make"])),
        lidar_rays=rays,
        task_fields=types.MappingProxyType(dict(data["task_fields"])),
        nearby=types.MappingProxyType(nearby),
        reset_time=after_reset.get("time"),
        reset_noop_steps=int(after_reset.get("noop_steps", 0)),
        camera_interval=interval,
        dimensions=dimensions,
        movements={name: _fields(raw, values, interval, f"{where}: movement {name!r}")
                   for name, raw in data["movements"].items()},
        interactions={name: _fields(raw, values, interval, f"{where}: interaction {name!r}")
                      for name, raw in data["interactions"].items()},
        functional=types.MappingProxyType(values["functional"]),
        craft=tuple(data["craft"]),
        equip=tuple(data["equip"]),
        place=tuple(data["place"]),
        inventory=inventory,
        biomes=frozenset(data["biomes"]),
        mobs=frozenset(data["mobs"]),
        source=where,
    )


# -- tasks -> minedojo.make ------------------------------------------------------------------
def _image_size(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return (size, size)
    height, width = size
    return (int(height), int(width))


def _spawn_range(value: object, where: str) -> tuple[int, int, int]:
    if not (isinstance(value, (list, tuple)) and len(value) == 3
            and all(isinstance(v, int) for v in value)):
        raise UserError(f"{where} must be three integers (x, y, z), got {value!r}")
    return tuple(value)


def minedojo_make_kwargs(task: Task, spec: MineDojoSpec | None = None, *,
                         seed: int | None = None,
                         image_size: int | Sequence[int] | None = None) -> dict[str, Any]:
    """The keyword arguments of `minedojo.make` for `task`; pure, MineDojo not needed.

    `initial_inventory` holds `InventorySlot` records, which the environment turns
    into `minedojo.sim.InventoryItem`s. With `seed`, the world and MineDojo's
    random generator are seeded with it. The task's step limit is not among
    them: MineDojo has none, the environment truncates.
    """
    spec = spec or minedojo_spec()
    where = f"task {task.name!r}"
    if task.world != "minedojo":
        raise UserError(f"{where} is a {task.world} task; the minedojo world runs tasks "
                        "of the plan4mc suite")
    kwargs: dict[str, Any] = copy.deepcopy(dict(spec.make))
    kwargs["image_size"] = _image_size(image_size if image_size is not None
                                       else kwargs["image_size"])
    if kwargs.get("use_lidar"):
        kwargs["lidar_rays"] = list(spec.lidar_rays)

    target = spec.nearby[task.target][0] if task.target in spec.nearby else task.target
    if target.endswith("_nearby"):
        raise UserError(f"{where}: no MineDojo target for {task.target!r}; the nearby targets "
                        f"are {', '.join(spec.nearby)} (nearby in {spec.source})")
    if not isinstance(task.count, int) or task.count < 1:
        raise UserError(f"{where}: target quantity must be a positive integer, got {task.count!r}")
    kwargs["target_names"] = target
    kwargs["target_quantities"] = task.count

    if len(task.initial_inventory) > N_SLOTS:
        raise UserError(f"{where}: {len(task.initial_inventory)} initial items do not fit "
                        f"the {N_SLOTS} inventory slots")
    inventory = []
    for slot, (item, quantity) in enumerate(task.initial_inventory.items()):
        if item.endswith("_nearby"):
            raise UserError(f"{where}: initial_inventory has {item!r}, a block placed near the "
                            "agent, not an item it can hold; give the item instead "
                            f"({item.removesuffix('_nearby')!r}) and let the agent place it")
        if item not in spec.inventory:
            raise UserError(f"{where}: initial_inventory has unknown item {item!r}; add it to "
                            f"inventory in {spec.source}")
        if not isinstance(quantity, int) or not 1 <= quantity <= STACK:
            raise UserError(f"{where}: initial_inventory {item}={quantity!r} must be an integer "
                            f"in 1..{STACK} (one slot's stack)")
        inventory.append(InventorySlot(slot, item, None, quantity))
    if inventory:
        kwargs["initial_inventory"] = inventory

    for field, value in task.extra.items():
        if field not in spec.task_fields:
            raise UserError(f"{where}: field {field!r} has no MineDojo argument; known fields: "
                            f"{', '.join(spec.task_fields)} (task_fields in {spec.source})")
        kwargs[spec.task_fields[field]] = value
    biome = kwargs.get("specified_biome")
    if biome is not None and biome not in spec.biomes:
        raise UserError(f"{where}: unknown biome {biome!r}; MineDojo's biomes: "
                        f"{', '.join(sorted(spec.biomes))}")
    mobs = kwargs.get("initial_mobs")
    if mobs:
        mobs = [mobs] if isinstance(mobs, str) else list(mobs)
        for mob in mobs:
            if mob not in spec.mobs:
                raise UserError(f"{where}: unknown mob {mob!r}; known: "
                                f"{', '.join(sorted(spec.mobs))} (mobs in {spec.source})")
        kwargs["initial_mobs"] = mobs
        ranges = [_spawn_range(kwargs.get(f"initial_mob_spawn_range_{end}"),
                               f"{where}: initial_mob_spawn_range_{end}")
                  for end in ("low", "high")]
        if any(low > high for low, high in zip(*ranges)):
            raise UserError(f"{where}: initial_mob_spawn_range_low {ranges[0]} exceeds "
                            f"initial_mob_spawn_range_high {ranges[1]}")
        kwargs["initial_mob_spawn_range_low"], kwargs["initial_mob_spawn_range_high"] = ranges
    if seed is not None:
        kwargs["world_seed"] = kwargs["seed"] = int(seed)
    return kwargs


# -- actions ---------------------------------------------------------------------------------
def flat_actions(spec: MineDojoSpec | None = None) -> tuple[FlatAction, ...]:
    """mcagent's discrete action set for MineDojo, in index order."""
    spec = spec or minedojo_spec()
    actions = []
    for move, move_fields in spec.movements.items():
        for interaction, interaction_fields in spec.interactions.items():
            if interaction == "none":
                name = move
            elif move == "noop":
                name = interaction
            else:
                name = f"{move}+{interaction}"
            actions.append(FlatAction(name, {**move_fields, **interaction_fields}))
    for kind, argument in (("craft", "craft"), ("equip", "slot"), ("place", "slot")):
        for item in getattr(spec, kind):
            actions.append(FlatAction(f"{kind}:{item}", {"functional": spec.functional[kind]},
                                      item, argument))
    return tuple(actions)


def item_name(minedojo_name: str) -> str:
    """MineDojo's observations write names with spaces ("crafting table"); tasks use ids."""
    return str(minedojo_name).replace(" ", "_")


def encode_action(action: FlatAction, no_op: Sequence[int], craft_index: Mapping[str, int],
                  slot_names: Sequence[str], spec: MineDojoSpec | None = None) -> np.ndarray | None:
    """MineDojo's 8 numbers for `action`, or None when it needs an item no slot holds."""
    spec = spec or minedojo_spec()
    vector = np.array(no_op, dtype=np.int64)
    for dimension, value in action.fields.items():
        index = spec.dimensions.index(dimension)
        if dimension in CAMERA_DIMENSIONS:
            # The no-op camera bin is the middle one, each bin `camera_interval` degrees.
            vector[index] = int(no_op[index]) + value // spec.camera_interval
        else:
            vector[index] = value
    if action.argument == "craft":
        vector[spec.dimensions.index("craft_item")] = craft_index[action.item]
    elif action.argument == "slot":
        slots = [i for i, name in enumerate(slot_names) if item_name(name) == action.item]
        if not slots:
            return None
        vector[spec.dimensions.index("inventory_slot")] = slots[0]
    return vector


# -- observations ----------------------------------------------------------------------------
def inventory_counts(names: Sequence[str], quantities: Sequence[float]) -> dict[str, int]:
    """Item counts over MineDojo's inventory slots; empty slots hold "air"."""
    counts: dict[str, int] = {}
    for name, quantity in zip(names, quantities):
        item = item_name(name)
        if item != "air" and quantity > 0:
            counts[item] = counts.get(item, 0) + int(quantity)
    return counts


def inventory_events(before: Mapping[str, int], after: Mapping[str, int]) -> list[str]:
    """`obtain:<item>` / `consume:<item>` for every item whose count went up / down."""
    events = []
    for item in sorted(set(before) | set(after)):
        delta = after.get(item, 0) - before.get(item, 0)
        if delta > 0:
            events.append(f"obtain:{item}")
        elif delta < 0:
            events.append(f"consume:{item}")
    return events


@dataclasses.dataclass(frozen=True)
class _State:
    counts: dict[str, int]
    nearby: dict[str, bool]
    life: float


def _import_minedojo() -> types.SimpleNamespace:
    try:
        minedojo = importlib.import_module("minedojo")
        sim = importlib.import_module("minedojo.sim")
        mc = importlib.import_module("minedojo.sim.mc_meta.mc")
    except ImportError as error:
        raise UserError(f"{INSTALL_HELP} (import failed: {error})") from error
    # The craft argument indexes this list (docs, action space: "All possible
    # items to be crafted"); Plan4MC's craft skill looks items up in it too.
    return types.SimpleNamespace(make=minedojo.make, InventoryItem=sim.InventoryItem,
                                 craft_items=tuple(mc.ALL_CRAFT_SMELT_ITEMS))


class MineDojoEnv(gym.Env):
    """A Plan4MC task in Minecraft through MineDojo, as a Gymnasium environment.

    Observation: ``{"image": (H, W, 3) uint8, "inventory": (47,) int32}``, the
    frame from MineDojo's (3, H, W) ``rgb`` and the counts of the items in
    `inventory_names`. Actions: `action_names`, mapped to MineDojo's 8-number
    actions by the tables of ``minedojo.yaml``; an equip or place of an item no
    slot holds does nothing and is named in ``info["invalid_action"]``.
    ``info["events"]`` names what a step changed: ``obtain:<item>``,
    ``consume:<item>``, ``obtain:crafting_table_nearby`` (a table now stands
    nearby), ``hurt`` and ``death``. ``info["success"]`` is set when the task's
    target is reached, which ends the episode (``terminated``), as does death;
    it is ``truncated`` at the task's step limit. Privileged state, for
    scripted players and evaluation: ``voxels`` (the 3x3x3 blocks around the
    agent), ``lidar`` (MineDojo's ``rays``), ``location`` (position, yaw,
    pitch, biome), ``life_stats``, ``nearby`` and the full ``inventory``.

    `reset(seed=s)` makes a new Minecraft world from `s` (slow: MineDojo
    starts a new Minecraft); `reset()` keeps the world and uses MineDojo's
    fast reset (the agent is killed, respawns up to 200 blocks away, and gets
    its initial inventory again). Rewards: ``"task"`` gives 1 when the target
    is reached; ``"minedojo"`` passes MineDojo's harvest reward through.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, task: Task | None = None, image_size: int | Sequence[int] | None = None,
                 max_steps: int | None = None, reward: str = "task",
                 render_mode: str | None = "rgb_array"):
        if reward not in ("task", "minedojo"):
            raise ValueError(f"reward must be 'task' or 'minedojo', not {reward!r}")
        self._minedojo = _import_minedojo()
        if task is None:
            raise UserError("the minedojo world needs a task: one of the plan4mc suite, "
                            "e.g. `mcagent.worlds.make('minedojo', task='craft_stick')`")
        self.tables = minedojo_spec()
        self.task = task
        self.make_kwargs = minedojo_make_kwargs(task, self.tables, image_size=image_size)
        self.max_steps = max_steps or task.max_steps
        self.reward_mode = reward
        self.render_mode = render_mode
        self._actions = flat_actions(self.tables)
        self.action_names = tuple(action.name for action in self._actions)
        self.inventory_names = self.tables.inventory
        missing = [item for item in self.tables.craft if item not in self._minedojo.craft_items]
        if missing:
            raise UserError(f"{self.tables.source}: craft names item(s) {missing} that this "
                            "MineDojo cannot craft (not in minedojo.sim.mc_meta.mc."
                            "ALL_CRAFT_SMELT_ITEMS)")
        self._craft_index = {item: self._minedojo.craft_items.index(item)
                             for item in self.tables.craft}
        height, width = self.make_kwargs["image_size"]
        self.action_space = gym.spaces.Discrete(len(self._actions))
        self.observation_space = gym.spaces.Dict({
            "image": gym.spaces.Box(0, 255, (height, width, 3), np.uint8),
            "inventory": gym.spaces.Box(0, N_SLOTS * STACK, (len(self.inventory_names),),
                                        np.int32),
        })
        self._sim = None
        self._sim_seed: int | None = None
        self._no_op: np.ndarray | None = None
        self._before: _State | None = None
        self._slot_names: Sequence[str] = ()
        self._last_frame = None
        self._steps = 0

    # -- Gymnasium API ------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if self._sim is None or (seed is not None and seed != self._sim_seed):
            world_seed = seed if seed is not None else int(self.np_random.integers(0, 2**31 - 1))
            self._open(world_seed)
        obs = self._sim.reset()
        if self.tables.reset_time is not None:
            obs = self._sim.unwrapped.set_time(self.tables.reset_time)[0]
        for _ in range(self.tables.reset_noop_steps):
            obs = self._sim.step(self._no_op.copy())[0]
        self._steps = 0
        self._before = self._state(obs)
        info = self._info(obs, self._before, events=[], success=self._reached(self._before))
        info["world_seed"] = self._sim_seed
        return self._observation(obs, self._before), info

    def step(self, action):
        if self._before is None:
            raise RuntimeError("call reset() before step()")
        chosen = self._actions[int(action)]
        vector = encode_action(chosen, self._no_op, self._craft_index, self._slot_names,
                               self.tables)
        obs, minedojo_reward, minedojo_done, _ = self._sim.step(
            self._no_op.copy() if vector is None else vector)
        self._steps += 1
        after = self._state(obs)
        events = inventory_events(self._before.counts, after.counts)
        events += [f"obtain:{target}" for target, here in after.nearby.items()
                   if here and not self._before.nearby[target]]
        if after.life < self._before.life:
            events.append("hurt")
        dead = after.life <= 0
        if dead and self._before.life > 0:
            events.append("death")
        self._before = after
        success = self._reached(after)
        # MineDojo ends its episode when it holds its target; for a `*_nearby`
        # target that is the item before it is placed, so only a MineDojo end
        # without its target held (the simulator stopping) ends ours too.
        held = after.counts.get(self.make_kwargs["target_names"], 0)
        stopped = bool(minedojo_done) and held < self.make_kwargs["target_quantities"]
        terminated = bool(success or dead or stopped)
        truncated = not terminated and self._steps >= self.max_steps
        reward = float(success) if self.reward_mode == "task" else float(minedojo_reward)
        info = self._info(obs, after, events, success)
        info.update(invalid_action=chosen.name if vector is None else None,
                    minedojo_reward=float(minedojo_reward), minedojo_done=bool(minedojo_done))
        return self._observation(obs, after), reward, terminated, truncated, info

    def render(self):
        return self._last_frame

    def close(self):
        if self._sim is not None:
            self._sim.close()
            self._sim = None

    @property
    def steps(self) -> int:
        return self._steps

    # -- helpers -------------------------------------------------------------
    def _open(self, world_seed: int) -> None:
        self.close()
        kwargs = minedojo_make_kwargs(self.task, self.tables, seed=world_seed,
                                      image_size=self.make_kwargs["image_size"])
        if "initial_inventory" in kwargs:
            kwargs["initial_inventory"] = [self._minedojo.InventoryItem(**slot._asdict())
                                           for slot in kwargs["initial_inventory"]]
        self._sim = self._minedojo.make(**kwargs)
        self._sim_seed = world_seed
        self._no_op = np.asarray(self._sim.action_space.no_op(), dtype=np.int64)

    def _state(self, obs: Mapping[str, Any]) -> _State:
        self._slot_names = list(obs["inventory"]["name"])
        counts = inventory_counts(obs["inventory"]["name"], obs["inventory"]["quantity"])
        nearby = {target: bool(np.asarray(obs["nearby_tools"][flag]))
                  for target, (_, flag) in self.tables.nearby.items()}
        life = float(np.asarray(obs["life_stats"]["life"]).reshape(-1)[0])
        return _State(counts, nearby, life)

    def _reached(self, state: _State) -> bool:
        if self.task.target in self.tables.nearby:
            return state.nearby[self.task.target]
        return state.counts.get(self.task.target, 0) >= self.task.count

    def _observation(self, obs: Mapping[str, Any], state: _State) -> dict[str, np.ndarray]:
        frame = np.ascontiguousarray(np.transpose(np.asarray(obs["rgb"], np.uint8), (1, 2, 0)))
        self._last_frame = frame
        vector = np.array([min(state.counts.get(item, 0), N_SLOTS * STACK)
                           for item in self.inventory_names], np.int32)
        return {"image": frame, "inventory": vector}

    def _info(self, obs: Mapping[str, Any], state: _State, events: list[str],
              success: bool) -> dict[str, Any]:
        return {
            "events": events,
            "inventory": dict(state.counts),
            "nearby": dict(state.nearby),
            "life_stats": obs.get("life_stats"),
            "location": obs.get("location_stats"),
            "voxels": obs.get("voxels"),
            "lidar": obs.get("rays"),
            "step": self._steps,
            "success": success,
        }
