"""Run an evaluation: plan its episodes, play the ones not yet in the results file, in this
process or on Ray actors, and append each record as its episode ends.

The plan (agents x tasks x seeds, and the settings) is written to
`<out>/plan.json` first; running again with the same `--out` checks that the
plan is the same and plays only what `results.jsonl` lacks. On Ray, each
episode is a task (`num_cpus=1`, `num_gpus=gpus_per_worker`; at most
`workers` at once; each worker process keeps one `EpisodeRunner`, so models
load once per process), so a lost worker or node costs the episodes it was
playing: they are played again on what is left (their records say
`attempt: 2`). An episode that raises an error in the agent's own
code is not retried: it goes to `errors.jsonl` and the run ends with an error
once the rest are done.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import pathlib
import time
from collections.abc import Callable, Sequence
from typing import Any

from mcagent.errors import UnknownNameError, UserError
from mcagent.evaluation.episodes import AGENTS, FIRST_SEED, EpisodeRunner, EvalSettings, episode_key
from mcagent.evaluation.results import PLAN_FORMAT, PLAN_NAME, ResultsFile

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3   # plays of one episode lost with its worker before the run gives up on it


@dataclasses.dataclass(frozen=True)
class Episode:
    agent: str
    task: str
    seed: int
    attempt: int = 1

    @property
    def key(self) -> str:
        return episode_key(self.agent, self.task, self.seed)


@dataclasses.dataclass(frozen=True)
class EvalPlan:
    """Every episode an evaluation plays: each agent, each task, the same seeds."""

    suite: str
    tasks: tuple[str, ...]
    agents: tuple[str, ...]
    episodes: int
    first_seed: int
    settings: EvalSettings

    def episode_list(self) -> list[Episode]:
        return [Episode(agent, task, self.first_seed + i)
                for task in self.tasks for agent in self.agents for i in range(self.episodes)]

    def to_dict(self) -> dict:
        return {"format": PLAN_FORMAT, "suite": self.suite, "tasks": list(self.tasks),
                "agents": list(self.agents), "episodes": self.episodes,
                "first_seed": self.first_seed, "settings": self.settings.to_dict()}

    @classmethod
    def from_dict(cls, data: dict, where: str) -> "EvalPlan":
        if data.get("format") != PLAN_FORMAT:
            raise UserError(f"{where}: expected format {PLAN_FORMAT!r}, got {data.get('format')!r}")
        return cls(data["suite"], tuple(data["tasks"]), tuple(data["agents"]),
                   int(data["episodes"]), int(data["first_seed"]),
                   EvalSettings(**data["settings"]))


def make_plan(suite: str, agents: Sequence[str], episodes: int, settings: EvalSettings,
              tasks: Sequence[str] | None = None, first_seed: int = FIRST_SEED) -> EvalPlan:
    """The plan for `episodes` seeds of every task of `suite` (or the named `tasks` of it)."""
    from mcagent.worlds.tasks import get_suite

    chosen = get_suite(suite)
    if chosen.world != "crafter":
        raise UserError(f"suite {suite!r} runs in {chosen.world}, which this machine cannot "
                        f"run (install the MineDojo backend: pip install mcagent[minedojo])")
    names = [t.name for t in chosen.tasks]
    for name in tasks or ():
        if name not in names:
            raise UnknownNameError(f"task of suite {suite}", name, names)
    for agent in agents:
        if agent not in AGENTS:
            raise UnknownNameError("agent", agent, AGENTS)
    if episodes < 1:
        raise UserError(f"--episodes {episodes}: must be at least 1")
    return EvalPlan(suite, tuple(tasks or names), tuple(dict.fromkeys(agents)), episodes,
                    first_seed, settings)


def write_or_check_plan(plan: EvalPlan, out: pathlib.Path) -> None:
    """Write `<out>/plan.json`, or check that the one there is this plan (a resume)."""
    path = out / PLAN_NAME
    out.mkdir(parents=True, exist_ok=True)
    if path.exists():
        there = EvalPlan.from_dict(json.loads(path.read_text()), str(path))
        if there != plan:
            differ = [k for k, v in plan.to_dict().items() if there.to_dict().get(k) != v]
            raise UserError(f"{out} holds another evaluation (its plan.json differs in "
                            f"{', '.join(differ)}): rerun with its arguments to resume it, or "
                            f"choose another --out")
        return
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(plan.to_dict(), indent=1) + "\n")
    os.replace(tmp, path)


def run_evaluation(plan: EvalPlan, out: str | pathlib.Path, workers: int = 0,
                   address: str | None = None, gpus_per_worker: float = 0.0,
                   progress: Callable[[dict, int, int], None] | None = None) -> dict[str, Any]:
    """Play what `<out>/results.jsonl` lacks of `plan`; returns counts of what happened.

    `workers` 0 plays in this process; otherwise that many Ray actors (on the
    cluster at `address`, or `RAY_ADDRESS`, else a local one). `progress(record,
    done, total)` is called after each episode.
    """
    out = pathlib.Path(out)
    EpisodeRunner(plan.settings).check(plan.agents)   # a missing graph or checkpoint: say so now
    write_or_check_plan(plan, out)
    results = ResultsFile(out)
    episodes = plan.episode_list()
    todo = [e for e in episodes if e.key not in results]
    stats = {"planned": len(episodes), "already_done": len(episodes) - len(todo), "played": 0,
             "retried": 0, "errors": 0, "lost_s": 0.0, "nodes": {}}
    done = stats["already_done"]

    def finished(record: dict) -> None:
        nonlocal done
        if results.add(record):
            done += 1
            stats["played"] += 1
            stats["nodes"][record["node"]] = stats["nodes"].get(record["node"], 0) + 1
        if progress is not None:
            progress(record, done, len(episodes))

    errors_path = out / "errors.jsonl"

    def failed(episode: Episode, error: str) -> None:
        stats["errors"] += 1
        with open(errors_path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps({"key": episode.key, "attempt": episode.attempt,
                                     "error": error}) + "\n")
        log.error("%s: %s", episode.key, error)

    if todo and workers <= 0:
        runner = EpisodeRunner(plan.settings)
        for episode in todo:
            finished(runner.run(episode.agent, episode.task, episode.seed, episode.attempt))
    elif todo:
        _run_on_ray(plan.settings, todo, workers, address, gpus_per_worker, finished, failed,
                    stats)
    stats["results"] = str(results.path)
    if stats["errors"]:
        raise UserError(f"{stats['errors']} episode(s) failed with an error (see {errors_path}); "
                        f"{done} of {len(episodes)} are in {results.path}")
    return stats


@functools.lru_cache(maxsize=4)
def _runner(settings: EvalSettings) -> EpisodeRunner:
    """One runner per worker process: Ray reuses its workers, so models load once each."""
    return EpisodeRunner(settings)


def _play(settings: EvalSettings, episode: Episode) -> dict:
    return _runner(settings).run(episode.agent, episode.task, episode.seed, episode.attempt)


def _run_on_ray(settings: EvalSettings, todo: list[Episode], workers: int, address: str | None,
                gpus_per_worker: float, finished: Callable[[dict], None],
                failed: Callable[[Episode, str], None], stats: dict) -> None:
    import ray

    started_here = False
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS")
        kwargs: dict[str, Any] = {"address": address} if address else {"num_cpus": workers}
        ray.init(log_to_driver=False, **kwargs)
        started_here = True
    try:
        if gpus_per_worker and not ray.cluster_resources().get("GPU"):
            log.warning("no GPU in the Ray cluster yet: the episodes wait for one")
        # Tasks, not actors: a task waits for any free CPU, so the run goes on, on the
        # nodes that are left, when one is lost. Retries are ours, to count them.
        play = ray.remote(num_cpus=1, num_gpus=gpus_per_worker, max_retries=0)(_play)
        queue = list(todo)
        pending: dict[Any, tuple[Episode, float]] = {}
        lost = (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                ray.exceptions.ObjectLostError, ray.exceptions.RayActorError,
                ray.exceptions.LocalRayletDiedError)
        while queue or pending:
            while queue and len(pending) < max(1, workers):
                episode = queue.pop(0)
                pending[play.remote(settings, episode)] = (episode, time.perf_counter())
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                episode, began = pending.pop(ref)
                try:
                    record = ray.get(ref)
                except lost as error:
                    # The worker (or its node) is gone: the episode is played again.
                    stats["lost_s"] += time.perf_counter() - began
                    log.warning("%s: worker lost (%s); playing it again", episode.key,
                                type(error).__name__)
                    if episode.attempt >= MAX_ATTEMPTS:
                        failed(episode, f"worker lost {episode.attempt} times: {error}")
                    else:
                        stats["retried"] += 1
                        queue.insert(0, dataclasses.replace(episode, attempt=episode.attempt + 1))
                    continue
                except ray.exceptions.RayTaskError as error:
                    failed(episode, str(error).strip().splitlines()[-1])
                    continue
                finished(record)
    finally:
        if started_here:
            ray.shutdown()
