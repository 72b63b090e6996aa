"""The skill comparison table: BC only, BC + PPO and PPO from scratch, per skill, from evaluation files.

Reads what `mcagent skills evaluate` wrote (100 trials per skill unless told
otherwise) and what `mcagent train all` logged:

    checkpoints/skills/evaluation_bc.json        BC only (--source bc)
    checkpoints/skills/evaluation.json           the shipped set (--source best: PPO where
                                                 there is a PPO checkpoint, so BC + PPO)
    checkpoints/skills/evaluation_agent.json     the shipped set, finding skills run as the
                                                 agent runs them (--as-agent: the policy
                                                 under the memory walks)
    runs/scratch/checkpoints/evaluation_ppo.json PPO from scratch (--source ppo; its
                                                 checkpoints are not shipped)
    <each>/training.json                         env steps and wall time per skill

and prints one Markdown row per skill: success rate and mean steps per attempt
for each, the PPO runs' environment steps and wall time, and how many trials
ended in death. Appends the figures to benchmarks/skills_table.history.jsonl.

    python benchmarks/skills_table.py [--skills DIR] [--scratch DIR] [--no-history]
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import subprocess

from mcagent.skills.evaluate import deaths_cell

ROOT = pathlib.Path(__file__).resolve().parent.parent
HISTORY = ROOT / "benchmarks" / "skills_table.history.jsonl"


def _load(path: pathlib.Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    return {r["skill"]: r for r in json.loads(path.read_text())}


def _cell(result: dict | None) -> str:
    if not result or not result.get("trials"):
        return "-"
    return f"{result['success_rate']:.0%} / {result['steps']:.0f}"


def _died(result: dict | None) -> str:
    return f", died {deaths_cell(result)}" if result and result.get("trials") else ""


def _cost(run: dict | None) -> str:
    if not run:
        return "-"
    return f"{run['env_steps'] / 1000:.0f}k, {run['wall_s'] / 60:.0f} min"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skills", default=str(ROOT / "checkpoints" / "skills"))
    parser.add_argument("--scratch", default=str(ROOT / "runs" / "scratch" / "checkpoints"))
    parser.add_argument("--no-history", action="store_true")
    args = parser.parse_args()
    skills, scratch = pathlib.Path(args.skills), pathlib.Path(args.scratch)
    bc = _load(skills / "evaluation_bc.json")
    shipped = _load(skills / "evaluation.json")
    tuned = _load(skills / "evaluation_ppo.json") or {
        k: r for k, r in shipped.items() if "/ppo/" in r.get("checkpoint", "")}
    fresh = _load(scratch / "evaluation_ppo.json")
    agent = {k: r for k, r in _load(skills / "evaluation_agent.json").items()
             if r.get("runs") == "agent"}
    runs = _load(skills / "training.json")
    fresh_runs = _load(scratch / "training.json")
    names = list(shipped or tuned or bc)
    print("| skill | budget | BC only | BC + PPO | PPO steps, wall | PPO from scratch "
          "| scratch steps, wall | shipped | died (shipped) | as the agent runs it |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    rows = []
    for name in names:
        ship = shipped.get(name) or tuned.get(name) or bc.get(name) or {}
        checkpoint = ship.get("checkpoint", "")
        which = ("guarded" if checkpoint == "guarded action" else
                 "PPO" if "/ppo/" in checkpoint else "BC" if checkpoint else "-")
        run, bc_ppo = runs.get(name), tuned.get(name)
        scratch_cell, scratch_run = fresh.get(name), fresh_runs.get(name)
        if run and "/ppo/" in checkpoint and run.get("init") is None:
            # Shipped from scratch: the BC + PPO run it replaced (if any) is kept in
            # training.json; the shipped policy is a scratch run itself.
            which = "PPO from scratch"
            scratch_cell, scratch_run = scratch_cell or ship, scratch_run or run
            run = bc_ppo = run.get("replaced")
        print(f"| {name} | {ship.get('budget', '-')} | {_cell(bc.get(name))} "
              f"| {_cell(bc_ppo)} | {_cost(run)} | {_cell(scratch_cell)} "
              f"| {_cost(scratch_run)} | {_cell(ship)} ({which}) "
              f"| {deaths_cell(ship) if ship.get('trials') else '-'} "
              f"| {_cell(agent.get(name))}{_died(agent.get(name))} |")
        rows.append({"skill": name, "bc": bc.get(name), "bc_ppo": bc_ppo,
                     "scratch": scratch_cell, "shipped": ship, "agent": agent.get(name), "run": run,
                     "scratch_run": scratch_run})
    print("cells: success rate / mean steps per attempt (over the trials of evaluation*.json)")
    if not args.no_history:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True).stdout.strip()
        line = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "commit": commit, "rows": rows}
        with HISTORY.open("a") as f:
            f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
