"""The MineDojo backend, up to MineDojo's API boundary.

Real Minecraft cannot run on this machine: MineDojo needs a Java 8 JDK and
downloads and builds Minecraft the first time an environment is made. So the
task -> `minedojo.make` mapping is checked as a pure function against facts
from MineDojo's documentation, and the environment is driven end to end
against `fake_minedojo`, a stand-in module with MineDojo's documented shapes
that checks the arguments and actions it receives.
"""

import pathlib
import sys
import types
from typing import NamedTuple

import gymnasium
import numpy as np
import pytest
import yaml
from gymnasium.wrappers import PassiveEnvChecker

import mcagent.worlds as worlds
from mcagent.errors import UserError
from mcagent.worlds.minedojo_world import (
    InventorySlot, MineDojoEnv, flat_actions, inventory_counts, inventory_events,
    minedojo_make_kwargs, minedojo_spec)
from mcagent.worlds.tasks import Task, get_suite

# Facts from MineDojo's documentation (docs.minedojo.org).
# Task customization: minedojo.make("harvest", ...) takes the Harvest meta task's arguments.
HARVEST_ARGUMENTS = {
    "task_id", "cam_interval", "target_names", "target_quantities", "reward_weights",
    "initial_mobs", "initial_mob_spawn_range_low", "initial_mob_spawn_range_high",
    "spawn_rate", "spawn_range_low", "spawn_range_high", "initial_inventory",
    "start_position", "start_health", "start_food", "start_at_night", "initial_weather",
    "allow_time_passage", "specified_biome", "break_speed_multiplier", "seed", "world_seed",
    "fast_reset", "image_size", "use_voxel", "voxel_size", "use_lidar", "lidar_rays",
    "event_level_control", "sim_name"}
# Biome names specified_biome accepts, among them the four Plan4MC uses.
PLAN4MC_BIOMES = {"plains", "forest", "extreme_hills", "forest_hills"}
# Action space: MultiDiscrete([3, 3, 4, 25, 25, 8, 244, 36]); functional actions
# 0 noop, 1 use, 2 drop, 3 attack, 4 craft, 5 equip, 6 place, 7 destroy.
NVEC = (3, 3, 4, 25, 25, 8, 244, 36)
NO_OP = (0, 0, 0, 12, 12, 0, 0, 0)
PLAN4MC = get_suite("plan4mc")


# -- the fake --------------------------------------------------------------------------------
class FakeInventoryItem(NamedTuple):  # minedojo.sim.InventoryItem
    slot: int
    name: str
    variant: int | None = None
    quantity: int | None = None


# Craftable items, the argument of "craft" indexes them: Plan4MC's, in an order
# of the fake's own (MineDojo's list, minedojo.sim.mc_meta.mc, has 244).
FAKE_CRAFTABLE = ["crafting_table", "planks", "stick", "wooden_pickaxe", "furnace", "bowl",
                  "chest", "trapdoor", "sign", "wooden_axe", "wooden_sword", "wooden_shovel",
                  "stone_stairs", "stone_slab", "cobblestone_wall", "lever", "stone_pickaxe",
                  "stone_axe", "stone_sword", "stone_shovel", "coal", "torch", "shears",
                  "bucket", "bed", "painting", "carpet", "item_frame", "cooked_beef",
                  "cooked_mutton", "iron_ingot", "iron_pickaxe", "iron_sword", "tripwire_hook",
                  "heavy_weighted_pressure_plate", "minecart", "hopper"]
RECIPES = {"planks": ({"log": 1}, 4), "crafting_table": ({"planks": 4}, 1)}


class FakeMineDojoEnv:
    """Minecraft reduced to an inventory: attack gives a log, craft follows RECIPES."""

    def __init__(self, kwargs):
        self.kwargs, self.actions, self.closed, self.time = kwargs, [], False, None
        self.action_space = types.SimpleNamespace(nvec=np.array(NVEC),
                                                  no_op=lambda: np.array(NO_OP))
        self.unwrapped = self

    def _obs(self):
        names = [n.replace("_", " ") for n in self.slots] + ["air"] * (36 - len(self.slots))
        quantities = list(self.slots.values()) + [0] * (36 - len(self.slots))
        height, width = self.kwargs["image_size"]
        rgb = np.zeros((3, height, width), np.uint8)
        rgb[0] = 200  # red, to check the (3, H, W) -> (H, W, 3) transpose
        inventory = {"name": np.array(names), "quantity": np.array(quantities, np.float32)}
        return {"rgb": rgb, "inventory": inventory,
                "nearby_tools": {"table": np.array(self.table), "furnace": np.array(False)},
                "life_stats": {"life": np.array([20.0], np.float32)},
                "location_stats": {"pos": np.zeros(3, np.float32)},
                "voxels": {"block_name": np.full((3, 3, 3), "grass")},
                "rays": {"block_name": np.array(["log"] * len(self.kwargs["lidar_rays"]))}}

    def reset(self):
        self.slots = {i.name: i.quantity for i in self.kwargs.get("initial_inventory", [])}
        self.table = False
        return self._obs()

    def set_time(self, time):
        self.time = time
        return self._obs(), 0.0, False, {}

    def step(self, action):
        action = np.asarray(action)
        assert action.shape == (8,) and ((0 <= action) & (action < NVEC)).all(), action
        self.actions.append(action.tolist())
        functional, held = action[5], list(self.slots) + ["air"] * 36
        if functional == 3:  # attack
            self.slots["log"] = self.slots.get("log", 0) + 1
        elif functional == 4:  # craft: nothing happens without the ingredients
            item = FAKE_CRAFTABLE[action[6]]
            needs, makes = RECIPES.get(item, ({"unobtainium": 1}, 0))
            if all(self.slots.get(k, 0) >= n for k, n in needs.items()):
                for k, n in needs.items():
                    self.slots[k] -= n
                self.slots[item] = self.slots.get(item, 0) + makes
        elif functional in (5, 6):  # equip, place: mcagent must name a slot that holds it
            assert held[action[7]] != "air", "equip/place of an empty slot"
            if functional == 6:
                self.slots[held[action[7]]] -= 1
                self.table |= held[action[7]] == "crafting_table"
        self.slots = {k: v for k, v in self.slots.items() if v > 0}
        done = self.slots.get(self.kwargs["target_names"], 0) >= self.kwargs["target_quantities"]
        return self._obs(), float(done), done, {}

    def close(self):
        self.closed = True


@pytest.fixture
def fake_minedojo(monkeypatch):
    made = []

    def make(**kwargs):
        unknown = set(kwargs) - HARVEST_ARGUMENTS
        assert not unknown, f"not minedojo.make arguments: {unknown}"
        assert kwargs["task_id"] == "harvest"
        assert isinstance(kwargs["specified_biome"], str)
        assert [type(n) for n in kwargs["image_size"]] == [int, int]
        assert all(len(ray) == 3 and abs(ray[0]) <= np.pi for ray in kwargs["lidar_rays"])
        for item in kwargs.get("initial_inventory", []):
            assert isinstance(item, FakeInventoryItem) and 0 <= item.slot <= 40
        made.append(FakeMineDojoEnv(kwargs))
        return made[-1]

    mc = types.ModuleType("minedojo.sim.mc_meta.mc")
    mc.ALL_CRAFT_SMELT_ITEMS = FAKE_CRAFTABLE
    sim = types.ModuleType("minedojo.sim")
    sim.InventoryItem = FakeInventoryItem
    root = types.ModuleType("minedojo")
    root.make, root.sim = make, sim
    for name, module in (("minedojo", root), ("minedojo.sim", sim),
                         ("minedojo.sim.mc_meta", types.ModuleType("minedojo.sim.mc_meta")),
                         ("minedojo.sim.mc_meta.mc", mc)):
        monkeypatch.setitem(sys.modules, name, module)
    return made


# -- task -> minedojo.make -------------------------------------------------------------------
def test_kwargs_for_all_40_plan4mc_tasks_follow_the_documented_api():
    assert len(PLAN4MC.tasks) == 40
    for task in PLAN4MC.tasks:
        kwargs = minedojo_make_kwargs(task)
        assert set(kwargs) <= HARVEST_ARGUMENTS, task.name
        assert kwargs["task_id"] == "harvest"
        assert kwargs["specified_biome"] in PLAN4MC_BIOMES
        assert kwargs["target_names"] == task.target.removesuffix("_nearby")
        assert kwargs["target_quantities"] == task.count == 1
        inventory = kwargs.get("initial_inventory", [])
        assert [(i.name, i.quantity) for i in inventory] == list(task.initial_inventory.items())
        slots = [i.slot for i in inventory]
        assert len(set(slots)) == len(slots) and all(0 <= s <= 35 for s in slots)
        assert all(i.variant is None and 1 <= i.quantity <= 64 for i in inventory)
        assert kwargs["image_size"] == (160, 256)
        assert all(len(ray) == 3 for ray in kwargs["lidar_rays"])
        if "initial_mobs" in kwargs:
            low = kwargs["initial_mob_spawn_range_low"]
            high = kwargs["initial_mob_spawn_range_high"]
            assert len(low) == len(high) == 3 and all(a <= b for a, b in zip(low, high))


def test_kwargs_examples():
    milk = minedojo_make_kwargs(
        PLAN4MC.task("harvest_milk_with_crafting_table_and_iron_ingot"), seed=7)
    assert milk["initial_inventory"] == [InventorySlot(0, "crafting_table", None, 1),
                                         InventorySlot(1, "iron_ingot", None, 3)]
    assert milk["initial_mobs"] == ["cow"] * 3 + ["sheep"] * 3
    assert milk["initial_mob_spawn_range_low"] == (-30, 1, -30)
    assert milk["world_seed"] == milk["seed"] == 7
    furnace = minedojo_make_kwargs(PLAN4MC.task("get_furnace_nearby_with_logs"), image_size=64)
    assert furnace["target_names"] == "furnace" and furnace["image_size"] == (64, 64)
    assert furnace["specified_biome"] == "extreme_hills"
    # Plan4MC's lidar: pitch -30..25 by 5, yaw -45..40 by 5, 99 blocks, in radians.
    assert len(furnace["lidar_rays"]) == 12 * 18
    assert furnace["lidar_rays"][0] == pytest.approx((-np.pi / 6, -np.pi / 4, 99))


@pytest.mark.parametrize("change, message", [
    (dict(extra={"biome": "planes"}), "unknown biome 'planes'"),
    (dict(initial_inventory={"crafting_table_nearby": 1}), "a block placed near the agent"),
    (dict(initial_inventory={"log": 65}), r"must be an integer in 1\.\.64"),
    (dict(extra={"biome": "plains", "weather": "rain"}), "field 'weather' has no MineDojo"),
    (dict(extra={"initial_mobs": ["cow"]}), "initial_mob_spawn_range_low must be three"),
    (dict(target="cow_nearby"), "no MineDojo target for 'cow_nearby'"),
])
def test_bad_tasks_are_rejected_with_the_task_named(change, message):
    fields = dict(name="t", world="minedojo", target_kind="item", target="stick", count=1,
                  initial_inventory={}, max_steps=10, extra={"biome": "plains"})
    with pytest.raises(UserError, match=f"task 't'.*{message}"):
        minedojo_make_kwargs(Task(**{**fields, **change}))


# -- tables ----------------------------------------------------------------------------------
def test_flat_actions_follow_plan4mcs_flattening():
    names = [a.name for a in flat_actions()]
    # index = 3 * movement + interaction, as Plan4MC's DQN flattens its [12, 3] actions
    assert names[:6] == ["noop", "use", "attack", "forward", "forward+use", "forward+attack"]
    assert names[3 * 8 + 2] == "look_up+attack" and names[35] == "turn_right+attack"
    assert {"craft:planks", "equip:stone_pickaxe", "place:crafting_table"} <= set(names)
    assert len(names) == len(set(names))


def test_inventory_vocabulary_covers_plan4mcs_skill_graph():
    graph = yaml.safe_load((pathlib.Path(__file__).parents[1] / "skill_graph" / "plan4mc"
                            / "skills.yaml").read_text())
    items = {item for skill in graph.values() for part in ("consume", "require", "obtain")
             for item in (skill[part] or {})}
    spec = minedojo_spec()
    assert {i for i in items if not i.endswith("_nearby")} <= set(spec.inventory)
    assert {s for s, skill in graph.items() if skill["skill_type"] == 2} == set(spec.craft)
    assert {e for skill in graph.values() for e in skill["equip"]} == set(spec.equip)


def test_inventory_counts_and_events():
    counts = inventory_counts(["log", "crafting table", "air", "log"], [3.0, 1.0, 0.0, 2.0])
    assert counts == {"log": 5, "crafting_table": 1}
    assert inventory_events(counts, {"log": 1, "planks": 4}) == [
        "consume:crafting_table", "consume:log", "obtain:planks"]


# -- without MineDojo ------------------------------------------------------------------------
def test_without_minedojo_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "minedojo", None)  # makes `import minedojo` fail
    with pytest.raises(UserError) as error:
        worlds.make("minedojo", task="craft_stick")
    message = str(error.value)
    assert "pip install mcagent[minedojo]" in message
    assert "Java 8" in message and "internet" in message


# -- end to end against the fake -------------------------------------------------------------
def _act(env, name):
    return env.step(env.action_names.index(name))


def test_env_plays_a_nearby_task_end_to_end(fake_minedojo):
    env = gymnasium.make("mcagent/MineDojo-v0", task=PLAN4MC.task("get_crafting_table_nearby"),
                         image_size=(16, 24), disable_env_checker=True).unwrapped
    assert isinstance(env, MineDojoEnv)
    obs, info = env.reset(seed=5)
    (sim,) = fake_minedojo
    assert sim.kwargs["specified_biome"] == "plains" and sim.kwargs["world_seed"] == 5
    assert sim.kwargs["target_names"] == "crafting_table" and sim.time == 6000
    assert sim.actions == [list(NO_OP)] * 4  # settling after reset
    assert obs["image"].shape == (16, 24, 3) and (obs["image"][..., 0] == 200).all()
    assert info["success"] is False and info["voxels"]["block_name"].shape == (3, 3, 3)

    for _ in range(4):
        _, _, _, _, info = _act(env, "attack")
    assert info["events"] == ["obtain:log"] and sim.actions[-1] == [0, 0, 0, 12, 12, 3, 0, 0]
    _, _, _, _, info = _act(env, "look_down+attack")
    assert sim.actions[-1] == [0, 0, 0, 14, 12, 3, 0, 0]  # +30 degrees: two 15-degree bins
    _, _, _, _, info = _act(env, "craft:planks")
    assert sim.actions[-1][5:7] == [4, FAKE_CRAFTABLE.index("planks")]
    assert info["events"] == ["consume:log", "obtain:planks"]
    obs, _, terminated, _, info = _act(env, "craft:crafting_table")
    # MineDojo is done (it holds its target), but the task wants the table placed.
    assert info["minedojo_done"] and not terminated and not info["success"]
    assert obs["inventory"][env.inventory_names.index("crafting_table")] == 1
    table_slot = list(sim.slots).index("crafting_table")
    _, reward, terminated, truncated, info = _act(env, "place:crafting_table")
    assert sim.actions[-1][5] == 6 and sim.actions[-1][7] == table_slot == 1
    assert info["events"] == ["consume:crafting_table", "obtain:crafting_table_nearby"]
    assert info["success"] and terminated and not truncated and reward == 1.0


def test_equip_of_an_item_not_held_does_nothing(fake_minedojo):
    env = worlds.make("minedojo", task="craft_stone_pickaxe_with_wooden_pickaxe")
    env.reset(seed=1)
    _, _, _, _, info = _act(env, "equip:wooden_pickaxe")
    assert fake_minedojo[0].actions[-1] == [0, 0, 0, 12, 12, 5, 0, 0]  # slot 0 holds it
    assert info["invalid_action"] is None
    _, _, _, _, info = _act(env, "equip:iron_pickaxe")
    assert info["invalid_action"] == "equip:iron_pickaxe"
    assert fake_minedojo[0].actions[-1] == list(NO_OP)


def test_a_task_is_required(fake_minedojo):
    with pytest.raises(UserError, match="needs a task"):
        worlds.make("minedojo")


def test_seeds_choose_worlds_and_steps_are_limited(fake_minedojo):
    env = worlds.make("minedojo", task="craft_stick", max_steps=3)
    env.reset(seed=1)
    env.reset()  # same world, MineDojo's fast reset
    assert len(fake_minedojo) == 1
    env.reset(seed=2)  # a new world: the old Minecraft is closed
    assert len(fake_minedojo) == 2 and fake_minedojo[0].closed
    assert fake_minedojo[1].kwargs["world_seed"] == 2
    flags = [_act(env, "forward")[3] for _ in range(3)]
    assert flags == [False, False, True]


def test_gymnasium_passive_checker_accepts_spaces_and_returns(fake_minedojo):
    # Not check_env: its determinism checks cannot compare MineDojo's string arrays
    # in info, and would only test the fake, Minecraft being nondeterministic.
    env = PassiveEnvChecker(worlds.make("minedojo", task="craft_stick", image_size=8))
    obs, _ = env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(20):
        obs, *_ = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)
