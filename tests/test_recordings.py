"""Recordings: real Crafter episodes written as real mp4 + jsonl + meta files and read back."""

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import mcagent.worlds as worlds
from mcagent.errors import UnknownNameError, UserError
from mcagent.recordings import (FORMAT, RecordingWriter, read_recording, scan_recordings,
                                write_recording)
from mcagent.recordings.players import RandomPlayer
from mcagent.recordings.record import record_episode, record_episodes

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "mcagent.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


class LabellingPlayer(RandomPlayer):
    """Random moves, labelled with a made-up skill, keeping every frame it is shown."""

    source = "random"

    def __init__(self, seed=0, fail_at=None, error=RuntimeError):
        super().__init__(seed)
        self.seen, self.chosen, self.fail_at, self.error = [], [], fail_at, error

    def act(self, obs, info):
        if self.fail_at is not None and len(self.seen) == self.fail_at:
            raise self.error("the player broke")
        self.seen.append(obs["image"].copy())
        action = int(self.rng.choice([1, 2, 3, 4, 5, 5, 5]))
        self.chosen.append(action)
        return action, ("wander" if action < 5 else "collect")


class EventLog:
    """Wraps an env to keep the events and inventory of every step, as the world reported them."""

    def __init__(self, env):
        self.env, self.events, self.inventories = env, [], []

    def __getattr__(self, name):
        return getattr(self.env, name)

    def step(self, action):
        result = self.env.step(action)
        self.events.append(tuple(result[-1]["events"]))
        self.inventories.append(dict(result[-1]["inventory"]))
        return result


@pytest.fixture(scope="module")
def env():
    return worlds.make("crafter", max_steps=60)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """One 20-step random recording; tests copy it before damaging it."""
    out = tmp_path_factory.mktemp("sample")
    return record_episodes(player="random", episodes=1, out_dir=out, max_steps=20, seed=5)[0]


@pytest.fixture
def copy(sample, tmp_path):
    for suffix in (".mp4", ".jsonl", ".meta.json"):
        shutil.copy(f"{sample}{suffix}", tmp_path / f"rec{suffix}")
    return tmp_path / "rec"


def test_round_trip_keeps_actions_skills_events_and_frames(env, tmp_path):
    logged = EventLog(env)
    player = LabellingPlayer(seed=1)
    stem = record_episode(logged, player, tmp_path / "ep", world="crafter", seed=3, fps=10)
    rec = read_recording(stem)
    n = len(player.chosen)
    assert n == 60  # the env's step limit
    assert rec.meta.frames == len(rec) == n
    assert rec.meta.format == FORMAT and rec.meta.seed == 3 and rec.meta.source == "random"
    assert rec.meta.frame_size == (64, 64) and rec.meta.action_names == env.action_names
    assert list(rec.action_indices()) == player.chosen
    assert [s.skill for s in rec.steps] == ["wander" if a < 5 else "collect" for a in player.chosen]
    assert [s.events for s in rec.steps] == logged.events
    assert [dict(s.inventory) for s in rec.steps] == logged.inventories
    assert [s.frame for s in rec.steps] == list(range(n))
    frames = rec.frames()
    original = np.stack(player.seen)
    assert frames.shape == original.shape == (n, 64, 64, 3) and frames.dtype == np.uint8
    error = np.abs(frames.astype(int) - original)
    assert error.mean() < 1.5 and np.percentile(error, 99) <= 8
    # Frame i is what the player saw before action i: the best match is the same index.
    distance = np.abs(frames[10].astype(int) - original[[9, 10, 11]]).mean(axis=(1, 2, 3))
    assert distance.argmin() == 1
    assert sum(1 for _ in rec.iter_frames()) == n


def test_write_recording_from_arrays_and_the_file_layout(tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (5, 32, 48, 3), dtype=np.uint8).repeat(2, axis=1)
    steps = [{"action": "b", "events": [], "skill": None}] * 4 + [{"action": "a"}]
    stem = write_recording(tmp_path / "x.mp4", frames, steps, world="crafter", seed=None,
                           fps=5, action_names=["a", "b"], source="external")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.jsonl", "x.meta.json", "x.mp4"]
    rec = read_recording(tmp_path / "x.meta.json")
    assert rec.stem == stem and rec.meta.frame_size == (64, 48) and rec.meta.seed is None
    assert rec.actions == ("b",) * 4 + ("a",)
    assert rec.steps[4].events is None and rec.steps[4].inventory is None
    assert rec.frames().shape == (5, 64, 48, 3)
    meta = json.loads((tmp_path / "x.meta.json").read_text())
    assert list(meta) == ["format", "world", "seed", "fps", "frame_size", "frames",
                          "action_names", "source"]
    assert json.loads((tmp_path / "x.jsonl").read_text().splitlines()[0]) == {
        "frame": 0, "action": "b", "events": []}


def test_cli_records_episodes_that_the_reader_accepts(tmp_path):
    result = run_cli("record", "--player", "random", "--episodes", "2", "--max-steps", "50",
                     "--out", "tmp", "--seed", "4", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    stems = result.stdout.split()
    assert [Path(s).name for s in stems] == ["crafter-random-s4", "crafter-random-s5"]
    recordings = scan_recordings(tmp_path / "tmp")
    assert [r.meta.seed for r in recordings] == [4, 5]
    assert all(r.meta.frames == 50 and r.meta.source == "random" for r in recordings)
    assert recordings[0].actions != recordings[1].actions


def test_unknown_player_exits_2_with_the_valid_names(tmp_path):
    result = run_cli("record", "--player", "robot", "--out", "tmp", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown player 'robot'" in result.stderr
    assert "expert, human, random" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "tmp").exists()


def test_unknown_world_and_task_list_the_valid_names(tmp_path):
    with pytest.raises(UnknownNameError, match="Valid worlds: crafter, minedojo"):
        record_episodes(player="random", out_dir=tmp_path, world="minecraft2")
    with pytest.raises(UnknownNameError, match="collect_diamond"):
        record_episodes(player="random", out_dir=tmp_path, task="collect_diamonds")
    with pytest.raises(UserError, match="expert player only"):
        record_episodes(player="random", out_dir=tmp_path, noise=0.1)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_failure_mid_episode_leaves_no_files(env, tmp_path, error):
    player = LabellingPlayer(fail_at=25, error=error)
    with pytest.raises(error):
        record_episode(env, player, tmp_path / "ep", world="crafter", seed=0, fps=10)
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_during_record_leaves_no_files(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        # The expert lives hundreds of steps (a random player may die within the 0.2 s wait).
        [sys.executable, "-m", "mcagent.cli", "record", "--player", "expert", "--seed", "100",
         "--task", "collect_diamond", "-q", "--out", str(out)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # Earlier tests (Ray) may leave SIGINT ignored in this process, and a child
        # inherits that: give it the default disposition, as a shell would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120

    def lines_written():
        partial = list(out.glob(".*.partial.jsonl"))
        return sum(1 for _ in open(partial[0], "rb")) if partial else 0

    while lines_written() < 20:  # well into the episode: ffmpeg is writing
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert list(out.iterdir()) == []


def test_a_failed_rerecording_keeps_the_old_recording(copy):
    before = {p.name: p.read_bytes() for p in copy.parent.iterdir()}
    with pytest.raises(RuntimeError):
        with RecordingWriter(copy, world="crafter", seed=0, fps=10, action_names=["noop"],
                             source="random") as writer:
            writer.add(np.zeros((64, 64, 3), np.uint8), "noop")
            raise RuntimeError("interrupted")
    assert {p.name: p.read_bytes() for p in copy.parent.iterdir()} == before
    assert len(read_recording(copy)) == 20


def test_an_empty_episode_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match="no frames"):
        with RecordingWriter(tmp_path / "e", world="crafter", seed=0, fps=10,
                             action_names=["noop"], source="random"):
            pass
    assert list(tmp_path.iterdir()) == []


def test_scan_ignores_hidden_partial_files_and_reads_a_stem_by_any_file(copy):
    (copy.parent / ".rec.1234.partial.meta.json").write_text("{}")
    assert [r.name for r in scan_recordings(copy.parent)] == ["rec"]
    for name in ("rec", "rec.mp4", "rec.jsonl", "rec.meta.json"):
        assert read_recording(copy.parent / name).stem == copy


# -- bad input: each rejected with the file named ----------------------------

def _lines(stem):
    return Path(f"{stem}.jsonl").read_text().splitlines(keepends=True)


def _meta(stem, **changes):
    path = Path(f"{stem}.meta.json")
    meta = json.loads(path.read_text())
    path.write_text(json.dumps({**meta, **changes}))


def test_a_missing_jsonl_line_gives_the_three_counts(copy):
    Path(f"{copy}.jsonl").write_text("".join(_lines(copy)[:-1]))
    with pytest.raises(UserError) as info:
        read_recording(copy)
    message = str(info.value)
    assert str(copy) in message
    assert "rec.mp4 has 20 frames" in message and "rec.jsonl has 19 lines" in message
    assert "frames=20" in message


def test_meta_frames_that_disagree_are_rejected(copy):
    _meta(copy, frames=21)
    with pytest.raises(UserError, match=r"20 frames.*20 lines.*frames=21"):
        read_recording(copy, check_video=False)


def test_a_shorter_video_is_rejected(copy, tmp_path):
    rec = read_recording(copy)
    write_recording(tmp_path / "short", rec.frames()[:15], rec.steps[:15], world="crafter",
                    seed=0, fps=10, action_names=rec.meta.action_names, source="random")
    shutil.copy(tmp_path / "short.mp4", f"{copy}.mp4")
    with pytest.raises(UserError, match=r"rec.mp4 has 15 frames.*20 lines.*frames=20"):
        read_recording(copy)


@pytest.mark.parametrize("suffix", [".jsonl", ".mp4", ".meta.json"])
def test_a_missing_file_is_named(copy, suffix):
    Path(f"{copy}{suffix}").unlink()
    with pytest.raises(UserError, match=rf"rec{suffix}: missing"):
        read_recording(copy)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_an_unreadable_video_is_named(copy, damage):
    mp4 = Path(f"{copy}.mp4")
    data = mp4.read_bytes()
    mp4.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"not a video" * 50,
                     "empty": b""}[damage])
    with pytest.raises(UserError, match=r"rec\.mp4: unreadable video"):
        read_recording(copy)


def test_a_bad_json_line_is_named_with_its_number(copy):
    lines = _lines(copy)
    lines[2] = lines[2][:30] + "\n"
    Path(f"{copy}.jsonl").write_text("".join(lines))
    with pytest.raises(UserError, match=r"rec\.jsonl, line 3: not valid JSON"):
        read_recording(copy)


def test_an_unknown_action_is_named_with_its_line(copy):
    lines = _lines(copy)
    lines[4] = json.dumps({**json.loads(lines[4]), "action": "fly"}) + "\n"
    Path(f"{copy}.jsonl").write_text("".join(lines))
    with pytest.raises(UserError, match=r"rec\.jsonl, line 5: action 'fly' is not in action_names"):
        read_recording(copy)


def test_lines_out_of_frame_order_are_rejected(copy):
    lines = _lines(copy)
    lines[3], lines[4] = lines[4], lines[3]
    Path(f"{copy}.jsonl").write_text("".join(lines))
    with pytest.raises(UserError, match=r"line 4: says frame 4, but line 4 is frame 3"):
        read_recording(copy)


def test_an_empty_recording_is_rejected(copy):
    Path(f"{copy}.jsonl").write_text("")
    _meta(copy, frames=0)
    with pytest.raises(UserError, match=r"rec\.meta\.json: empty recording"):
        read_recording(copy)


@pytest.mark.parametrize("change,message", [
    ({"format": "mcagent-recording/2"}, "is not 'mcagent-recording/1'"),
    ({"action_names": []}, "action_names must be"),
    ({"frame_size": [64]}, "frame_size must be"),
    ({"frame_size": [32, 32]}, r"frames are 64x64 .* frame_size=\[32, 32\]"),
])
def test_a_bad_meta_file_is_named(copy, change, message):
    _meta(copy, **change)
    with pytest.raises(UserError, match=message) as info:
        read_recording(copy)
    assert "rec" in str(info.value)


def test_a_meta_file_that_is_not_json_is_named(copy):
    Path(f"{copy}.meta.json").write_text("{format: 1")
    with pytest.raises(UserError, match=r"rec\.meta\.json: not valid JSON"):
        read_recording(copy)


def test_a_folder_without_recordings_is_an_error(tmp_path):
    with pytest.raises(UserError, match="no recordings"):
        scan_recordings(tmp_path)
    with pytest.raises(UserError, match="not a folder"):
        scan_recordings(tmp_path / "nowhere")


# -- players -----------------------------------------------------------------

def test_the_human_player_records_keys_from_the_pygame_queue(tmp_path, monkeypatch):
    pygame = pytest.importorskip("pygame")
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    pygame.display.init()
    keys = [pygame.K_w, pygame.K_SPACE, pygame.K_d, pygame.K_TAB, pygame.K_1, pygame.K_ESCAPE]
    for key in keys:
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key))
        pygame.event.post(pygame.event.Event(pygame.KEYUP, key=key))
    try:
        stems = record_episodes(player="human", episodes=1, out_dir=tmp_path, fps=50, seed=2)
    finally:
        pygame.quit()
    rec = read_recording(stems[0])
    assert rec.meta.source == "human" and rec.meta.fps == 50
    assert rec.actions == ("move_up", "do", "move_right", "sleep", "make_wood_pickaxe")
    assert all(step.skill is None for step in rec.steps)


def test_a_held_key_repeats_and_closing_the_window_stops(tmp_path, monkeypatch):
    pygame = pytest.importorskip("pygame")
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    from mcagent.recordings.players import HumanPlayer

    player = HumanPlayer(fps=100)
    env = worlds.make("crafter")
    obs, info = env.reset(seed=0)
    player.reset(env, obs, info)
    try:
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_a))
        actions = [player.act(obs, info)[0] for _ in range(3)]
        pygame.event.post(pygame.event.Event(pygame.KEYUP, key=pygame.K_a))
        actions.append(player.act(obs, info)[0])
        pygame.event.post(pygame.event.Event(pygame.QUIT))
        actions.append(player.act(obs, info)[0])
    finally:
        player.close()
        pygame.quit()
    left, noop = env.action_names.index("move_left"), env.action_names.index("noop")
    assert actions == [left, left, left, noop, None] and player.closed


def test_without_pygame_the_human_player_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pygame", None)
    from mcagent.recordings.players import HumanPlayer

    with pytest.raises(UserError, match=r"pip install 'mcagent\[human\]'"):
        HumanPlayer()


@pytest.mark.skipif(importlib.util.find_spec("mcagent.recordings.expert") is None,
                    reason="the expert player is not in this checkout")
def test_the_expert_records_with_skill_labels(tmp_path):
    stem = record_episodes(player="expert", episodes=1, out_dir=tmp_path, max_steps=40)[0]
    rec = read_recording(stem)
    assert rec.meta.source == "expert" and len(rec) == 40
    assert all(step.skill for step in rec.steps)


def test_the_sample_recordings_in_videos_are_valid():
    videos = Path(__file__).resolve().parents[1] / "videos"
    stems = sorted(p.with_name(p.name[:-len(".meta.json")]) for p in videos.glob("*.meta.json"))
    assert len(stems) >= 3
    for stem in stems:
        rec = read_recording(stem)
        assert len(rec) > 0 and (rec.meta.source != "expert" or all(s.skill for s in rec.steps))
