"""The fast Crafter code gives what Crafter's own code gives: frames, worlds, episodes."""

import numpy as np
import opensimplex
import pytest
from PIL import Image, ImageEnhance

import crafter
from crafter import constants, engine, objects, worldgen
from mcagent.worlds import crafter_render, crafter_worldgen
from mcagent.worlds.crafter_world import CrafterEnv, DeterministicCrafter

SLEEP = constants.actions.index("sleep")


def _actions(n, seed):
    """Random actions, with long stretches of sleep so that the player sleeps day and night."""
    rng = np.random.default_rng(seed)
    return [SLEEP if (t // 60) % 4 == 3 else int(rng.integers(len(constants.actions)))
            for t in range(n)]


def _random_state(world):
    kind, keys, pos, has_gauss, gauss = world.random.get_state()
    return keys.tobytes(), pos, has_gauss, gauss


# -- renderer -------------------------------------------------------------------

def test_frames_equal_crafter_views_by_day_night_and_asleep():
    env = DeterministicCrafter(fast=False, length=None, seed=0)
    fast = crafter_render.FastLocalView(env._world, env._textures, env._local_view._grid)
    items = crafter_render.CachedItemView(env._textures, env._item_view._grid)
    semantic = crafter_render.FastSemanticView(env._world, list(env._sem_view._obj_ids))
    env.reset_with_seed(5)
    seen = {"night": 0, "asleep": 0, "creatures": 0}
    for step, action in enumerate(_actions(420, seed=1)):
        _, _, done, _ = env.step(action)
        if done:
            env.reset_with_seed(6)
        units = [env._size // env._view] + ([np.array([5, 4])] if step % 10 == 0 else [])
        for unit in units:
            state = env._world.random.get_state()
            expected = env._local_view(env._player, unit)
            expected_state = _random_state(env._world)
            env._world.random.set_state(state)
            frame = fast(env._player, unit)
            assert frame.dtype == expected.dtype
            assert np.array_equal(frame, expected)
            assert _random_state(env._world) == expected_state  # same night noise draws
            assert np.array_equal(items(env._player.inventory, unit),
                                  env._item_view(env._player.inventory, unit))
        assert np.array_equal(semantic(), env._sem_view())
        seen["night"] += env._world.daylight < 0.5
        seen["asleep"] += env._player.sleeping
        seen["creatures"] += len(env._world.objects) > 1
    assert min(seen.values()) > 20, seen


def test_view_at_the_edge_of_the_world_shows_outside_grey():
    env = DeterministicCrafter(fast=False, length=None, seed=0)
    fast = crafter_render.FastLocalView(env._world, env._textures, env._local_view._grid)
    env.reset_with_seed(3)
    unit = env._size // env._view
    for pos in ((0, 0), (63, 63), (2, 60), (62, 1)):
        env._world.move(env._player, pos)
        env._world.daylight = 1.0
        assert np.array_equal(fast(env._player, unit), env._local_view(env._player, unit))


def test_enhance_color_equals_pillow():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (512, 512, 3)).astype(np.uint8)
    image[0, :256] = np.arange(256)[:, None]
    for factor in (0.0, 0.4, 0.7, 1.0):
        expected = np.array(ImageEnhance.Color(Image.fromarray(image)).enhance(factor))
        assert np.array_equal(crafter_render.enhance_color(image, factor), expected)


# -- world generation -------------------------------------------------------------

def _new_world(seed):
    world = engine.World((64, 64), constants.materials, (12, 12))
    world.reset(seed=seed)
    player = objects.Player(world, (32, 32))
    world.add(player)
    return world, player


def _describe(world):
    return (world._mat_map.tobytes(),
            [(type(obj).__name__, tuple(int(v) for v in obj.pos)) for obj in world.objects],
            _random_state(world))


@pytest.fixture(scope="module")
def crafter_worlds():
    worlds = {}
    for seed in range(32):
        world, player = _new_world(seed * 7919 + 1)
        worldgen.generate_world(world, player)
        worlds[seed * 7919 + 1] = _describe(world)
    return worlds


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_worlds_equal_crafter_generate_world(crafter_worlds, backend):
    if backend == "numba" and crafter_worldgen._jit() is None:
        pytest.skip("numba is not usable here")
    for seed, expected in crafter_worlds.items():
        world, player = _new_world(seed)
        crafter_worldgen.generate_world(world, player, backend=backend)
        assert _describe(world) == expected, f"seed {seed}"


def test_vector_noise_equals_opensimplex_to_rounding():
    rng = np.random.default_rng(1)
    for seed in (0, 3, 2 ** 31 - 2):
        simplex = opensimplex.OpenSimplex(seed)
        points = rng.uniform(-50, 50, (2000, 3))
        points[:500] = np.round(points[:500] * 2) / 2  # lattice-like points, exact ties
        got = crafter_worldgen.noise3(simplex._perm, simplex._perm_grad_index3, *points.T)
        expected = [simplex.noise3(*p) for p in points]
        assert np.abs(got - expected).max() < 1e-12


def test_chains_draw_exactly_what_crafter_draws():
    rng = np.random.default_rng(2)
    on = rng.random((500, 3)) < 0.6
    threshold = rng.uniform(0.2, 0.9, (500, 3))
    expected, reference = [], np.random.RandomState(9)
    for cell in range(500):
        winner = -1
        for slot in range(3):
            if on[cell, slot] and reference.uniform() > threshold[cell, slot]:
                winner = slot
                break
        expected.append(winner)
    for compiled in ([False, True] if crafter_worldgen._jit() else [False]):
        random = np.random.RandomState(9)
        winner = crafter_worldgen._resolve_chains(on, threshold, random, compiled)
        assert winner.tolist() == expected
        assert _random_state_of(random) == _random_state_of(reference)


def _random_state_of(random):
    kind, keys, pos, has_gauss, gauss = random.get_state()
    return keys.tobytes(), pos, has_gauss, gauss


# -- whole episodes -----------------------------------------------------------------

def test_episodes_equal_with_fast_and_original_code():
    seed = 0  # the Gymnasium test below plays two more seeds
    fast = DeterministicCrafter(fast=True, length=None, seed=seed)
    slow = DeterministicCrafter(fast=False, length=None, seed=seed)
    assert np.array_equal(fast.reset(), slow.reset())
    for step, action in enumerate(_actions(500, seed)):
        a, b = fast.step(action), slow.step(action)
        assert np.array_equal(a[0], b[0]), f"seed {seed} step {step}: frames differ"
        assert a[1:3] == b[1:3]
        for key in ("inventory", "achievements", "discount", "reward"):
            assert a[3][key] == b[3][key], (seed, step, key)
        assert np.array_equal(a[3]["semantic"], b[3]["semantic"])
        assert np.array_equal(a[3]["player_pos"], b[3]["player_pos"])
        assert _random_state(fast._world) == _random_state(slow._world)
        if a[2]:
            assert np.array_equal(fast.reset(), slow.reset())


def test_gymnasium_env_episodes_equal_with_fast_and_original_code():
    fast, slow = CrafterEnv(), CrafterEnv()
    assert fast._env.fast  # the default CrafterEnv runs the fast code
    slow._env = DeterministicCrafter(fast=False, size=(64, 64), length=None, reward=True, seed=0)
    for seed in (3, 4):
        (obs_a, info_a), (obs_b, info_b) = fast.reset(seed=seed), slow.reset(seed=seed)
        assert np.array_equal(obs_a["image"], obs_b["image"])
        events = 0
        for action in _actions(400, seed):
            obs_a, r_a, term_a, trunc_a, info_a = fast.step(action)
            obs_b, r_b, term_b, trunc_b, info_b = slow.step(action)
            assert np.array_equal(obs_a["image"], obs_b["image"])
            assert np.array_equal(obs_a["inventory"], obs_b["inventory"])
            assert (r_a, term_a, trunc_a) == (r_b, term_b, trunc_b)
            assert info_a["events"] == info_b["events"]
            assert np.array_equal(info_a["semantic"], info_b["semantic"])
            events += len(info_a["events"])
            if term_a:
                break
        assert events > 0


def test_plain_crafter_reset_is_kept():
    # `reset()` without a seed still derives the world from the env seed and episode.
    env = DeterministicCrafter(length=None, seed=7)
    first = env.reset()
    again = DeterministicCrafter(length=None, seed=7).reset()
    assert np.array_equal(first, again)
    assert not np.array_equal(env.reset(), first)
