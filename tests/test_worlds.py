"""The embedded Crafter world: Gymnasium API, reproducibility, events, tasks."""

import hashlib
import subprocess
import sys

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mcagent.worlds as worlds
from mcagent.errors import UnknownNameError, UserError
from mcagent.worlds.tasks import get_suite, get_task


def test_check_env_passes():
    env = gymnasium.make("mcagent/Crafter-v0").unwrapped
    check_env(env, skip_render_check=False)


def test_gym_make_by_module_path_in_a_fresh_process():
    code = ("import gymnasium; e = gymnasium.make('mcagent.worlds:mcagent/Crafter-v0');"
            "o, _ = e.reset(seed=1); print(o['image'].shape)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(64, 64, 3)"


_ROLLOUT = """
import hashlib, numpy as np, mcagent.worlds as W
env = W.make("crafter")
obs, info = env.reset(seed=11)
digest, rng = hashlib.sha256(), np.random.default_rng(3)
for _ in range(700):  # past nightfall, so creatures spawn and despawn
    obs, r, term, trunc, info = env.step(rng.choice([1, 2, 3, 4, 5, 5]))
    digest.update(obs["image"].tobytes()); digest.update(repr(info["events"]).encode())
    if term or trunc:
        obs, info = env.reset()
print(digest.hexdigest())
"""


def test_same_seed_same_frames_and_events_across_processes():
    # Crafter alone gives different episodes per process (set order follows memory
    # addresses), so only separate processes show that the fix holds.
    runs = {subprocess.run([sys.executable, "-c", _ROLLOUT], capture_output=True, text=True,
                           check=True).stdout for _ in range(2)}
    assert len(runs) == 1


def test_different_seeds_give_different_worlds():
    env = worlds.make("crafter")
    a = env.reset(seed=1)[1]["semantic"]
    b = env.reset(seed=2)[1]["semantic"]
    assert (a != b).any()


def test_events_name_achievements_items_and_damage():
    env = worlds.make("crafter")
    _, info = env.reset(seed=0)
    semantic, (px, py) = info["semantic"], info["player_pos"]
    tree = env.semantic_names.index("tree")
    # Walk the player next to the nearest tree by placing it there directly.
    trees = np.argwhere(semantic == tree)
    tx, ty = trees[np.abs(trees - (px, py)).sum(1).argmin()]
    for dx, dy, action in ((-1, 0, "move_right"), (1, 0, "move_left"),
                           (0, -1, "move_down"), (0, 1, "move_up")):
        spot = (tx + dx, ty + dy)
        if env.world[spot][0] in ("grass", "sand", "path") and env.world[spot][1] is None:
            env.world.move(env.player, spot)
            break
    env.step(env.action_names.index(action))  # face the tree (blocked, so no move)
    _, _, _, _, info = env.step(env.action_names.index("do"))
    assert "collect_wood" in info["events"] and "obtain:wood" in info["events"]
    assert info["inventory"]["wood"] == 1


def test_task_sets_inventory_and_ends_on_success():
    task = get_task("make_wood_pickaxe_with_wood")
    env = worlds.make("crafter", task=task)
    obs, info = env.reset(seed=0)
    assert info["inventory"]["wood"] == 5
    assert obs["inventory"][env.inventory_names.index("wood")] == 5
    assert env.max_steps == task.max_steps


def test_under_crafters_recorder_a_reached_task_plays_on_to_the_limit(tmp_path):
    # Crafter's recorder writes an episode's summary only at death or the step limit: an
    # episode that stopped at success would be missing from the benchmark's stats.
    import json

    env = worlds.make("crafter", task="make_wood_pickaxe_with_wood", max_steps=40,
                      stats_dir=str(tmp_path))
    env.reset(seed=0)
    ends, success = [], []
    for action in ["place_table", "make_wood_pickaxe"] + ["noop"] * 38:
        _, _, terminated, truncated, info = env.step(env.action_names.index(action))
        ends.append((terminated, truncated))
        success.append(info["success"])
    assert success[1] and ends[1] == (False, False)
    assert ends[-1] == (False, True)
    lines = (tmp_path / "stats.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["length"] == 40
    assert json.loads(lines[0])["achievement_make_wood_pickaxe"] == 1


def test_truncates_at_step_limit():
    env = worlds.make("crafter", max_steps=5)
    env.reset(seed=0)
    flags = [env.step(0)[3] for _ in range(5)]
    assert flags == [False] * 4 + [True]


def test_suites_load_and_validate():
    chain = [t.target for t in get_suite("tech-tree").tasks]
    assert chain[0] == "collect_wood" and chain[-1] == "collect_diamond"
    assert get_task("collect_diamond_with_stone_pickaxe").initial_inventory == {"stone_pickaxe": 1}
    plan4mc = get_suite("plan4mc")
    assert len(plan4mc.tasks) == 40
    assert plan4mc.task("craft_iron_pickaxe_with_stone_pickaxe").target == "iron_pickaxe"


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(UnknownNameError, match="Valid worlds: crafter, minedojo"):
        worlds.make("minecraft2")
    with pytest.raises(UnknownNameError, match="Did you mean collect_wood"):
        get_task("colect_wood")


def test_bad_task_file_is_rejected_with_its_name(tmp_path):
    from mcagent.worlds.tasks import _load_mcagent_suites

    path = tmp_path / "bad.yaml"
    path.write_text("format: mcagent-tasks/1\nworld: crafter\n"
                    "tasks:\n  t: {target: {item: unobtainium}}\nsuites: {}\n")
    with pytest.raises(UserError, match=r"bad.yaml: task 't': unknown item 'unobtainium'"):
        _load_mcagent_suites(path)


def test_a_task_file_sets_the_agents_survival_rules(tmp_path):
    from mcagent.agent import Survival
    from mcagent.worlds.tasks import _load_mcagent_suites

    score = get_task("crafter_score")
    rules = Survival().with_overrides(score.survival)
    assert rules.dusk_order == ("food", "drink", "energy") and rules.dusk_low["food"] == 5
    assert rules.dusk_reach == 6 and Survival().dusk_reach is None
    assert rules.dusk_low["drink"] == Survival().dusk_low["drink"]     # the rest kept
    assert get_task("collect_diamond").survival == {}
    path = tmp_path / "bad.yaml"
    for survival, message in [("{dusk_lo: {food: 5}}", "unknown survival field 'dusk_lo'"),
                              ("{dusk_low: {thirst: 5}}", "survival dusk_low takes a mapping"),
                              ("{dusk_order: [food, thirst]}", "survival dusk_order names vitals"),
                              ("[food]", "survival must be a mapping")]:
        path.write_text("format: mcagent-tasks/1\nworld: crafter\ntasks:\n"
                        f"  t: {{target: {{item: wood}}, survival: {survival}}}\nsuites: {{}}\n")
        with pytest.raises(UserError, match=rf"bad.yaml: task 't': {message}"):
            _load_mcagent_suites(path)
