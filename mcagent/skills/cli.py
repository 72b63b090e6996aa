"""`mcagent train` (bc, ppo, all) and `mcagent skills` (list, evaluate, label-segments)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mcagent.errors import UserError


def _progress(total: int, desc: str, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, disable=quiet, file=sys.stderr)


def cmd_bc(args: argparse.Namespace) -> int:
    from mcagent.skills.bc import BCArgs, train_bc

    segments = args.segments
    if segments == "labels":
        from mcagent.skills.segments import label_segments

        segments = f"{args.out}/label_segments"
        label_segments(args.recordings, segments)
    bar = _progress(args.steps, "bc", args.quiet)
    path = train_bc(BCArgs(segments=segments, recordings=args.recordings, out=args.out,
                           steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                           seed=args.seed, device=args.device, logdir=args.logdir,
                           graph=args.graph),
                    progress=lambda step, loss: (bar.update(1), bar.set_postfix(loss=f"{loss:.3f}")))
    bar.close()
    print(path)
    return 0


def _ppo_args(args: argparse.Namespace, skill: str):
    from mcagent.skills.ppo import PPOArgs

    return PPOArgs(skill=skill, total_steps=args.steps, workers=args.workers,
                   envs_per_worker=args.envs, rollout_len=args.rollout_len, lr=args.lr,
                   shaping=args.shaping, explore=args.explore, death_penalty=args.death_penalty,
                   lava_shaping=args.lava_shaping, start_reach=args.start_reach,
                   init=getattr(args, "init", None), resume=getattr(args, "resume", False),
                   out=args.out,
                   logdir=args.logdir, device=args.device, seed=args.seed,
                   address=args.address, graph=args.graph)


def cmd_ppo(args: argparse.Namespace) -> int:
    from mcagent.skills.ppo import make_policy, train_ppo

    make_policy(_ppo_args(args, args.skill))   # a bad skill or --init fails here, before the bar
    bar = _progress(args.steps, f"ppo {args.skill}", args.quiet)

    updates = 0

    def progress(steps, stats):
        nonlocal updates
        bar.update(steps - bar.n)
        bar.set_postfix(success=f"{stats['success_rate']:.2f}", sps=f"{stats['rollout_sps']:.0f}")
        updates += 1
        if args.quiet and updates % 10 == 0:   # a log line now and then for runs in the background
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v
                              for k, v in stats.items()}), flush=True)

    result = train_ppo(_ppo_args(args, args.skill), progress=progress)
    bar.close()
    print(json.dumps(result))
    return 0


def _skills(args: argparse.Namespace, learned_only: bool) -> list[str]:
    from mcagent.skills.library import DIAMOND_CHAIN, SCORE_ONLY, SURVIVAL, skill_library

    library = skill_library(args.graph)
    if args.skills == ["all"]:
        names = list(library.skills)
    elif args.skills:
        names = [library[s].name for s in args.skills]   # unknown names raise here
    else:
        names = [s for s in (*DIAMOND_CHAIN, *SURVIVAL, *SCORE_ONLY) if s in library]
    return [s for s in names if library[s].learned] if learned_only else names


def cmd_all(args: argparse.Namespace) -> int:
    from mcagent.skills.bc import BCArgs
    from mcagent.skills.train_all import train_all

    skills = _skills(args, learned_only=True)
    if not skills:
        raise UserError("no learned skill to train among --skills (crafting and placing skills "
                        "are guarded actions)")
    bc = None
    if args.segments:
        if not args.recordings:
            raise UserError("--segments needs --recordings")
        bc = BCArgs(segments=args.segments, recordings=args.recordings, out=args.out,
                    steps=args.bc_steps, graph=args.graph, logdir=args.logdir and f"{args.logdir}/bc")
    args.workers = 0
    train_all(skills, out=args.out, ppo=_ppo_args(args, skills[0]), bc=bc,
                        address=args.address, cpus_per_task=args.cpus_per_task,
                        gpus_per_task="auto" if args.gpus_per_worker is None else args.gpus_per_worker,
                        scratch=args.scratch, resume=not args.fresh,
                        on_result=lambda r: print(json.dumps(r), flush=True))
    out = Path(args.out).resolve()
    print(f"results: {out / 'training.json'} (this machine); checkpoints: {out / 'ppo'}/ on the "
          f"node that trained each skill (on a cluster, make --out storage every node shares)")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from mcagent.skills.library import skill_library

    library = skill_library(args.graph)
    print(f"{len(library)} skills from {library.source}")
    for s in library:
        start = ", ".join(f"{k}={v}" for k, v in s.start_inventory.items()) or "-"
        done = s.success_event or f"{s.target} within {s.nearby} cells"
        print(f"  {s.name:20s} {s.kind:12s} done: {done:28s} budget {s.budget:4d}  start {start}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from mcagent.skills.evaluate import evaluate_skills, table

    skills = _skills(args, learned_only=False)
    bar = _progress(len(skills), "evaluate", args.quiet)
    results = evaluate_skills(skills, args.checkpoints, source=args.source, trials=args.trials,
                              out=args.out, address=args.address, graph=args.graph,
                              greedy=args.greedy, as_agent=args.as_agent,
                              on_result=lambda r: bar.update(1))
    bar.close()
    print(table(results))
    out = Path(args.out or args.checkpoints).resolve()
    print(f"results: {out}/ (evaluation*.json, costs*.yaml)")
    return 0


def cmd_label_segments(args: argparse.Namespace) -> int:
    from mcagent.skills.segments import label_segments

    for path in label_segments(args.recordings, args.out):
        print(path)
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--graph", default="auto",
                   help="skill graph naming the skills (default: skill_graph/crafter.yaml if "
                        "present, else Crafter's rules)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _ppo_options(p: argparse.ArgumentParser, steps: int) -> None:
    p.add_argument("--steps", type=int, default=steps, help=f"environment steps (default {steps})")
    p.add_argument("--envs", type=int, default=8, help="environments per rollout worker (default 8)")
    p.add_argument("--rollout-len", type=int, default=64,
                   help="steps per environment between updates (default 64)")
    p.add_argument("--lr", type=float, default=3e-4, help="learning rate (default 3e-4)")
    p.add_argument("--shaping", type=float, default=0.05,
                   help="reward per cell closer to the target (default 0.05)")
    p.add_argument("--explore", type=float, default=0.01,
                   help="finding skills: reward per cell first stood on in an episode "
                        "(default 0.01)")
    p.add_argument("--death-penalty", type=float, default=1.0,
                   help="reward taken away when the player dies (default 1)")
    p.add_argument("--lava-shaping", type=float, default=0.0,
                   help="reward lost stepping next to lava, regained stepping away (default 0)")
    p.add_argument("--start-reach", type=int, default=2,
                   help="manipulation skills: start within this many cells (Chebyshev) of the "
                        "target (default 2; the agent hands over within 3, a finding skill's "
                        "success radius)")
    p.add_argument("--out", default="checkpoints/skills", help="checkpoint folder")
    p.add_argument("--logdir", default="runs/skills", help="TensorBoard folder (default runs/skills)")
    p.add_argument("--device", default="auto", help="learner device: cpu, cuda, auto")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--address", default=None,
                   help="Ray cluster address ('auto' for a running one; default: start one here)")


def add_parser(sub) -> None:
    """Add `train` and `skills` to the `mcagent` command's subparsers."""
    train = sub.add_parser("train", help="train skill policies (BC, PPO)")
    tsub = train.add_subparsers(dest="algorithm", metavar="ALGORITHM", required=True)

    p = tsub.add_parser("bc", help="behaviour cloning on segmented recordings")
    p.add_argument("--segments", required=True,
                   help="folder of <stem>.segments.json, or 'labels' to cut the recordings "
                        "at their own skill labels")
    p.add_argument("--recordings", required=True, help="folder of the recordings")
    p.add_argument("--out", default="checkpoints/skills", help="writes OUT/bc.safetensors + bc.json")
    p.add_argument("--steps", type=int, default=2000, help="gradient steps (default 2000)")
    p.add_argument("--batch-size", type=int, default=128, help="batch size (default 128)")
    p.add_argument("--lr", type=float, default=3e-4, help="learning rate (default 3e-4)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--device", default="auto", help="cpu, cuda, auto")
    p.add_argument("--logdir", default="runs/skills/bc", help="TensorBoard folder")
    _common(p)
    p.set_defaults(run=cmd_bc)

    p = tsub.add_parser("ppo", help="PPO for one skill, rollouts in Ray actors")
    p.add_argument("--skill", required=True, help="a finding or manipulation skill")
    p.add_argument("--init", default=None, help="BC checkpoint to start from (default: scratch)")
    p.add_argument("--workers", type=int, default=2, help="Ray rollout actors (default 2)")
    p.add_argument("--resume", action="store_true",
                   help="continue OUT/ppo/SKILL when it exists, counting its steps (--steps is "
                        "the total)")
    _ppo_options(p, 200_000)
    _common(p)
    p.set_defaults(run=cmd_ppo)

    from mcagent.skills.ppo import FLAT

    p = tsub.add_parser("flat", help="the flat PPO baseline: one policy over every action on "
                        "Crafter's own reward, no planner, no skills")
    p.add_argument("--workers", type=int, default=2, help="Ray rollout actors (default 2)")
    p.add_argument("--resume", action="store_true",
                   help="continue OUT/ppo/crafter when it exists, counting its steps")
    _ppo_options(p, 1_000_000)
    _common(p)
    # Give --steps the skill set's total (training.json) for the baseline of the evaluation.
    p.set_defaults(run=cmd_ppo, skill=FLAT, init=None, out="checkpoints/flat")

    p = tsub.add_parser("all", help="BC then PPO for many skills, as Ray tasks")
    p.add_argument("--skills", nargs="*", default=None,
                   help="skills to train (default: the learned skills of the diamond chain, "
                        "survival and the Crafter score's others; 'all' for every learned skill)")
    p.add_argument("--segments", default=None, help="segments folder: run BC first")
    p.add_argument("--recordings", default=None, help="recordings folder (with --segments)")
    p.add_argument("--bc-steps", type=int, default=2000, help="BC gradient steps (default 2000)")
    p.add_argument("--scratch", action="store_true", help="PPO from scratch, not from BC")
    p.add_argument("--fresh", action="store_true",
                   help="retrain skills whose PPO checkpoint exists (default: skip them)")
    p.add_argument("--cpus-per-task", type=float, default=1.0, help="CPUs per skill task")
    p.add_argument("--gpus-per-worker", "--gpus-per-task", type=float, default=None,
                   help="GPUs per skill task (default: share the cluster's GPUs, 0 without)")
    _ppo_options(p, 200_000)
    _common(p)
    p.set_defaults(run=cmd_all)

    skills = sub.add_parser("skills", help="the skill library and its measured success and cost")
    ssub = skills.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = ssub.add_parser("list", help="the skills, their success tests, budgets and starts")
    _common(p)
    p.set_defaults(run=cmd_list)

    p = ssub.add_parser("evaluate", help="success rate and mean steps of each skill")
    p.add_argument("--skills", nargs="*", default=None,
                   help="skills (default: diamond chain, survival and the Crafter score's "
                        "others; 'all' for every skill)")
    p.add_argument("--checkpoints", default="checkpoints/skills", help="checkpoint folder")
    p.add_argument("--source", default="best", choices=("best", "bc", "ppo"),
                   help="which checkpoint runs a skill: best (PPO, else BC), bc, ppo")
    p.add_argument("--trials", type=int, default=100, help="episodes per skill (default 100)")
    p.add_argument("--greedy", action="store_true", help="take the most likely action")
    p.add_argument("--as-agent", action="store_true",
                   help="run the finding skills as the agent does: the policy under the memory "
                        "walks (to a target seen, else the frontier; arrows dodged, lava "
                        "never stepped in); written as evaluation_agent.json, costs_agent.yaml")
    p.add_argument("--out", default=None,
                   help="folder for costs.yaml and evaluation.json (default: the checkpoints')")
    p.add_argument("--address", default=None, help="Ray cluster address ('auto')")
    _common(p)
    p.set_defaults(run=cmd_evaluate)

    p = ssub.add_parser("label-segments",
                        help="segments files from recordings' own skill labels (ground truth)")
    p.add_argument("--recordings", required=True, help="folder of recordings")
    p.add_argument("--out", required=True, help="folder for <stem>.segments.json")
    p.set_defaults(run=cmd_label_segments)
