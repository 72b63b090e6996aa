"""Skill statistics: success rate and mean steps of each skill over many trials, for the planner.

Each skill runs `trials` episodes of `SkillEnv` (its own starts and budget, no
shaping) as one Ray task. Results are written as they arrive: a report
(`evaluation.json`: every figure, per skill) and the planner's costs file
(`costs.yaml`, format `mcagent-skill-costs/1`: mean steps per attempt and the
success rate, smoothed as (s + 1) / (n + 2) when no trial succeeded).
"""

from __future__ import annotations

import json
import pathlib
import time
from collections.abc import Callable, Sequence

import yaml

from mcagent.skills.env import SkillEnv
from mcagent.skills.files import portable_path, write_atomic
from mcagent.skills.library import load_settings, skill_library
from mcagent.skills.policy import seed_policies
from mcagent.skills.runner import SearchRunner, load_skill_set
from mcagent.worlds import damage_cause

COSTS_FORMAT = "mcagent-skill-costs/1"


def evaluate_skill(skill: str, folder: str, source: str = "best", trials: int = 100,
                   seed: int = 10_000, graph: str | None = "auto", greedy: bool = False,
                   as_agent: bool = False) -> dict:
    """Run one skill `trials` times from its start; seeds differ from training's.
    `as_agent`: a learned finding skill runs as the agent runs it, its policy under the
    memory walks (`SearchRunner`); other skills run as without."""
    import torch

    torch.set_num_threads(1)
    started = time.time()
    library = skill_library(graph)
    spec = library[skill]
    runners = load_skill_set(library, folder, source, skills=[skill], greedy=greedy)
    result = {"skill": skill, "kind": spec.kind, "budget": spec.budget, "trials": 0,
              "successes": 0, "source": source}
    if skill not in runners:
        result["error"] = f"no {source} checkpoint in {portable_path(str(folder))}"
        return result
    runner = runners[skill]
    env = SkillEnv(spec, shaping=0.0)
    if as_agent and spec.kind == "finding" and spec.learned:
        runner = SearchRunner(runner, env.ids)
    result["runs"] = "agent" if isinstance(runner, SearchRunner) else "skill"
    steps, success_steps, deaths = [], [], 0
    killed_by: dict[str, int] = {}    # deaths by the cause of the last damage (lava, arrow, ...)
    for trial in range(trials):
        seed_policies(seed + trial)         # the policy samples its actions: same seed, same trial
        obs, info = env.reset(seed=seed + trial)
        if hasattr(runner, "reset"):
            runner.reset()
        n, done, success, hurt = 0, False, False, "unknown"
        while not done:
            action = runner.act(obs, info)
            if action is None:          # the guard failed: the skill cannot run here
                break
            obs, _, terminated, truncated, info = env.step(env.action_names.index(action))
            n += 1
            done = terminated or truncated
            success = info["skill_success"]
            hurt = damage_cause(info.get("events", ()), hurt)
            if terminated and not success:
                deaths += 1
                killed_by[hurt] = killed_by.get(hurt, 0) + 1
        steps.append(max(n, 1))
        if success:
            success_steps.append(n)
    result.update(trials=trials, successes=len(success_steps), deaths=deaths,
                  killed_by=dict(sorted(killed_by.items(), key=lambda kv: -kv[1])),
                  success_rate=len(success_steps) / trials,
                  steps=sum(steps) / trials,
                  steps_success=(sum(success_steps) / len(success_steps)) if success_steps else None,
                  checkpoint=portable_path(runner.checkpoint) if runner.checkpoint else "guarded action",
                  wall_s=round(time.time() - started, 1))
    if isinstance(runner, SearchRunner):
        result["actions_by"] = dict(runner.counts)    # which part of the run chose each step
    return result


def costs_document(results: Sequence[dict], source: str) -> dict:
    """The planner's costs file from evaluation results (skills never run are left out)."""
    skills = {}
    for r in results:
        if not r.get("trials"):
            continue
        rate = r["success_rate"] or (r["successes"] + 1) / (r["trials"] + 2)
        skills[r["skill"]] = {"steps": round(float(r["steps"]), 2),
                              "success_rate": round(float(rate), 4), "trials": r["trials"]}
    return {"format": COSTS_FORMAT, "world": "crafter", "source": source, "skills": skills}


def evaluate_skills(skills: Sequence[str], folder: str, *, source: str = "best",
                    trials: int = 100, out: str | None = None, address: str | None = None,
                    graph: str | None = "auto", greedy: bool = False, as_agent: bool = False,
                    on_result: Callable[[dict], None] | None = None) -> list[dict]:
    """Evaluate skills in parallel Ray tasks (1 CPU each); write the report and costs as they
    finish (`as_agent`: evaluation_agent.json and costs_agent.yaml, beside the policies')."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False)
    task = ray.remote(num_cpus=1)(evaluate_skill)
    pending = [task.remote(s, str(pathlib.Path(folder).resolve()), source, trials,
                           graph=graph, greedy=greedy, as_agent=as_agent) for s in skills]
    results = []
    out_dir = pathlib.Path(out or folder)
    # The skills measured before and not now keep their figures (one skill evaluated
    # again does not wipe the others from the planner's costs).
    kept = earlier_results(out_dir, source, skills, as_agent)
    while pending:
        done, pending = ray.wait(pending)
        result = ray.get(done[0])
        results.append(result)
        if on_result:
            on_result(result)
        write_results(kept + results, out_dir, source, trials, as_agent)
    order = {s: i for i, s in enumerate(skills)}
    return sorted(results, key=lambda r: order[r["skill"]])


def _tag(source: str, as_agent: bool = False) -> str:
    """The file names' suffix for a checkpoint source: evaluation.json, evaluation_bc.json;
    evaluation_agent.json for the finding skills run as the agent runs them."""
    return ("" if source == "best" else f"_{source}") + ("_agent" if as_agent else "")


def earlier_results(out_dir: pathlib.Path, source: str, skills: Sequence[str],
                    as_agent: bool = False) -> list[dict]:
    """The results in `out_dir`'s report for skills other than `skills` (none when there
    is no readable report)."""
    try:
        earlier = json.loads((out_dir / f"evaluation{_tag(source, as_agent)}.json").read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(earlier, list):
        return []
    return [r for r in earlier if isinstance(r, dict) and "skill" in r and r["skill"] not in skills]


def write_results(results: Sequence[dict], out_dir: pathlib.Path, source: str, trials: int,
                  as_agent: bool = False) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = _tag(source, as_agent)
    provenance = f"mcagent skills evaluate, {trials} trials per skill, {source} checkpoints"
    if as_agent:
        provenance += ", finding skills under the agent's memory walks"
    # The planner's costs are for the graph's skills; the survival layer's (which no plan
    # asks for) stay in the evaluation report only.
    survival = load_settings().get("survival_skills") or {}
    planned = [r for r in results if r["skill"] not in survival]
    for name, text in ((f"evaluation{tag}.json", json.dumps(list(results), indent=1) + "\n"),
                       (f"costs{tag}.yaml",
                        yaml.safe_dump(costs_document(planned, provenance), sort_keys=False))):
        write_atomic(out_dir / name, text)


def deaths_cell(result: dict) -> str:
    """Deaths, and what dealt the last damage when it was measured: `16 (zombie 9, arrow 7)`."""
    deaths, causes = result.get("deaths", 0), result.get("killed_by")
    if not deaths or not causes:
        return str(deaths)
    return f"{deaths} ({', '.join(f'{cause} {n}' for cause, n in causes.items())})"


def table(results: Sequence[dict]) -> str:
    """A Markdown table of the results."""
    lines = ["| skill | kind | success | mean steps | steps when done | died | budget | trials |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        if not r.get("trials"):
            lines.append(f"| {r['skill']} | {r['kind']} | - | - | - | - | {r['budget']} | 0 |")
            continue
        done = f"{r['steps_success']:.1f}" if r["steps_success"] is not None else "-"
        lines.append(f"| {r['skill']} | {r['kind']} | {r['success_rate']:.0%} | {r['steps']:.1f} "
                     f"| {done} | {deaths_cell(r)} | {r['budget']} | {r['trials']} |")
    return "\n".join(lines)
