"""SBD end to end at a small size: real expert recordings (mp4 + jsonl), tiny models trained for
a few batches, segmentation in process and on a real local Ray cluster, plots, the IDM on a
plain video, evaluation, tuning, and the errors a user can run into."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mcagent.errors import UserError
from mcagent.recordings import read_recording, write_recording
from mcagent.recordings.record import record_episodes
from mcagent.sbd.evaluate import evaluate
from mcagent.sbd.idm import label_video, train_idm
from mcagent.sbd.model import ACTION_MODEL, IDM, checkpoint_paths, load_model
from mcagent.sbd.segment import rule_for, segment_many
from mcagent.sbd.segments import read_segmentation
from mcagent.sbd.train import TrainSettings, train_action_model
from mcagent.sbd.tune import tune

ROOT = Path(__file__).resolve().parents[1]
TINY = {"frame_size": (16, 16), "channels": (4, 8), "features": 16, "action_embedding": 4,
        "hidden": 16}
QUICK = TrainSettings(epochs=1, batch_size=4, window=16, max_batches=3, threads=1)


def run_cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "mcagent.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recordings")
    record_episodes("expert", episodes=3, out_dir=folder, seed=0, max_steps=60)
    return folder


@pytest.fixture(scope="module")
def models(recordings, tmp_path_factory):
    out = tmp_path_factory.mktemp("models")
    train_action_model([recordings], out, QUICK, architecture=TINY)
    train_idm([recordings], out, QUICK, architecture=TINY)
    return out


def test_training_writes_safetensors_and_a_json_config(models):
    for name in (ACTION_MODEL, IDM):
        weights, config = checkpoint_paths(models, name)
        assert weights.read_bytes()[8:9] == b"{"  # safetensors: u64 header size, JSON header
        data = json.loads(config.read_text())
        assert data["format"] == "mcagent-sbd-model/1" and data["model"]["kind"] == name
        assert len(data["model"]["action_names"]) == 17
        assert data["notes"]["val_loss"] > 0 and data["notes"]["history"]
    assert not [p for p in models.rglob("*") if p.suffix in (".pt", ".pth", ".pkl", ".ckpt")]
    model, notes = load_model(models, ACTION_MODEL)
    assert notes["val_recordings"] and notes["parameters"] == sum(
        p.numel() for p in model.parameters())


def test_training_resumes_from_its_last_epoch(recordings, tmp_path):
    first = train_action_model([recordings], tmp_path, QUICK, architecture=TINY)
    assert first["epochs"] == 1
    more = TrainSettings(**{**QUICK.__dict__, "epochs": 2})
    second = train_action_model([recordings], tmp_path, more, architecture=TINY)
    assert second["epochs"] == 2
    notes = json.loads(checkpoint_paths(tmp_path, ACTION_MODEL)[1].read_text())["notes"]
    assert [h["epoch"] for h in notes["history"]][-1] == notes["epoch"]
    other = TrainSettings(**{**more.__dict__, "lr": 0.5})
    with pytest.raises(UserError, match="other settings .*lr.*--fresh"):
        train_action_model([recordings], tmp_path, other, architecture=TINY)
    assert train_action_model([recordings], tmp_path, other, architecture=TINY,
                              fresh=True)["epochs"] == 2


def test_within_skill_windows_never_cross_a_skill_change(recordings, tmp_path):
    from mcagent.sbd.data import load_episodes, world_actions
    from mcagent.sbd.train import window_batches, window_spots

    _, names, _ = world_actions([recordings])
    episodes = load_episodes([recordings], names, (16, 16))
    settings = TrainSettings(**{**QUICK.__dict__, "within_skills": True})
    for rng in (np.random.default_rng(0), None):
        spots = window_spots(episodes, settings, rng)
        covered = sorted((i, t) for i, s, n in spots for t in range(s, s + n))
        assert covered == [(i, t) for i, e in enumerate(episodes) for t in range(len(e))]
        for i, s, n in spots:
            assert 1 <= n <= settings.window and len(set(episodes[i].skills[s:s + n])) == 1
    changes = sum(sum(a != b for a, b in zip(e.skills, e.skills[1:])) for e in episodes)
    assert changes > 10  # the expert's recordings do switch skills
    batch = next(window_batches(episodes, settings, len(names), np.random.default_rng(0)))
    assert batch["mask"].shape == batch["actions"].shape and batch["mask"][:, 0].all()
    figures = train_action_model([recordings], tmp_path, settings, architecture=TINY)
    assert figures["epochs"] == 1 and figures["val_loss"] > 0


def test_training_can_start_from_another_model(recordings, models, tmp_path):
    start, _ = load_model(models, ACTION_MODEL)
    settings = TrainSettings(**{**QUICK.__dict__, "init": str(models), "lr": 0.0,
                                "weight_decay": 0.0})
    train_action_model([recordings], tmp_path, settings)
    tuned, notes = load_model(tmp_path, ACTION_MODEL)
    assert tuned.config == start.config and notes["settings"]["init"] == str(models)
    for (name, a), b in zip(start.state_dict().items(), tuned.state_dict().values()):
        assert torch.equal(a, b), name  # learning rate 0: the weights it started from
    with pytest.raises(UserError, match="architecture"):
        train_action_model([recordings], tmp_path / "x", settings, architecture=TINY)


def test_segment_writes_valid_segments_and_plots(recordings, models, tmp_path):
    results = segment_many([recordings], tmp_path, model_dir=models, mode="loss+info", gap=0.5,
                           min_length=3, plot=True)
    assert len(results) == 3
    for r in results:
        rec = read_recording(r["recording"], check_video=False)
        seg = read_segmentation(r["segments_file"])
        assert seg.video == rec.name and seg.frames == len(rec) and seg.method == "sbd-loss+info"
        assert all(len(s) >= 3 for s in seg.segments[:-1])
        assert Path(r["plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        named = [s.skill for s in seg.segments if s.skill]
        assert all(isinstance(n, str) for n in named)


@pytest.mark.slow  # a Ray cluster starts in 20 s to over a minute on a busy 2-core machine
def test_segment_on_a_local_ray_cluster_matches_the_local_run(recordings, models, tmp_path):
    ray = pytest.importorskip("ray")
    local = segment_many([recordings], tmp_path / "local", model_dir=models, mode="loss",
                         gap=0.5, min_length=2)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        spread = segment_many([recordings], tmp_path / "ray", model_dir=models, mode="loss",
                              gap=0.5, min_length=2, workers=2)
    finally:
        ray.shutdown()
    assert len(spread) == len(local) == 3
    for a, b in zip(local, spread):
        assert Path(b["segments_file"]).parent == tmp_path / "ray"
        assert read_segmentation(a["segments_file"]) == read_segmentation(b["segments_file"])


def test_segment_cli_then_evaluate_cli(recordings, models, tmp_path):
    pred = tmp_path / "pred"
    done = run_cli("segment", str(recordings), "--out", str(pred), "--model", str(models),
                   "--mode", "info", "-q", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(list(pred.glob("*.segments.json"))) == 3
    done = run_cli("sbd", "evaluate", str(recordings), str(pred), "--json",
                   str(tmp_path / "figures.json"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "sbd-info" in done.stdout and "baseline:random" in done.stdout
    figures = json.loads((tmp_path / "figures.json").read_text())
    # the info mode with min_length 1 finds exactly the event baseline's boundaries
    assert figures["methods"]["sbd-info"] == figures["methods"]["baseline:events"]
    for name in ("baseline:fixed-8", "baseline:fixed-128"):
        assert 0 <= figures["methods"][name]["f1"] <= 1


def test_tuning_stores_the_rule_in_the_model(recordings, models, tmp_path):
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(models, copy)
    result = tune([recordings], copy, gaps=(0.5, 3.0), min_lengths=(2, 4))
    best = result["boundary"]
    assert set(best) == {"loss", "info", "loss+info"}
    rule = rule_for(copy, "loss")
    assert (rule.gap, rule.min_length) == (best["loss"]["gap"], best["loss"]["min_length"])
    assert rule_for(copy, "loss", gap=9.0).gap == 9.0


@pytest.fixture(scope="module")
def with_scorer(recordings, models, tmp_path_factory):
    import shutil

    from mcagent.sbd.scorer import ScorerSettings, train_scorer

    copy = tmp_path_factory.mktemp("with_scorer") / "model"
    shutil.copytree(models, copy)
    figures = train_scorer([recordings], copy, settings=ScorerSettings(epochs=2, hidden=4,
                                                                       threads=1))
    return copy, figures


def test_learned_mode_trains_segments_tunes_and_plots(recordings, with_scorer, tmp_path):
    from mcagent.sbd.scorer import load_scorer

    model_dir, figures = with_scorer
    assert figures["epochs"] >= 1 and (model_dir / "scorer.safetensors").is_file()
    results = segment_many([recordings], tmp_path / "seg", model_dir=model_dir, mode="learned",
                           threshold=0.05, min_length=2, plot=True)
    for r in results:
        seg = read_segmentation(r["segments_file"])
        assert seg.method == "sbd-learned"
        assert all(len(s) >= 2 for s in seg.segments[:-1])
        assert Path(r["plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = tune([recordings], model_dir, modes=["learned"], thresholds=(0.05, 0.5),
                  peak_min_lengths=(1, 3))
    best = result["boundary"]["learned"]
    _, notes = load_scorer(model_dir)
    assert notes["boundary"] == best
    rule = rule_for(model_dir, "learned")
    assert (rule.threshold, rule.min_length) == (best["threshold"], best["min_length"])
    # the rule's modes keep their own tuned values in the action model
    assert rule_for(model_dir, "loss+info").mode == "loss+info"


@pytest.mark.slow  # a Ray cluster starts in 20 s to over a minute on a busy 2-core machine
def test_the_learned_mode_on_ray_matches_the_local_run(recordings, with_scorer, tmp_path):
    ray = pytest.importorskip("ray")
    model_dir, _ = with_scorer
    local = segment_many([recordings], tmp_path / "local", model_dir=model_dir, mode="learned",
                         threshold=0.05)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        spread = segment_many([recordings], tmp_path / "ray", model_dir=model_dir,
                              mode="learned", threshold=0.05, workers=2)
    finally:
        ray.shutdown()
    for a, b in zip(local, spread):
        assert read_segmentation(a["segments_file"]) == read_segmentation(b["segments_file"])


def test_the_learned_mode_without_a_scorer_says_how_to_train_one(recordings, models, tmp_path):
    done = run_cli("segment", str(recordings), "--out", str(tmp_path / "seg"), "--model",
                   str(models), "--mode", "learned", "-q", cwd=tmp_path)
    assert done.returncode != 0
    assert "scorer.json: missing" in done.stderr and "sbd train-scorer" in done.stderr


def test_label_actions_turns_a_plain_video_into_a_recording(recordings, models, tmp_path):
    import imageio.v3 as iio

    source = read_recording(next(recordings.glob("*.meta.json")))
    video = tmp_path / "plain.mp4"
    iio.imwrite(video, source.frames(), fps=10, codec="libx264", macro_block_size=1)
    stem = label_video(video, model_dir=models)
    assert stem == tmp_path / "plain-labelled"
    rec = read_recording(stem)
    assert len(rec) == len(source) and rec.meta.source == "external"
    assert rec.meta.action_names == source.meta.action_names
    results = segment_many([stem], tmp_path / "seg", model_dir=models, mode="loss", gap=0.5,
                           min_length=2)
    assert read_segmentation(results[0]["segments_file"]).frames == len(source)
    with pytest.raises(UserError, match="overwrite"):
        label_video(video, out_stem=tmp_path / "plain", model_dir=models)


# -- errors ---------------------------------------------------------------------

def test_a_missing_model_says_how_to_get_one(recordings, tmp_path):
    with pytest.raises(UserError, match="action_model.json: missing.*mcagent sbd train"):
        segment_many([recordings], tmp_path / "out", model_dir=tmp_path / "none", mode="loss")
    done = run_cli("segment", str(recordings), "--out", str(tmp_path / "out"), "--model",
                   str(tmp_path / "none"), cwd=tmp_path)
    assert done.returncode == 2 and "missing" in done.stderr and "Traceback" not in done.stderr
    with pytest.raises(UserError, match="idm.json: missing.*train-idm"):
        label_video(tmp_path / "x.mp4", model_dir=tmp_path / "none")


def test_a_recording_of_another_action_set_is_refused(models, tmp_path):
    frames = np.zeros((5, 16, 16, 3), np.uint8)
    write_recording(tmp_path / "other", frames, [{"action": "jump"}] * 5, world="elsewhere",
                    seed=None, fps=10, action_names=("noop", "jump"), source="external")
    with pytest.raises(UserError, match="do not match.*jump.*elsewhere"):
        segment_many([tmp_path / "other.mp4"], tmp_path / "out", model_dir=models, mode="loss")


def test_unreadable_files_are_named(recordings, models, tmp_path):
    import shutil

    for suffix in (".mp4", ".jsonl", ".meta.json"):
        shutil.copy(recordings / f"crafter-expert-s0{suffix}", tmp_path / f"bad{suffix}")
    mp4 = tmp_path / "bad.mp4"
    mp4.write_bytes(mp4.read_bytes()[:300])
    with pytest.raises(UserError, match="bad.mp4"):
        segment_many([tmp_path / "bad"], tmp_path / "out", model_dir=models, mode="loss")
    with pytest.raises(UserError, match="not a recording"):
        segment_many([tmp_path / "nothing-here"], tmp_path / "out", model_dir=models)
    with pytest.raises(UserError, match="unreadable video"):
        label_video(mp4, model_dir=models)
    broken = tmp_path / "broken"
    shutil.copytree(models, broken)
    checkpoint_paths(broken, ACTION_MODEL)[0].write_bytes(b"not safetensors")
    with pytest.raises(UserError, match="unreadable weights"):
        load_model(broken, ACTION_MODEL)


def test_fast_decoding_and_scoring_match_the_plain_ones(recordings, models):
    """OpenCV decoding gives ffmpeg's pixels; the GRU run ahead in blocks gives the losses of
    one step at a time, across resets."""
    import torch
    from torch.nn import functional as F

    from mcagent.sbd.data import decode_frames, load_episode
    from mcagent.sbd.segment import ModelScorer

    rec = read_recording(recordings / "crafter-expert-s1")
    assert np.array_equal(decode_frames(rec), rec.frames())
    model, _ = load_model(models, ACTION_MODEL)
    episode = load_episode(rec, model.config.action_names, model.config.frame_size)
    scorer = ModelScorer(model, episode, first_block=4, max_block=8)
    resets = {0, 7, 8, 30}
    state, prev, got, want = None, model.n_actions, [], []
    for t in range(len(episode)):
        if t in resets:
            scorer.reset()
            state, prev = None, model.n_actions
        got.append(scorer.score(t))
        with torch.no_grad():
            logits, state = model(torch.from_numpy(episode.frames[t][None, None]),
                                  torch.tensor([[prev]]), state)
        want.append(float(-F.log_softmax(logits[0, 0], -1)[episode.actions[t]]))
        prev = int(episode.actions[t])
    assert np.allclose(got, want, atol=1e-5)
    with pytest.raises(ValueError, match="in order"):
        scorer.score(2)


def bad_folder(recordings, folder):
    """A folder of one good recording and one of each fault a user's files can have."""
    import shutil

    names = ("good", "truncated_mp4", "short_jsonl", "unknown_action", "empty")
    for name in names:
        for suffix in (".mp4", ".jsonl", ".meta.json"):
            shutil.copy(recordings / f"crafter-expert-s0{suffix}", folder / f"{name}{suffix}")
    mp4 = folder / "truncated_mp4.mp4"
    mp4.write_bytes(mp4.read_bytes()[: mp4.stat().st_size // 2])
    lines = (folder / "short_jsonl.jsonl").read_text().splitlines()
    (folder / "short_jsonl.jsonl").write_text("\n".join(lines[:-3]) + "\n")
    step = json.loads(lines[5])
    step["action"] = "fly_away"
    (folder / "unknown_action.jsonl").write_text(
        "\n".join([*lines[:5], json.dumps(step), *lines[6:]]) + "\n")
    meta = json.loads((folder / "empty.meta.json").read_text())
    (folder / "empty.meta.json").write_text(json.dumps({**meta, "frames": 0}))
    (folder / "empty.jsonl").write_text("")
    return names


FAULTS = {"truncated_mp4": "unreadable video", "short_jsonl": "frame counts disagree",
          "unknown_action": "'fly_away' is not in action_names", "empty": "empty recording"}


def check_bad_folder_output(message, out):
    for name, fault in FAULTS.items():
        line = next((x for x in message.splitlines() if f"/{name}." in x or f"/{name}:" in x), "")
        assert fault in line, (name, message)
    assert "4 of 5 recordings failed (1 written" in message
    # nothing half-written; the run summary names every recording, failed or not
    assert sorted(p.name for p in out.iterdir()) == ["good.segments.json", "segment-run.json"]
    run = json.loads((out / "segment-run.json").read_text())
    assert [Path(r["recording"]).name for r in run["recordings"]] == [
        "empty", "good", "short_jsonl", "truncated_mp4", "unknown_action"]
    assert [bool(r.get("error")) for r in run["recordings"]] == [True, False, True, True, True]
    assert read_segmentation(out / "good.segments.json").frames == 60


def test_bad_recordings_are_named_and_the_others_segmented(recordings, models, tmp_path):
    bad_folder(recordings, tmp_path)
    with pytest.raises(UserError) as caught:
        segment_many([tmp_path], tmp_path / "out", model_dir=models, mode="loss+info")
    check_bad_folder_output(str(caught.value), tmp_path / "out")


@pytest.mark.slow  # starts a Ray cluster
def test_bad_recordings_on_ray_fail_the_command(recordings, models, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    bad_folder(recordings, folder)
    done = run_cli("segment", str(folder), "--out", str(tmp_path / "out"), "--model",
                   str(models), "--workers", "2", "-q", cwd=tmp_path)
    assert done.returncode != 0
    check_bad_folder_output(done.stderr, tmp_path / "out")


def test_a_failing_ray_task_is_named_and_the_others_kept(tmp_path):
    from mcagent.sbd.segment import SegmentJob, _run_on_ray

    class TaskError(Exception):
        pass

    class FakeRay:  # the parts of Ray that `_run_on_ray` uses; task "b" crashes its worker
        exceptions = type("exceptions", (), {"RayError": TaskError})

        def is_initialized(self):
            return True

        def remote(self, **_):
            return lambda fn: type("Remote", (), {"remote": staticmethod(lambda job: job)})

        def wait(self, refs, num_returns):
            return refs[:num_returns], refs[num_returns:]

        def get(self, job):
            if job.recording == "b":
                raise TaskError("worker died\nSystemExit: 1")
            return {"recording": job.recording}

    jobs = [SegmentJob(name, str(tmp_path), "info", 0.0, 1) for name in "abc"]
    results = []
    _run_on_ray(jobs, 2, None, results.append, FakeRay())
    results.sort(key=lambda r: r["recording"])
    assert [r.get("error") for r in results] == [None, "b: TaskError: SystemExit: 1", None]


def test_evaluation_needs_skill_labels(tmp_path):
    record_episodes("random", episodes=1, out_dir=tmp_path, seed=0, max_steps=10)
    with pytest.raises(UserError, match="no skill labels"):
        evaluate([tmp_path], None)


def test_a_missing_prediction_is_named(recordings, tmp_path):
    with pytest.raises(UserError, match="crafter-expert-s0.segments.json: missing"):
        evaluate([recordings], tmp_path)


def test_the_shipped_models_fit_crafter():
    import mcagent.worlds as worlds

    env = worlds.make("crafter")
    for name in (ACTION_MODEL, IDM):
        model, notes = load_model(ROOT / "checkpoints" / "sbd", name)
        assert model.config.action_names == tuple(env.action_names)
        assert checkpoint_paths(ROOT / "checkpoints" / "sbd", name)[0].stat().st_size < 4e6
    _, notes = load_model(ROOT / "checkpoints" / "sbd", ACTION_MODEL)
    assert set(notes["boundary"]) == {"loss", "info", "loss+info"}


def test_the_shipped_scorer_reads_the_shipped_action_model():
    from mcagent.sbd.scorer import SCORER, load_scorer

    scorer, notes = load_scorer(ROOT / "checkpoints" / "sbd")  # checks the model's SHA-256
    assert set(notes["boundary"]) == {"threshold", "min_length"}
    assert checkpoint_paths(ROOT / "checkpoints" / "sbd", SCORER)[0].stat().st_size < 1e6
    assert rule_for(ROOT / "checkpoints" / "sbd", "learned").threshold == notes["boundary"][
        "threshold"]
