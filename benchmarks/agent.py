"""Benchmark the hierarchical agent with the PRIVILEGED oracle skill executor on one task.

Plays one episode per seed (planner on skill_graph/crafter.yaml, re-planning
after every skill, survival interrupts, the oracle driving each planned skill
with the scripted expert's path search), in this process, and prints the
success rate, the median steps of the successes, skills run per episode, and
how the others ended. Appends the figures to `benchmarks/agent.history.jsonl`.
Run from the repository root:

    python benchmarks/agent.py [--task collect_diamond] [--seeds 20] [--first-seed 0]
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

HISTORY = Path(__file__).with_name("agent.history.jsonl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="collect_diamond")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0)
    args = parser.parse_args()

    from mcagent import worlds
    from mcagent.agent import Agent
    from mcagent.graph.schema import load_graph
    from mcagent.oracle import OracleSkills
    from mcagent.planner import Planner
    from mcagent.skills.library import skill_library

    graph = load_graph("skill_graph/crafter.yaml", world="crafter")
    library = skill_library("skill_graph/crafter.yaml")
    began = time.time()
    results = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        env = worlds.make("crafter", task=args.task)
        oracle = OracleSkills(library, env)
        agent = Agent(Planner(graph), library, oracle.runners(), source=oracle.source)
        results.append(agent.run(env, env.task, seed=seed))
    wins = [r for r in results if r.success]
    ends = collections.Counter(r.end.split(":")[0] for r in results if not r.success)
    figures = {
        "task": args.task, "seeds": [args.first_seed, args.first_seed + args.seeds - 1],
        "success": len(wins), "episodes": len(results),
        "median_steps_success": float(np.median([r.steps for r in wins])) if wins else None,
        "mean_skills_run": float(np.mean([r.skills_run for r in results])),
        "mean_skill_success": float(np.mean([r.skills_succeeded / max(1, r.skills_run)
                                             for r in results])),
        "mean_interrupts": float(np.mean([r.interrupts for r in results])),
        "other_ends": dict(ends), "wall_s": round(time.time() - began, 1),
        "per_seed": {r.seed: r.end for r in results},
    }
    print(f"{args.task}, oracle executor (privileged), seeds {figures['seeds'][0]}-"
          f"{figures['seeds'][1]}: {len(wins)}/{len(results)} = {len(wins) / len(results):.0%}; "
          f"median steps {figures['median_steps_success']}; "
          f"skills per episode {figures['mean_skills_run']:.1f} "
          f"({figures['mean_skill_success']:.0%} succeed); "
          f"interrupts {figures['mean_interrupts']:.1f}; others: {dict(ends)}; "
          f"{figures['wall_s']} s")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    with HISTORY.open("a") as history:
        history.write(json.dumps({"date": datetime.datetime.now(datetime.timezone.utc)
                                  .isoformat(timespec="seconds"), "commit": commit,
                                  **figures}) + "\n")


if __name__ == "__main__":
    main()
