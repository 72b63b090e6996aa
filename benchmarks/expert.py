"""Benchmark the scripted expert: how far up the tech tree it gets, and why it stops.

Plays one Crafter episode per seed (Crafter's default 10,000 steps) with the
expert, spread over Ray tasks, and prints per milestone (stone pickaxe, iron
pickaxe, diamond) the share of episodes that reached it and the median step,
then the causes of failure: death and by what, no diamond in reach (the world
has none, or the expert explored everything it could reach), out of steps.
An episode stops at its first diamond unless `--full`. Appends the figures to
`benchmarks/expert.history.jsonl`.

    python benchmarks/expert.py [--seeds 50] [--first-seed 0] [--workers 2]
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import subprocess
import time
from pathlib import Path

import numpy as np

HISTORY = Path(__file__).with_name("expert.history.jsonl")
MILESTONES = ("make_stone_pickaxe", "make_iron_pickaxe", "collect_diamond")


def play(seed: int, max_steps: int, full: bool, noise: float) -> dict:
    """One episode; what it reached, when, and how it ended."""
    import mcagent.worlds as worlds
    from mcagent.recordings.expert import ExpertPlayer

    env = worlds.make("crafter", max_steps=max_steps)
    obs, info = env.reset(seed=seed)
    has_diamond = bool((info["semantic"] == env.semantic_names.index("diamond")).any())
    player = ExpertPlayer(noise=noise, seed=seed)  # as `mcagent record` makes it
    player.reset(env, obs, info)
    firsts: dict[str, int] = {}
    last_hurt, start = None, time.perf_counter()
    step, terminated = 0, False
    while True:
        action, _ = player.act(obs, info)
        obs, _, terminated, truncated, info = env.step(action)
        step += 1
        for event in info["events"]:
            if event in env.rules.achievements:
                firsts.setdefault(event, step)
            if event.startswith("hurt:"):
                last_hurt = event.split(":", 1)[1]
        if terminated or truncated or (not full and "collect_diamond" in firsts):
            break
    dead = "death" in info["events"]
    if "collect_diamond" in firsts:
        outcome = "diamond"
    elif dead:
        outcome = f"death: {last_hurt or 'unknown'}"
    elif not has_diamond:
        outcome = "no diamond in the world"
    elif player.explored_all:
        outcome = "no diamond within reach"
    else:
        outcome = "out of steps"
    return {"seed": seed, "steps": step, "firsts": firsts, "outcome": outcome,
            "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50, help="episodes, one per seed (default 50)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="Ray CPUs to use (default 2)")
    parser.add_argument("--max-steps", type=int, default=10_000)
    parser.add_argument("--noise", type=float, default=0.0)
    parser.add_argument("--full", action="store_true", help="play on after the first diamond")
    parser.add_argument("--address", default=None, help="Ray cluster address (default: local)")
    args = parser.parse_args()

    import ray
    from tqdm import tqdm

    if args.address:
        ray.init(address=args.address, log_to_driver=False)
    else:
        ray.init(num_cpus=args.workers, log_to_driver=False, include_dashboard=False)
    remote = ray.remote(num_cpus=1)(play)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    pending = [remote.remote(s, args.max_steps, args.full, args.noise) for s in seeds]
    results, start = [], time.perf_counter()
    with tqdm(total=len(pending), desc="episodes", unit="ep") as bar:
        while pending:
            done, pending = ray.wait(pending)
            results.extend(ray.get(done))
            bar.update(len(done))
    wall = time.perf_counter() - start
    results.sort(key=lambda r: r["seed"])

    n = len(results)
    print(f"\nexpert over {n} seeds ({args.first_seed}..{args.first_seed + n - 1}), "
          f"{args.max_steps}-step episodes, noise {args.noise}")
    reached = {}
    for milestone in MILESTONES:
        steps = [r["firsts"][milestone] for r in results if milestone in r["firsts"]]
        reached[milestone] = len(steps) / n
        median = int(np.median(steps)) if steps else None
        print(f"  {milestone:20s} {len(steps):3d}/{n} = {100 * len(steps) / n:5.1f}%   "
              f"median step {median}")
    causes = collections.Counter(r["outcome"] for r in results if r["outcome"] != "diamond")
    print("  no diamond, because:")
    for cause, count in causes.most_common():
        seeds_of = [r["seed"] for r in results if r["outcome"] == cause]
        print(f"    {cause:28s} {count:3d}   seeds {seeds_of}")
    steps_played = sum(r["steps"] for r in results)
    print(f"  {steps_played} steps in {wall:.0f} s wall "
          f"({steps_played / sum(r['seconds'] for r in results):.0f} steps/s per worker)")

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=Path(__file__).parent).stdout.strip()
    record = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "commit": commit,
              "seeds": [args.first_seed, args.first_seed + n - 1], "max_steps": args.max_steps,
              "noise": args.noise, "reached": reached, "causes": dict(causes),
              "outcomes": {r["seed"]: r["outcome"] for r in results}}
    with open(HISTORY, "a", encoding="utf-8") as history:
        history.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
