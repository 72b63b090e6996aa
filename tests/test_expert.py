"""The scripted expert in a real Crafter world: it climbs the tech tree, names its skills, stays alive."""

from __future__ import annotations

import re

import pytest

import mcagent.worlds as worlds
from mcagent.recordings.expert import ExpertPlayer, Habits


def play(world_seed: int, steps: int, **kwargs):
    env = worlds.make("crafter", max_steps=steps)
    obs, info = env.reset(seed=world_seed)
    player = ExpertPlayer(**kwargs)
    player.reset(env, obs, info)
    actions, skills, events = [], [], []
    for _ in range(steps):
        action, skill = player.act(obs, info)
        actions.append(action)
        skills.append(skill)
        obs, _, terminated, truncated, info = env.step(action)
        events.append(info["events"])
        if terminated or truncated:
            break
    return actions, skills, events, info


def flat(events):
    return [e for step in events for e in step]


@pytest.mark.parametrize("seed", [11, 23])
def test_reaches_the_stone_pickaxe_with_plan4mc_style_skill_names(seed):
    actions, skills, events, info = play(seed, 400)
    assert "make_stone_pickaxe" in flat(events), f"seed {seed}: got {sorted(set(flat(events)))}"
    assert "death" not in flat(events)
    for skill in ("collect_wood", "place_table", "make_wood_pickaxe", "collect_stone",
                  "make_stone_pickaxe"):
        assert skill in skills
    pattern = re.compile(r"^(find|collect|place|make|eat|defeat|build|leave|avoid)_[a-z_]+$"
                         r"|^(sleep|rest|explore|idle)$")
    assert all(pattern.match(s) for s in skills), sorted(set(skills))
    # Each crafting or placing achievement falls on a step of the skill named for it.
    for skill, step_events in zip(skills, events):
        for event in step_events:
            if event.startswith(("make_", "place_")):
                assert skill in (event, "build_shelter"), (skill, event)


def test_the_same_seed_gives_the_same_play_and_other_habits_play_differently():
    first = play(5, 150, seed=3)
    again = play(5, 150, seed=3)
    assert first[0] == again[0] and first[1] == again[1]
    pickaxe_first = play(5, 150, habits=Habits(swords_first=False))
    sword_first = play(5, 150, habits=Habits(swords_first=True))
    order = [[s for s in run[1] if s in ("make_wood_pickaxe", "make_wood_sword")][:1]
             for run in (pickaxe_first, sword_first)]
    assert order == [["make_wood_pickaxe"], ["make_wood_sword"]]


def test_noise_replaces_actions_but_never_walks_into_lava():
    actions, skills, events, _ = play(2, 300, noise=0.5, seed=1)
    assert "hurt:lava" not in flat(events) and len(set(actions)) > 8


def test_the_expert_only_seeing_its_view_still_climbs_the_tree():
    _, skills, events, _ = play(11, 300, sees_map=False)
    assert "make_wood_pickaxe" in flat(events) and "explore" not in skills[:5]


def test_noise_outside_unit_interval_is_rejected():
    with pytest.raises(ValueError, match="noise"):
        ExpertPlayer(noise=1.5)


def test_the_expert_crafts_off_the_first_column_of_the_map():
    # Crafter's `World.nearby` slices the map from x - 1: on the first column nothing is
    # made, whatever stands around. The expert standing there with a table beside it
    # steps off the column to make its pickaxe.
    env = worlds.make("crafter", max_steps=100)
    obs, info = env.reset(seed=0)
    world, player = env.world, env.player
    x, y = player.pos
    for cx in range(4):
        for cy in range(y - 3, y + 4):
            if world[(cx, cy)][1] is not None and world[(cx, cy)][1] is not player:
                world.remove(world[(cx, cy)][1])
            world[(cx, cy)] = "grass"
    world.move(player, (0, y))
    world[(1, y - 1)] = "table"
    player.inventory.update(wood=5)
    obs, _, _, _, info = env.step(env.action_names.index("noop"))
    expert = ExpertPlayer()
    expert.reset(env, obs, info)
    for _ in range(8):
        action, skill = expert.act(obs, info)
        obs, _, _, _, info = env.step(action)
        if info["inventory"]["wood_pickaxe"]:
            break
    assert info["inventory"]["wood_pickaxe"] == 1 and info["player_pos"][0] >= 1
