"""The Crafter score of the hierarchical agent, with how long its episodes last.

Plays Crafter-score episodes (or any task) with the shipped skill set, the planner costs
it measured and the task file's survival rules, on seeds never used in training, spread
over processes; every episode is the one `mcagent eval` plays from the same seed (the
score is the eval's to the decimal). Beside the score it prints the achievements an
episode, how many episodes are alive at steps 300, 600 and 1,000 (the first night falls
at about step 180, the second at 480) and each achievement's rate, and appends the
figures to `benchmarks/agent_score.history.jsonl`. `--survival` replaces survival rules
on top of the task's (a JSON object of `mcagent.agent.Survival` fields, as in a task
file's `survival:`), to measure a change before it goes into the task file. Run from the
repository root (about a minute per 100 episodes on 2 cores):

    python benchmarks/agent_score.py [--task crafter_score] [--episodes 100]
        [--first-seed 1000000000] [--processes 2] [--survival '{"dawn": 0.8}']
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import statistics
import subprocess
import time
from pathlib import Path

HISTORY = Path(__file__).with_name("agent_score.history.jsonl")
ALIVE_AT = (300, 600, 1000)


def play(task: str, seeds: list[int], survival: dict) -> list[dict]:
    """One process's episodes: per seed, the steps played and the achievements unlocked."""
    import torch

    from mcagent import worlds
    from mcagent.agent import EpisodeLog
    from mcagent.evaluation.episodes import EpisodeRunner, EvalSettings
    from mcagent.skills.policy import seed_policies
    from mcagent.worlds.tasks import get_task

    torch.set_num_threads(1)
    runner = EpisodeRunner(EvalSettings(graph="skill_graph/crafter.yaml"))
    spec = get_task(task)
    episodes = []
    for seed in seeds:
        env = worlds.make("crafter", task=spec)
        agent = runner._hierarchical("mcagent", env)
        if survival:
            agent.base_survival = agent.base_survival.with_overrides(survival, "--survival")
        seed_policies(seed)          # as the eval does, after the networks are built
        result = agent.run(env, spec, seed=seed, log_to=EpisodeLog())
        episodes.append({"seed": seed, "steps": result.steps, "end": result.end,
                         "unlocked": sorted(a for a, n in env.player.achievements.items()
                                            if n > 0)})
    return episodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="crafter_score")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--first-seed", type=int, default=10**9)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--survival", default="{}", help="JSON: Survival fields to replace")
    args = parser.parse_args()
    survival = json.loads(args.survival)

    from mcagent.agent import Survival
    from mcagent.evaluation.score import crafter_score
    from mcagent.worlds.rules import crafter_rules

    Survival().with_overrides(survival, "--survival")      # a bad name fails before playing
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    seeds = list(range(args.first_seed, args.first_seed + args.episodes))
    shares = [seeds[i::args.processes] for i in range(args.processes)]
    began = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(args.processes) as pool:
        parts = pool.starmap(play, [(args.task, share, survival) for share in shares if share])
    episodes = sorted((e for part in parts for e in part), key=lambda e: e["seed"])
    n = len(episodes)
    rates = {a: 100.0 * sum(a in e["unlocked"] for e in episodes) / n
             for a in crafter_rules().achievements}
    row = {"score": round(crafter_score(rates), 1),
           "achievements_per_episode": round(sum(len(e["unlocked"]) for e in episodes) / n, 2),
           "alive_at": {str(s): sum(e["steps"] > s for e in episodes) for s in ALIVE_AT},
           "median_steps": statistics.median(e["steps"] for e in episodes),
           "successes": sum(e["end"] == "success" for e in episodes),
           "rates": {a: round(r) for a, r in rates.items()}}
    print(f"{args.task}, {n} episodes from seed {args.first_seed}"
          + (f", survival {survival}" if survival else "")
          + f" ({time.perf_counter() - began:.0f} s)")
    print(f"score {row['score']}  achievements per episode {row['achievements_per_episode']}  "
          f"alive at step " + ", ".join(f"{s}: {k}" for s, k in row["alive_at"].items())
          + f"  median steps {row['median_steps']}  successes {row['successes']}")
    print("  ".join(f"{a} {r}" for a, r in row["rates"].items()))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    with HISTORY.open("a") as f:
        f.write(json.dumps({"date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"), "commit": commit, "task": args.task, "episodes": n,
            "first_seed": args.first_seed, "survival": survival, **row}) + "\n")


if __name__ == "__main__":
    main()
