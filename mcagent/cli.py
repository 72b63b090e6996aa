"""The `mcagent` command: thin glue from the shell to the package's functions."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from mcagent import __version__
from mcagent.errors import UserError

PLAYERS = ("expert", "random", "human")


def cmd_record(args: argparse.Namespace) -> int:
    from mcagent.recordings.record import record_episodes

    paths = record_episodes(
        player=args.player, episodes=args.episodes, out_dir=args.out, world=args.world,
        task=args.task, seed=args.seed, max_steps=args.max_steps, noise=args.noise,
        fps=args.fps, progress=not args.quiet)
    for path in paths:
        print(path)
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    from mcagent.worlds.tasks import get_suite, suites

    chosen = [get_suite(args.suite)] if args.suite else list(suites().values())
    for suite in chosen:
        print(f"{suite.name} ({suite.world}, {len(suite.tasks)} tasks)")
        if args.suite:
            for t in suite.tasks:
                start = ", ".join(f"{k}={v}" for k, v in t.initial_inventory.items()) or "-"
                print(f"  {t.name:42s} target {t.target_kind} {t.target} x{t.count}"
                      f"  start {start}  steps {t.max_steps}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcagent", description="Hierarchical skill-planning agent for Minecraft-like worlds.")
    parser.add_argument("--version", action="version", version=f"mcagent {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    from mcagent.agent_cli import add_parser as add_play_parser

    add_play_parser(sub)

    p = sub.add_parser("record", help="play episodes and write them as recordings")
    p.add_argument("--player", default="expert", help=f"who plays: {', '.join(PLAYERS)}")
    p.add_argument("--episodes", type=int, default=1, help="number of episodes (default 1)")
    p.add_argument("--out", required=True, help="folder to write <stem>.mp4/.jsonl/.meta.json")
    p.add_argument("--world", default="crafter", help="world backend (default crafter)")
    p.add_argument("--task", default=None, help="task name: start inventory, target, step limit")
    p.add_argument("--seed", type=int, default=0, help="seed of the first episode; +1 per episode")
    p.add_argument("--max-steps", type=int, default=None,
                   help="stop each episode after this many steps (default: the task's, or 10000)")
    p.add_argument("--noise", type=float, default=0.0,
                   help="expert only: probability of a random action at each step")
    p.add_argument("--fps", type=int, default=10, help="frame rate of the mp4 (default 10)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_record)

    p = sub.add_parser("tasks", help="list task suites, or the tasks of one suite")
    p.add_argument("suite", nargs="?", help="a suite name")
    p.set_defaults(run=cmd_tasks)

    from mcagent.graph.cli import add_parser as add_graph_parser
    from mcagent.planner.cli import add_parser as add_plan_parser
    from mcagent.sbd.cli import add_parser as add_sbd_parser
    from mcagent.skills.cli import add_parser as add_skills_parser

    add_graph_parser(sub)
    add_plan_parser(sub)
    add_sbd_parser(sub)
    add_skills_parser(sub)

    from mcagent.evaluation.cli import add_parser as add_eval_parser

    add_eval_parser(sub)
    return parser


def _caused_by_interrupt(error: BaseException) -> bool:
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.run(args) or 0)
    except UserError as error:
        print(f"mcagent {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mcagent {args.command}: interrupted", file=sys.stderr)
        return 130
    except SystemError as error:
        # Ctrl-C inside a numba-compiled function surfaces as a SystemError around it.
        if not _caused_by_interrupt(error):
            raise
        print(f"mcagent {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0


if __name__ == "__main__":
    sys.exit(main())
