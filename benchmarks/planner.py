"""Benchmark the planners: plan lengths on Plan4MC's 40 tasks against Plan4MC's, validity, speed; Crafter.

On Plan4MC's own graph (`skill_graph/plan4mc/skills.yaml`) and tasks, for each
task: the length published for Plan4MC's code where known, the plan4mc
baseline's length, mcagent's on the rules as written and with Minecraft's
tool tiers, the exact optimum (A*) for comparison, and whether each plan
passes the verifier. Then every Crafter achievement on
`skill_graph/crafter.yaml`. Prints the figures, writes the per-task table to
`benchmarks/planner.tasks.md` and appends a line to
`benchmarks/planner.history.jsonl`.

    python -m benchmarks.planner [--repeat 5] [--exact-as-written] [--cost-seeds 3]
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import statistics
import subprocess
from pathlib import Path

import yaml

from mcagent.graph.schema import load_graph
from mcagent.planner import NO_TIERS, Planner, SkillCost, SkillCosts, verify_plan
from mcagent.planner.plan4mc import PUBLISHED_LENGTHS as PUBLISHED, PUBLISHED_TOTAL
from mcagent.worlds.tasks import get_suite

ROOT = Path(__file__).resolve().parents[1]
HISTORY = Path(__file__).with_name("planner.history.jsonl")
TABLE = Path(__file__).with_name("planner.tasks.md")
PLAN4MC_GRAPH = ROOT / "skill_graph" / "plan4mc" / "skills.yaml"
CRAFTER_GRAPH = ROOT / "skill_graph" / "crafter.yaml"
CRAFTER_EXTRA = ROOT / "mcagent" / "graph" / "data" / "crafter_extra.yaml"


def run(planner: Planner, target: str, inventory: dict, count: int = 1, repeat: int = 1):
    """The plan, whether the verifier passes it, and the median planning time in ms."""
    times, plan = [], None
    for _ in range(repeat):
        plan = planner.plan(target, inventory, count)
        times.append(plan.planning_ms)
    valid = verify_plan(planner.rules, plan.skills, plan.start, plan.goal).valid
    return plan, valid, statistics.median(times)


def plan4mc_rows(repeat: int, exact_as_written: bool) -> list[dict]:
    graph = load_graph(PLAN4MC_GRAPH)
    planners = {"plan4mc": Planner(graph, "plan4mc", tiers=NO_TIERS),
                "written": Planner(graph, tiers=NO_TIERS),
                "tiers": Planner(graph),  # Minecraft's tool tiers, the default for this world
                "optimal_tiers": Planner(graph, "optimal")}
    if exact_as_written:
        planners["optimal_written"] = Planner(graph, "optimal", tiers=NO_TIERS,
                                              max_states=2_000_000)
    rows = []
    for task in get_suite("plan4mc").tasks:
        row = {"task": task.name, "published": PUBLISHED.get(task.name)}
        for key, planner in planners.items():
            times = repeat if key in ("written", "tiers") else 1
            plan, valid, ms = run(planner, task.target, dict(task.initial_inventory),
                                  task.count, times)
            row[key], row[f"{key}_valid"], row[f"{key}_ms"] = len(plan), valid, ms
        rows.append(row)
    return rows


def cost_check(seeds: int) -> tuple[int, int]:
    """With random skill costs, how often mcagent's expected steps equal the A* optimum's."""
    graph = load_graph(PLAN4MC_GRAPH)
    equal = total = 0
    for seed in range(seeds):
        rnd = random.Random(seed)
        costs = SkillCosts({s.name: SkillCost(rnd.uniform(1, 60), rnd.uniform(0.3, 1.0))
                            for s in graph}, world="minecraft", source=f"random, seed {seed}")
        fast, exact = Planner(graph, costs=costs), Planner(graph, "optimal", costs=costs)
        for task in get_suite("plan4mc").tasks:
            ours = fast.plan(task.target, task.initial_inventory, task.count).expected_steps
            best = exact.plan(task.target, task.initial_inventory, task.count).expected_steps
            equal += ours <= best + 1e-6
            total += 1
    return equal, total


def crafter_rows(repeat: int) -> list[dict]:
    graph = load_graph(CRAFTER_GRAPH)
    planner = Planner(graph)
    achievements = yaml.safe_load(CRAFTER_EXTRA.read_text())["achievements"]
    rows = []
    for name, entry in achievements.items():
        plan, valid, ms = run(planner, entry["skill"], {}, 1, repeat)
        rows.append({"achievement": name, "length": len(plan), "valid": valid, "ms": ms})
    return rows


def table(rows: list[dict], exact_as_written: bool) -> str:
    head = ["task", "Plan4MC published", "plan4mc baseline", "mcagent (as written)",
            "mcagent (tool tiers)", "optimal (tool tiers)"]
    if exact_as_written:
        head.append("optimal (as written)")
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in rows:
        cells = [r["task"], str(r["published"] or ""), str(r["plan4mc"]), str(r["written"]),
                 str(r["tiers"]), str(r["optimal_tiers"])]
        if exact_as_written:
            cells.append(str(r["optimal_written"]))
        lines.append("| " + " | ".join(cells) + " |")
    totals = ["**total**", str(PUBLISHED_TOTAL)] + [
        str(sum(r[k] for r in rows)) for k in ("plan4mc", "written", "tiers", "optimal_tiers")]
    if exact_as_written:
        totals.append(str(sum(r["optimal_written"] for r in rows)))
    lines.append("| " + " | ".join(totals) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5,
                        help="plan each task this many times; the median time counts (default 5)")
    parser.add_argument("--exact-as-written", action="store_true",
                        help="also find the optimum without tool tiers (A*, a few minutes)")
    parser.add_argument("--cost-seeds", type=int, default=0,
                        help="also plan the 40 tasks with this many sets of random skill costs "
                             "and compare expected steps with the A* optimum's (default 0)")
    args = parser.parse_args()

    rows = plan4mc_rows(args.repeat, args.exact_as_written)
    crafter = crafter_rows(args.repeat)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=ROOT).stdout.strip()
    text = table(rows, args.exact_as_written)
    TABLE.write_text(f"# Plan lengths on Plan4MC's 40 tasks (skills per plan)\n\n"
                     f"Written by `python -m benchmarks.planner` at commit {commit}. Graph: "
                     f"`skill_graph/plan4mc/skills.yaml`; tasks: Plan4MC's "
                     f"`hard_task_conf.yaml`. \"Published\": measured with Plan4MC's own code "
                     f"(the total and the examples in its README). \"As written\": the graph's "
                     f"rules; \"tool tiers\": a better pickaxe, axe, shovel or sword stands in "
                     f"for a lesser one (`mcagent/planner/tiers/minecraft.yaml`).\n\n{text}\n")
    print(text)

    def total(key: str) -> int:
        return sum(r[key] for r in rows)

    def times(key: str) -> list[float]:
        return [r[f"{key}_ms"] for r in rows]

    matches = [r["task"] for r in rows if r["published"] and r["published"] != r["plan4mc"]]
    record = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"), "commit": commit,
        "tasks": len(rows),
        "plan4mc_published_total": PUBLISHED_TOTAL, "plan4mc_baseline_total": total("plan4mc"),
        "plan4mc_baseline_matches_published": total("plan4mc") == PUBLISHED_TOTAL and not matches,
        "plan4mc_baseline_valid": sum(r["plan4mc_valid"] for r in rows),
        "mcagent_as_written_total": total("written"),
        "mcagent_as_written_valid": sum(r["written_valid"] for r in rows),
        "mcagent_tiers_total": total("tiers"),
        "mcagent_tiers_valid": sum(r["tiers_valid"] for r in rows),
        "optimal_tiers_total": total("optimal_tiers"),
        "optimal_as_written_total": total("optimal_written") if args.exact_as_written else None,
        "mcagent_ms_median": round(statistics.median(times("tiers")), 2),
        "mcagent_ms_max": round(max(times("tiers")), 2),
        "mcagent_as_written_ms_median": round(statistics.median(times("written")), 2),
        "mcagent_as_written_ms_max": round(max(times("written")), 2),
        "crafter_achievements": len(crafter),
        "crafter_valid": sum(r["valid"] for r in crafter),
        "crafter_total": sum(r["length"] for r in crafter),
        "crafter_ms_median": round(statistics.median(r["ms"] for r in crafter), 2),
        "crafter_ms_max": round(max(r["ms"] for r in crafter), 2),
    }
    if args.cost_seeds:
        equal, checked = cost_check(args.cost_seeds)
        record["costed_optimal"], record["costed_checked"] = equal, checked
    print(f"\nPlan4MC's 40 tasks (per-task table: {TABLE.relative_to(ROOT)})")
    print(f"  plan4mc baseline:        {record['plan4mc_baseline_total']} skills "
          f"(Plan4MC's code: {PUBLISHED_TOTAL}; published examples "
          f"{'all match' if not matches else 'differ: ' + ', '.join(matches)}), "
          f"{record['plan4mc_baseline_valid']}/40 valid")
    print(f"  mcagent, as written:     {record['mcagent_as_written_total']} skills, "
          f"{record['mcagent_as_written_valid']}/40 valid, planning median "
          f"{record['mcagent_as_written_ms_median']} ms, max "
          f"{record['mcagent_as_written_ms_max']} ms")
    print(f"  mcagent, tool tiers:     {record['mcagent_tiers_total']} skills, "
          f"{record['mcagent_tiers_valid']}/40 valid, planning median "
          f"{record['mcagent_ms_median']} ms, max {record['mcagent_ms_max']} ms")
    print(f"  optimal (A*), tiers:     {record['optimal_tiers_total']} skills")
    if args.exact_as_written:
        print(f"  optimal (A*), as written: {record['optimal_as_written_total']} skills")
    if args.cost_seeds:
        print(f"  with random skill costs ({args.cost_seeds} seeds): mcagent's expected steps "
              f"equal the A* optimum's in {record['costed_optimal']} of "
              f"{record['costed_checked']} plans")
    print(f"Crafter, {len(crafter)} achievements on {CRAFTER_GRAPH.relative_to(ROOT)}: "
          f"{record['crafter_valid']} valid, {record['crafter_total']} skills in all, planning "
          f"median {record['crafter_ms_median']} ms, max {record['crafter_ms_max']} ms")
    for r in crafter:
        print(f"  {r['achievement']:20s} {r['length']:3d}  {'valid' if r['valid'] else 'INVALID'}")
    with HISTORY.open("a") as f:
        f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
