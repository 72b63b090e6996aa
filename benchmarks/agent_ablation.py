"""Which learned skills cost the hierarchical agent most: the oracle swapped in by group.

Plays one task with the shipped skill set and the planner costs it measured, once
with every skill learned and once per group of skills in which the PRIVILEGED
oracle executor takes the place of the learned policies (the rest stay learned),
on the same seeds (never used in training), in this process. Prints, per group,
successes, the median steps of every episode and how the episodes ended, and
appends the figures to `benchmarks/agent_ablation.history.jsonl`. Run from the
repository root:

    python benchmarks/agent_ablation.py [--task make_iron_pickaxe] [--episodes 40]
        [--groups none survival vitals surface cave diamond all-but-cave all-but-diamond all] [--failures 8]

Beside each group's successes it prints the skill runs that failed most often, with
why (`place_furnace: budget`, `defeat_zombie: episode ended (death)`).
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import statistics
import subprocess
import time
from pathlib import Path

HISTORY = Path(__file__).with_name("agent_ablation.history.jsonl")
SURVIVAL = ("defeat_zombie", "build_shelter")
VITALS = ("find_water", "collect_drink", "find_cow", "eat_cow", "wake_up")
SURFACE = ("find_tree", "collect_wood", "find_stone", "collect_stone")
CAVE = ("find_coal", "collect_coal", "find_iron", "collect_iron")
DIAMOND = ("find_diamond", "collect_diamond")
# None: read from the library (every skill, the guarded ones too; or all but DIAMOND's).
GROUPS = {"none": (), "survival": SURVIVAL, "vitals": VITALS, "surface": SURFACE, "cave": CAVE,
          "diamond": DIAMOND, "all-but-cave": SURVIVAL + VITALS + SURFACE,
          "all-but-diamond": None, "all": None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="make_iron_pickaxe")
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--first-seed", type=int, default=10**9)
    parser.add_argument("--groups", nargs="+", default=list(GROUPS), choices=list(GROUPS))
    parser.add_argument("--checkpoints", default="checkpoints/skills")
    parser.add_argument("--failures", type=int, default=8,
                        help="print the N most frequent skill failures (skill: why) per group")
    args = parser.parse_args()

    from mcagent import worlds
    from mcagent.agent import Agent, EpisodeLog, Survival
    from mcagent.agent_cli import load_policies, skill_costs
    from mcagent.graph.schema import load_graph
    from mcagent.planner import Planner
    from mcagent.skills.library import skill_library
    from mcagent.skills.policy import seed_policies

    graph = load_graph("skill_graph/crafter.yaml", world="crafter")
    library = skill_library("skill_graph/crafter.yaml")
    env = worlds.make("crafter", task=args.task)
    learned, source = load_policies("checkpoints", library, env, args.checkpoints)
    oracle, _ = load_policies("expert", library, env, args.checkpoints)
    planner = Planner(graph, costs=skill_costs("checkpoints", args.checkpoints, graph))
    seeds = range(args.first_seed, args.first_seed + args.episodes)
    rows = []
    for group in args.groups:
        every = [s.name for s in library]
        swapped = (every if group == "all" else [n for n in every if n not in DIAMOND]
                   if group == "all-but-diamond" else list(GROUPS[group]))
        policies = {**learned, **{s: oracle[s] for s in swapped if s in oracle}}
        agent = Agent(planner, library, policies, source=source, survival=Survival())
        began = time.perf_counter()
        results, failed = [], collections.Counter()
        for seed in seeds:
            seed_policies(seed)
            log = EpisodeLog()
            results.append(agent.run(env, env.task, seed=seed, log_to=log))
            failed.update(f"{e['skill']}: {e['why']}" for e in log.of("skill_failed"))
        row = {"group": group, "oracle_skills": "all" if group == "all" else swapped,
               "episodes": len(results), "successes": sum(r.success for r in results),
               "median_steps": statistics.median(r.steps for r in results),
               "ends": dict(collections.Counter(r.end for r in results)),
               "wall_s": round(time.perf_counter() - began, 1),
               "skill_failures": dict(failed.most_common(args.failures))}
        rows.append(row)
        print(f"{group:13s} {row['successes']:3d}/{row['episodes']}  median steps "
              f"{row['median_steps']:6.1f}  {row['ends']}", flush=True)
        if args.failures:
            print("    skills that failed most (skill: why, runs):",
                  "; ".join(f"{k} {v}" for k, v in row["skill_failures"].items()), flush=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    with HISTORY.open("a") as f:
        f.write(json.dumps({"date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"), "commit": commit, "task": args.task,
            "first_seed": args.first_seed, "rows": rows}) + "\n")


if __name__ == "__main__":
    main()
