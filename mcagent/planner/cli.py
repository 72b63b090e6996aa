"""`mcagent plan TARGET`: plan a target on a skill graph and print it step by step, or as JSON."""

from __future__ import annotations

import argparse
import json

from mcagent.errors import UserError
from mcagent.paths import default_path



def parse_counts(pairs: list[str] | None, flag: str = "--inventory") -> dict[str, int]:
    """`["log=10", "stone_pickaxe"]` -> `{"log": 10, "stone_pickaxe": 1}`; bad pairs name themselves."""
    counts: dict[str, int] = {}
    for pair in pairs or ():
        item, sep, text = pair.partition("=")
        item = item.strip()
        if not item:
            raise UserError(f"{flag}: {pair!r} has no item name; write ITEM=COUNT")
        try:
            count = int(text) if sep else 1
        except ValueError:
            raise UserError(f"{flag}: {pair!r}: the count must be an integer, "
                            "write ITEM=COUNT") from None
        if item in counts:
            raise UserError(f"{flag}: {item!r} is given twice")
        counts[item] = count
    return counts


def _tiers(text: str | None):
    from mcagent.planner.semantics import NO_TIERS, load_tiers

    if text is None:
        return None  # the graph's world's
    return NO_TIERS if text == "none" else load_tiers(text)


def format_plan(plan) -> str:
    """The plan as text: one numbered line per skill, then counts and totals."""
    cost = f", expected {plan.expected_steps:g} steps" if plan.costed else ""
    lines = [f"plan for {plan.goal} ({plan.algorithm}): {len(plan)} skills{cost}"]
    start = ", ".join(f"{i}={n}" for i, n in sorted(plan.start.items())) or "nothing"
    lines.append(f"  start: {start}")
    if not plan.steps:
        lines.append("  the goal already holds: nothing to do")
    total = 0.0
    width = len(str(len(plan)))
    for index, step in enumerate(plan.steps, 1):
        total += step.expected_steps
        gained = ", ".join(f"+{n} {i}" for i, n in step.gained.items()) or "-"
        note = "".join(f"  ({better} for {tool})" for tool, better in step.substitutes.items())
        if step.missing:
            note += "  BROKEN: missing " + ", ".join(f"{i} x{n}" for i, n in step.missing.items())
        cost = f"{step.expected_steps:8g} {total:8g}" if plan.costed else ""
        lines.append(f"  {index:>{width}}. {step.skill:24s} {step.kind:12s} {gained:24s}"
                     f"{cost}{note}".rstrip())
    if plan.steps:
        counts = ", ".join(f"{name} x{n}" for name, n in plan.counts.items())
        lines.append(f"  counts: {counts}")
    if not plan.valid:
        lines.append(f"  INVALID under the graph's rules: {plan.problem}")
    lines.append(f"  planned in {plan.planning_ms:.1f} ms")
    return "\n".join(lines)


def cmd_plan(args: argparse.Namespace) -> int:
    from mcagent.graph.schema import load_graph
    from mcagent.planner.costs import load_costs
    from mcagent.planner.planner import Planner

    graph = load_graph(args.graph)
    costs = load_costs(args.costs, graph) if args.costs else None
    planner = Planner(graph, args.algorithm, costs, _tiers(args.tiers))
    plan = planner.plan(args.target, parse_counts(args.inventory), args.count)
    if args.json:
        print(json.dumps({"graph": args.graph, **plan.to_dict()}, indent=1))
    else:
        print(format_plan(plan))
    return 0 if plan.valid else 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    from mcagent.planner.planner import ALGORITHMS

    p = sub.add_parser(
        "plan", help="plan a target on a skill graph and print the skills to run",
        description="Plan TARGET (an item, or a skill such as a Crafter achievement) on a "
                    "skill graph, from a start inventory, and print the plan step by step.")
    p.add_argument("target", help="an item of the graph (e.g. iron_pickaxe) or a skill "
                                  "to run (e.g. collect_diamond)")
    p.add_argument("--graph", default=str(default_path("skill_graph", "crafter.yaml")),
                   help="skill graph (default skill_graph/crafter.yaml)")
    p.add_argument("--inventory", nargs="+", action="extend", metavar="ITEM=N",
                   help="start inventory, e.g. --inventory log=10 stone_pickaxe=1 "
                        "(ITEM alone means 1)")
    p.add_argument("--count", type=int, default=1, help="how many of the target (default 1)")
    p.add_argument("--algorithm", default="mcagent", choices=list(ALGORITHMS),
                   help="; ".join(f"{k}: {v}" for k, v in ALGORITHMS.items()))
    p.add_argument("--costs", default=None,
                   help="skill costs file (mcagent-skill-costs/1): minimise expected steps")
    p.add_argument("--tiers", default=None,
                   help="tool tiers file (mcagent-tool-tiers/1), or 'none' for the rules as "
                        "written (default: the graph's world's, e.g. Minecraft's)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(run=cmd_plan)
