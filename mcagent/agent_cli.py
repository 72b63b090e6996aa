"""`mcagent play`: one episode of the hierarchical agent, with a progress line, an mp4 and an episode log."""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

from mcagent.errors import UserError
from mcagent.paths import default_path

SKILL_SOURCES = ("checkpoints", "expert")
VIDEO_SIZE = 256
VITALS = ("health", "food", "drink", "energy")


def annotate(frame: np.ndarray, lines: list[str], size: int = VIDEO_SIZE) -> np.ndarray:
    """The frame upscaled (nearest, pixel art stays sharp) with `lines` drawn over its top."""
    import cv2

    big = cv2.resize(frame, (size, size), interpolation=cv2.INTER_NEAREST)
    for i, text in enumerate(lines):
        y = 14 + 14 * i
        cv2.putText(big, text, (4, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(big, text, (4, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return big


def skill_costs(kind: str, checkpoints: str | pathlib.Path, graph):
    """The planner's costs for `--skills`: a trained set's `costs.yaml` (what `mcagent
    skills evaluate` measured), on the graph's skills only; None for the oracle or none."""
    from mcagent.planner.costs import SkillCost, SkillCosts, load_costs

    path = pathlib.Path(checkpoints) / "costs.yaml"
    if kind != "checkpoints" or not path.exists():
        return None
    from mcagent.skills.library import skill_library

    costs = load_costs(path)
    measured = {k: v for k, v in costs.skills.items() if k in graph.skills}
    # A learned skill never measured (no policy: it fails at once) costs as much as the
    # dearest one. A crafting or placing skill is one guarded game action whatever the
    # policies: unmeasured, it costs as much as the dearest measured one of its kind
    # (a sword is as cheap as a pickaxe; as dear as a diamond search, it never got made).
    kinds = {s.name: s.learned for s in skill_library()}
    guarded = [c.expected_steps for k, c in measured.items() if kinds.get(k) is False]
    action = SkillCost(max(guarded, default=1.0), 1.0)
    measured.update({k: action for k in graph.skills
                     if k not in measured and kinds.get(k) is False})
    dearest = SkillCost(max((c.expected_steps for k, c in measured.items() if kinds.get(k)),
                            default=1.0), 1.0)
    return SkillCosts(measured, dearest, costs.world, costs.source, costs.graph)


def load_policies(kind: str, library, env, checkpoints: str | pathlib.Path):
    """(policies by skill, where they come from) for `--skills`."""
    if kind == "expert":
        from mcagent.oracle import OracleSkills

        oracle = OracleSkills(library, env)
        return oracle.runners(), oracle.source
    if kind != "checkpoints":
        raise UserError(f"--skills {kind!r}: valid: {', '.join(SKILL_SOURCES)}")
    from mcagent.skills.runner import load_skill_set

    folder = pathlib.Path(checkpoints)
    hint = ("train one with `mcagent train all` (see mcagent/skills/README.md), "
            "or run the privileged oracle executor with `--skills expert`")
    if not (folder / "bc.safetensors").exists() and not list(folder.glob("ppo/*.safetensors")):
        raise UserError(f"no trained skill set in {folder}/ (no bc.safetensors or "
                        f"ppo/*.safetensors): {hint}")
    runners = load_skill_set(library, folder)
    untrained = [s.name for s in library if s.learned and s.name not in runners]
    if untrained:
        # A partial skill set plays: the agent fails a skill without a policy at once and
        # re-plans (the planner may find another way).
        print(f"skills without a trained policy in {folder}/ (they fail at once if planned): "
              f"{', '.join(untrained)}", file=sys.stderr)
    return runners, f"checkpoints {folder}"


def cmd_play(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from mcagent import worlds
    from mcagent.agent import Agent, EpisodeLog
    from mcagent.graph.schema import load_graph
    from mcagent.planner import Planner
    from mcagent.recordings.format import RecordingWriter
    from mcagent.skills.library import skill_library

    if args.world != "crafter":
        raise UserError(f"--world {args.world!r}: `play` runs in crafter only so far")
    graph_path = pathlib.Path(args.graph)
    if not graph_path.exists():
        raise UserError(f"{graph_path}: no skill graph there (run from the repository root, "
                        f"or pass --graph)")
    graph = load_graph(graph_path, world="crafter")
    library = skill_library(graph_path)
    env = worlds.make("crafter", task=args.task, max_steps=args.max_steps)
    policies, source = load_policies(args.skills, library, env, args.checkpoints)
    out = pathlib.Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{env.task.name}-s{args.seed}"
    log_path = stem.with_name(stem.name + ".events.jsonl")

    window = _Window() if args.render else None
    bar = tqdm(total=env.max_steps, unit="step", dynamic_ncols=True, disable=args.quiet)
    writer = RecordingWriter(stem, world="crafter", seed=args.seed, fps=args.fps,
                             action_names=env.action_names, source=f"agent: {source}")

    def on_step(frame, action, info, skill, plan):
        inventory = info["inventory"]
        vitals = " ".join(f"{v[0]}{inventory[v]}" for v in VITALS)
        items = ", ".join(f"{k}={v}" for k, v in inventory.items() if v and k not in VITALS)
        ahead = " > ".join(plan[:4]) + (" ..." if len(plan) > 4 else "")
        lines = [f"{skill or '-'}", f"plan: {ahead}"[:40], f"step {info['step']}  {vitals}"]
        picture = annotate(frame, lines)
        writer.add(picture, action, inventory={k: int(v) for k, v in inventory.items()},
                   events=info["events"], skill=skill)
        if window is not None:
            window.show(picture)
        bar.update(1)
        bar.set_description(f"{skill or '-'}", refresh=False)
        bar.set_postfix_str(f"{vitals} | {items} | plan: {ahead}", refresh=False)

    planner = Planner(graph, costs=skill_costs(args.skills, args.checkpoints, graph))
    agent = Agent(planner, library, policies, source=source, on_step=on_step)
    from mcagent.skills.policy import seed_policies

    seed_policies(args.seed)
    with writer, open(log_path, "w", encoding="utf-8") as stream:
        result = agent.run(env, env.task, seed=args.seed, log_to=EpisodeLog(stream))
    bar.close()
    if window is not None:
        window.close()
    verdict = "reached" if result.success else f"not reached ({result.end})"
    print(f"{result.task} seed {result.seed}: {verdict} in {result.steps} steps; "
          f"{result.skills_succeeded}/{result.skills_run} skills succeeded, "
          f"{result.replans} plans, {result.interrupts} interrupts; skills: {source}")
    print(f"{stem}.mp4")
    print(log_path)
    return 0 if result.success else 1


class _Window:
    """A live view (--render) in an OpenCV window."""

    def __init__(self):
        import os

        if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
            raise UserError("--render needs a display (DISPLAY is not set); the mp4 is written "
                            "without it")
        import cv2

        self.cv2 = cv2

    def show(self, picture):
        self.cv2.imshow("mcagent play", picture[:, :, ::-1])
        self.cv2.waitKey(1)

    def close(self):
        self.cv2.destroyAllWindows()


def add_parser(sub) -> None:
    p = sub.add_parser("play", help="run the hierarchical agent (planner + skills) on a task")
    p.add_argument("task", help="task name (`mcagent tasks crafter-all`)")
    p.add_argument("--seed", type=int, default=0, help="episode seed (default 0)")
    p.add_argument("--world", default="crafter", help="world backend (default crafter)")
    p.add_argument("--skills", default="checkpoints", choices=SKILL_SOURCES,
                   help="checkpoints: trained skill policies (default); expert: a PRIVILEGED "
                        "oracle executor (semantic map + path search) for each planned skill")
    p.add_argument("--checkpoints", default=str(default_path("checkpoints", "skills")),
                   help="trained skill set folder (default checkpoints/skills)")
    p.add_argument("--graph", default=str(default_path("skill_graph", "crafter.yaml")),
                   help="skill graph to plan on (default skill_graph/crafter.yaml)")
    p.add_argument("--out", default="runs/play",
                   help="folder for <task>-s<seed>.mp4/.jsonl/.meta.json and .events.jsonl")
    p.add_argument("--max-steps", type=int, default=None, help="episode step limit (default: "
                   "the task's)")
    p.add_argument("--fps", type=int, default=10, help="frame rate of the mp4 (default 10)")
    p.add_argument("--render", action="store_true", help="show the episode in a window")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_play)
