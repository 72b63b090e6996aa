"""`mcagent eval`: play a task suite with agents over many seeds, then write the report."""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

from mcagent.errors import UserError
from mcagent.evaluation.episodes import AGENTS, FIRST_SEED, EvalSettings
from mcagent.paths import default_path


def _agents(args: argparse.Namespace) -> list[str]:
    if args.agents:
        return [a.strip() for a in args.agents.split(",") if a.strip()]
    chosen = ["mcagent", "plan4mc", "random"]
    if pathlib.Path(args.flat_checkpoint).exists():
        chosen.append("flat-ppo")
    else:
        print(f"mcagent eval: no flat PPO baseline ({args.flat_checkpoint} is missing; "
              f"`mcagent train flat` makes it)", file=sys.stderr)
    return chosen


def cmd_eval(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from mcagent.evaluation.report import write_report
    from mcagent.evaluation.run import make_plan, run_evaluation

    out = pathlib.Path(args.out or f"runs/eval/{args.suite}")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: is a file, not a folder")
    if not args.report_only:
        settings = EvalSettings(graph=args.graph, skills=args.skills,
                                checkpoints=args.checkpoints,
                                flat_checkpoint=args.flat_checkpoint, max_steps=args.max_steps)
        tasks = [t.strip() for t in args.tasks.split(",")] if args.tasks else None
        plan = make_plan(args.suite, _agents(args), args.episodes, settings, tasks,
                         args.first_seed)
        total = len(plan.tasks) * len(plan.agents) * plan.episodes
        bar = tqdm(total=total, unit="episode", dynamic_ncols=True, disable=args.quiet)

        def progress(record, done, total):
            bar.n = done
            verdict = "ok" if record["success"] else record["cause"]
            bar.set_postfix_str(f"{record['agent']} {record['task']} s{record['seed']}: "
                                f"{verdict} {record['steps']} steps", refresh=False)
            bar.refresh()

        workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
        stats = run_evaluation(plan, out, workers=workers, address=args.address,
                               gpus_per_worker=args.gpus_per_worker, progress=progress)
        bar.close()
        print(f"{stats['played']} episodes played, {stats['already_done']} already done, "
              f"{stats['retried']} played again after a lost worker "
              f"({stats['lost_s']:.1f} s lost); {stats['planned']} planned")
        print(stats["results"])
    written = write_report(out)
    for path in written.values():
        print(path)
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="evaluate agents on a task suite and write a report",
                       description="Play every task of a suite with each agent for --episodes "
                       "seeds (results appended to OUT/results.jsonl as episodes end; a rerun "
                       "with the same arguments resumes), then write OUT/report.md and "
                       "OUT/report.html.")
    p.add_argument("--suite", default="tech-tree",
                   help="task suite (`mcagent tasks`; crafter-score plays Crafter's benchmark: "
                        "10,000-step episodes, all 22 achievements, scored by its formula)")
    p.add_argument("--tasks", default=None, help="only these tasks of the suite (comma-separated)")
    p.add_argument("--agents", default=None,
                   help=f"comma-separated, of {', '.join(AGENTS)} (default: mcagent, plan4mc, "
                        f"random, and flat-ppo when its checkpoint exists)")
    p.add_argument("--episodes", type=int, default=100, help="episodes per task and agent "
                   "(default 100)")
    p.add_argument("--first-seed", type=int, default=FIRST_SEED,
                   help=f"seed of the first episode (default {FIRST_SEED:,}: apart from every "
                        f"seed used in training)")
    p.add_argument("--skills", default="checkpoints", choices=("checkpoints", "expert"),
                   help="skill policies of the hierarchical agents: checkpoints (trained, "
                        "default) or expert (the PRIVILEGED oracle executor)")
    p.add_argument("--checkpoints", default=str(default_path("checkpoints", "skills")),
                   help="trained skill set folder (default checkpoints/skills)")
    p.add_argument("--flat-checkpoint",
                   default=str(default_path("checkpoints", "flat", "ppo", "crafter.safetensors")),
                   help="the flat PPO baseline's checkpoint (`mcagent train flat`; default "
                        "checkpoints/flat/ppo/crafter.safetensors)")
    p.add_argument("--graph", default=str(default_path("skill_graph", "crafter.yaml")),
                   help="skill graph to plan on (default skill_graph/crafter.yaml)")
    p.add_argument("--out", default=None, help="evaluation folder (default runs/eval/<suite>)")
    p.add_argument("--workers", type=int, default=None,
                   help="Ray actors, one episode each at a time (default: the CPU count); "
                        "0 plays in this process without Ray")
    p.add_argument("--address", default=None,
                   help="Ray cluster to run on (`auto`, or host:port; default: RAY_ADDRESS, "
                        "else a local cluster)")
    p.add_argument("--gpus-per-worker", type=float, default=0.0,
                   help="GPUs each actor asks Ray for (default 0)")
    p.add_argument("--max-steps", type=int, default=None,
                   help="cut every episode at this many steps (default: each task's limit)")
    p.add_argument("--report-only", action="store_true",
                   help="write the report from OUT/results.jsonl without playing")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_eval)
