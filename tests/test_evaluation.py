"""`mcagent eval`: real Crafter episodes, the real planner, a real local Ray cluster, real reports.

The hierarchical agents run the privileged oracle executor here (`--skills
expert`), so the tests do not depend on a trained skill set; the random agent
is the real baseline.
"""

from __future__ import annotations

import json
import math
import shutil
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from mcagent.cli import main
from mcagent.errors import UserError
from mcagent.evaluation.episodes import EpisodeRunner, EvalSettings
from mcagent.evaluation.report import wilson_interval, write_report
from mcagent.evaluation.results import ResultsFile, read_results
from mcagent.evaluation.run import make_plan, run_evaluation
from mcagent.evaluation.score import crafter_score, read_stats, success_rates

ROOT = pathlib.Path(__file__).parent.parent
GRAPH = str(ROOT / "skill_graph" / "crafter.yaml")
ORACLE = EvalSettings(graph=GRAPH, skills="expert", max_steps=400)


def test_crafter_score_is_the_benchmarks_geometric_mean():
    assert crafter_score({"a": 100.0, "b": 100.0}) == pytest.approx(100.0)
    assert crafter_score({"a": 0.0, "b": 0.0}) == pytest.approx(0.0)
    # exp(mean(ln(1 + s))) - 1 with s in %: one achievement always, one never -> sqrt(101) - 1.
    assert crafter_score({"a": 100.0, "b": 0.0}) == pytest.approx(math.sqrt(101) - 1)
    stats = [{"length": 5, "achievement_a": 2, "achievement_b": 0},
             {"length": 9, "achievement_a": 0, "achievement_b": 0},
             {"length": 7, "achievement_a": 1, "achievement_b": 1},
             {"length": 3, "achievement_a": 1, "achievement_b": 0}]
    assert success_rates(stats) == {"a": 75.0, "b": 25.0}


def test_wilson_interval_matches_known_values():
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson_interval(50, 100)
    assert (lo, hi) == (pytest.approx(0.4038, abs=1e-4), pytest.approx(0.5962, abs=1e-4))
    lo, hi = wilson_interval(10, 10)
    assert hi == 1.0 and lo == pytest.approx(0.7225, abs=1e-4)


def test_results_file_drops_a_torn_last_line_and_never_writes_a_key_twice(tmp_path):
    results = ResultsFile(tmp_path)
    assert results.add({"key": "a/t/1", "x": 1})
    assert results.add({"key": "a/t/2", "x": 2})
    assert not results.add({"key": "a/t/1", "x": 3})
    with open(results.path, "ab") as stream:       # a kill in the middle of a write
        stream.write(b'{"key": "a/t/3", "x"')
    again = ResultsFile(tmp_path)
    assert [r["key"] for r in again.records] == ["a/t/1", "a/t/2"]
    assert results.path.read_bytes().endswith(b"\n")
    assert again.add({"key": "a/t/3", "x": 4})
    assert [r["x"] for r in read_results(results.path)] == [1, 2, 4]
    with open(results.path, "ab") as stream:       # damage in the middle is an error, not a guess
        stream.write(b"not json\n" + b'{"key": "a/t/4"}\n')
    with pytest.raises(UserError, match="line 4 is not JSON"):
        read_results(results.path)


def test_learned_skills_replay_the_same_episode_from_the_same_seed():
    # The shipped skill set samples its actions: the seed fixes those draws too.
    runner = EpisodeRunner(EvalSettings(graph=GRAPH, max_steps=120))
    first = runner.run("mcagent", "collect_stone", 1_000_000_007)
    runner.run("mcagent", "collect_stone", 1_000_000_008)        # other draws in between
    again = runner.run("mcagent", "collect_stone", 1_000_000_007)
    assert "checkpoints" in first["policies"] and first["skills"]
    for skill, (runs, wins) in first["skills"].items():     # every run ends one way or another
        assert runs == wins + sum(first["skill_ends"].get(skill, {}).values()), skill
    drop = ("wall_s", "pid")
    assert {k: v for k, v in again.items() if k not in drop} == \
        {k: v for k, v in first.items() if k not in drop}


def test_an_episode_record_says_how_it_went():
    runner = EpisodeRunner(ORACLE)
    won = runner.run("mcagent", "make_wood_pickaxe", 3)
    assert won["success"] and won["cause"] == "success" and won["key"] == "mcagent/make_wood_pickaxe/3"
    assert won["skills"]["make_wood_pickaxe"] == [1, 1] and won["plan_length"] == 8
    assert all(won["skills"][s][0] - won["skills"][s][1] == sum(e.values())
               for s, e in won["skill_ends"].items())
    assert "privileged" in won["policies"] and won["node"] == "local"
    planned = runner.run("plan4mc", "make_wood_pickaxe", 3)     # Plan4MC's planner, same skills
    assert planned["success"] and planned["plan_length"] >= 8
    lost = runner.run("random", "collect_diamond", 3)
    assert not lost["success"] and lost["cause"] in ("death", "timeout")
    assert lost["policies"] == "uniform random actions" and lost["skills"] == {}
    if lost["cause"] == "death":
        assert lost["death_by"] in ("zombie", "arrow", "lava", "hunger", "thirst", "fatigue")
    again = runner.run("random", "collect_diamond", 3)
    assert {k: v for k, v in again.items() if k != "wall_s"} == \
        {k: v for k, v in lost.items() if k != "wall_s"}      # the same seed, the same episode


def test_eval_command_writes_results_and_a_self_contained_report(tmp_path, capsys):
    out = tmp_path / "eval"
    code = main(["eval", "--suite", "tech-tree", "--tasks", "collect_wood,place_table",
                 "--agents", "mcagent,random", "--episodes", "2", "--skills", "expert",
                 "--graph", GRAPH, "--workers", "0", "--max-steps", "300", "--out", str(out),
                 "-q"])
    assert code == 0
    printed = capsys.readouterr().out
    assert str(out / "results.jsonl") in printed and str(out / "report.html") in printed
    records = read_results(out / "results.jsonl")
    assert sorted(r["key"] for r in records) == sorted(
        f"{a}/{t}/{1_000_000_000 + i}" for a in ("mcagent", "random")
        for t in ("collect_wood", "place_table") for i in range(2))
    summary = json.loads((out / "summary.json").read_text())
    for row in summary["rows"]:
        mine = [r for r in records if r["task"] == row["task"] and r["agent"] == row["agent"]]
        assert row["episodes"] == 2 and row["successes"] == sum(r["success"] for r in mine)
    assert summary["provenance"]["files_sha256"][GRAPH]
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 4      # the plots travel inside the page
    assert "<table>" in page and "PRIVILEGED" in page
    markdown = (out / "report.md").read_text()
    for heading in ("Success rate", "Success per skill", "Plan lengths", "Failure causes",
                    "Provenance"):
        assert f"## {heading}" in markdown
    assert "mcagent: runs / success / int. / died / budget / other" in markdown
    ends = summary["skills"]["mcagent"]["collect_wood"]["ends"]
    assert sorted(ends) == ["budget", "death", "interrupted", "other"]
    for plot in ("success", "failures", "skills-mcagent", "plans"):
        assert (out / "plots" / f"{plot}.png").stat().st_size > 1000

    # The same arguments again: nothing left to play. Other arguments: refused.
    assert main(["eval", "--suite", "tech-tree", "--tasks", "collect_wood,place_table",
                 "--agents", "mcagent,random", "--episodes", "2", "--skills", "expert",
                 "--graph", GRAPH, "--workers", "0", "--max-steps", "300", "--out", str(out),
                 "-q"]) == 0
    assert "0 episodes played, 8 already done" in capsys.readouterr().out
    assert main(["eval", "--suite", "tech-tree", "--agents", "random", "--episodes", "3",
                 "--workers", "0", "--out", str(out), "-q"]) == 2
    assert "holds another evaluation" in capsys.readouterr().err


def test_crafter_score_suite_records_with_crafters_own_recorder(tmp_path):
    settings = EvalSettings(graph=GRAPH, skills="expert", max_steps=300)
    plan = make_plan("crafter-score", ["mcagent", "random"], 2, settings)
    run_evaluation(plan, tmp_path, workers=0)
    written = write_report(tmp_path)
    records = read_results(tmp_path / "results.jsonl")
    for agent in ("mcagent", "random"):
        stats = read_stats(written[f"stats-{agent}"])
        assert len(stats) == 2
        mine = sorted((r for r in records if r["agent"] == agent), key=lambda r: r["seed"])
        for line, record in zip(stats, mine):
            # crafter.Recorder's line is the episode the record describes.
            assert line["length"] == record["steps"]
            assert {k[len("achievement_"):]: v for k, v in line.items()
                    if k.startswith("achievement_")} == record["achievements"]
        summary = json.loads((tmp_path / "summary.json").read_text())
        assert summary["crafter_score"][agent]["score"] == pytest.approx(
            crafter_score(success_rates(stats)))
    # The agent pursues achievements until the episode ends (no giving up at the first one).
    assert all(r["steps"] == 300 or r["cause"] == "death" for r in records)
    assert max(len(r["unlocked"]) for r in records if r["agent"] == "mcagent") >= 3
    assert "Crafter score" in (tmp_path / "report.md").read_text()


def busy_ray_workers() -> list:
    """Ray worker processes in the middle of an episode (Ray titles them after the task)."""
    import psutil

    return [p for p in psutil.process_iter(["cmdline"])
            if (p.info["cmdline"] or [""])[0].startswith("ray::_play")]


def test_eval_on_ray_replays_the_episode_of_a_lost_worker(tmp_path):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        plan = make_plan("tech-tree", ["mcagent", "random"], 4,
                         EvalSettings(graph=GRAPH, skills="expert", max_steps=300),
                         tasks=["collect_stone"])
        killed = []

        def progress(record, done, total):
            busy = busy_ray_workers()
            if not killed and busy:      # kill a worker in the middle of its episode
                killed.append(busy[0].pid)
                busy[0].kill()

        stats = run_evaluation(plan, tmp_path, workers=2, progress=progress)
    finally:
        ray.shutdown()
    records = read_results(tmp_path / "results.jsonl")
    keys = [r["key"] for r in records]
    assert killed, "no worker was busy when an episode ended"
    assert len(keys) == len(set(keys)) == 8 == stats["planned"]
    assert stats["retried"] >= 1 and any(r["attempt"] == 2 for r in records)
    assert killed[0] not in {r["pid"] for r in records if r["attempt"] == 2}
    assert all(r["node"] != "local" for r in records)


def test_eval_killed_halfway_resumes_to_exactly_the_planned_episodes(tmp_path):
    out = tmp_path / "eval"
    command = [sys.executable, "-m", "mcagent.cli", "eval", "--suite", "tech-tree",
               "--tasks", "collect_wood,collect_stone", "--agents", "mcagent,random",
               "--episodes", "6", "--skills", "expert", "--graph", GRAPH, "--workers", "0",
               "--max-steps", "400", "--out", str(out), "-q"]
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    results = out / "results.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:
        if results.exists() and len(results.read_bytes().splitlines()) >= 8:
            break
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    halfway = len(read_results(results))
    assert 8 <= halfway < 24
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert f"{24 - halfway} episodes played, {halfway} already done" in finished.stdout
    keys = [json.loads(line)["key"] for line in results.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 24


def test_bad_arguments_are_one_line_errors(tmp_path, capsys):
    assert main(["eval", "--suite", "no-such-suite", "--out", str(tmp_path)]) == 2
    assert "no-such-suite" in capsys.readouterr().err
    assert main(["eval", "--suite", "plan4mc", "--out", str(tmp_path)]) == 2
    assert "minedojo" in capsys.readouterr().err.lower()
    assert main(["eval", "--agents", "mcagent,nobody", "--out", str(tmp_path)]) == 2
    assert "nobody" in capsys.readouterr().err
    assert main(["eval", "--tasks", "collect_wood", "--agents", "mcagent", "--checkpoints",
                 str(tmp_path / "none"), "--out", str(tmp_path / "e")]) == 2
    assert "no trained skill set" in capsys.readouterr().err
    assert main(["eval", "--report-only", "--out", str(tmp_path / "empty")]) == 2
    assert "no plan.json" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="needs Debian's chromium (apt-get install chromium)")
def test_report_page_renders_headless_in_chromium(tmp_path):
    settings = EvalSettings(graph=GRAPH, skills="expert", max_steps=200)
    run_evaluation(make_plan("tech-tree", ["mcagent", "random"], 1, settings,
                             tasks=["collect_wood"]), tmp_path, workers=0)
    page = write_report(tmp_path)["html"]
    shot = tmp_path / "page.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,3000",
                    f"--screenshot={shot}", page.resolve().as_uri()],
                   capture_output=True, timeout=120, check=True)
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("RGB"))
    # The plots' bars (matplotlib's default blue) are drawn: the images loaded from the page.
    blue = (np.abs(pixels.astype(int) - (31, 119, 180)).sum(axis=2) < 30).sum()
    assert blue > 2000


def test_the_flat_ppo_baseline_trains_and_plays(tmp_path):
    from mcagent.skills.ppo import FLAT, PPOArgs, train_ppo

    trained = train_ppo(PPOArgs(skill=FLAT, total_steps=256, workers=0, envs_per_worker=2,
                                rollout_len=64, epochs=1, out=str(tmp_path), logdir=None))
    assert trained["env_steps"] == 256
    checkpoint = tmp_path / "ppo" / f"{FLAT}.safetensors"
    config = json.loads(checkpoint.with_suffix(".json").read_text())
    assert config["config"]["skills"] == [FLAT]
    assert config["config"]["allowed"] == [list(config["config"]["action_names"])]  # every action
    settings = EvalSettings(graph=GRAPH, flat_checkpoint=str(checkpoint), max_steps=150)
    record = EpisodeRunner(settings).run("flat-ppo", "collect_wood", 5)
    assert record["policies"] == f"flat PPO {checkpoint}" and record["skills"] == {}
    assert record["steps"] <= 150 and record["cause"] in ("success", "death", "timeout")
    with pytest.raises(UserError, match="mcagent train flat"):
        EpisodeRunner(EvalSettings(graph=GRAPH, flat_checkpoint=str(tmp_path / "none"))).run(
            "flat-ppo", "collect_wood", 5)
