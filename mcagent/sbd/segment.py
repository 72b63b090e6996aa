"""Cut recordings into skills: score each action with the action model, apply the boundary rule.

`segment_episode` does one decoded recording; `segment_many` does a list of
them, in this process or spread over Ray tasks, writing each
`<stem>.segments.json` (and optionally a plot) as soon as it is done, and
`segment-run.json`, which says which node did each recording and how long it took.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from mcagent.errors import UserError
from mcagent.paths import default_path
from mcagent.sbd.boundary import (CONFIRM, BoundaryResult, BoundaryRule, event_boundaries,
                                  find_boundaries, name_segment, peak_boundaries)
from mcagent.sbd.data import Episode, find_recordings, load_episode
from mcagent.sbd.model import ACTION_MODEL, ActionModel, load_model, read_config
from mcagent.sbd.scorer import BoundaryScorer, episode_inputs, load_scorer, read_scorer_config
from mcagent.sbd.segments import Segmentation, write_segmentation

log = logging.getLogger(__name__)

# Used when a model's notes carry no tuned values (see `mcagent sbd tune`): the values
# tuned for the shipped Crafter model on six expert recordings (seeds 50-55).
FALLBACK_PARAMETERS = {"loss": {"gap": 0.5, "min_length": 2},
                       "info": {"gap": 0.0, "min_length": 1},
                       "loss+info": {"gap": 2.0, "min_length": 1},
                       "learned": {"gap": 0.0, "min_length": 1, "threshold": 0.5}}


def default_model_dir() -> Path:
    """`checkpoints/sbd` in the working folder if there is one, else the one beside the package."""
    return default_path("checkpoints", "sbd")


def rule_for(model_dir: str | os.PathLike, mode: str, gap: float | None = None,
             min_length: int | None = None, threshold: float | None = None) -> BoundaryRule:
    """The rule for `mode`: explicit values, else the model's tuned ones (the scorer's, for the
    learned mode), else the fallbacks."""
    if mode not in FALLBACK_PARAMETERS:
        raise UserError(f"unknown mode {mode!r}; the modes are {', '.join(FALLBACK_PARAMETERS)}")
    tuned = dict(FALLBACK_PARAMETERS[mode])
    if mode == "learned":
        _, notes = read_scorer_config(model_dir)
        tuned.update(notes.get("boundary", {}))
    # The info mode needs no model; it takes the model's tuned values only when there is one.
    elif mode != "info" or (Path(model_dir) / f"{ACTION_MODEL}.json").is_file():
        _, notes = read_config(model_dir, ACTION_MODEL)
        tuned.update(notes.get("boundary", {}).get(mode, {}))
    try:
        return BoundaryRule(mode, tuned["gap"] if gap is None else gap,
                            tuned["min_length"] if min_length is None else min_length,
                            tuned.get("confirm", CONFIRM[mode]),
                            tuned.get("threshold", 0.5) if threshold is None else threshold)
    except ValueError as err:
        raise UserError(str(err)) from None


class ModelScorer:
    """Scores a recording's actions with the action model, frame after frame since each reset.

    Frames are encoded all at once (the encoder has no memory). The GRU then
    runs ahead over a block of frames in one call, which is much cheaper than
    one call per frame; `reset` drops what it ran ahead (the rule moved on to a
    new segment) and empties its memory and the previous action. The block
    doubles while no reset comes, from `first_block` up to `max_block` frames.
    """

    def __init__(self, model: ActionModel, episode: Episode, first_block: int = 16,
                 max_block: int = 256):
        self.model = model
        self.first_block, self.max_block = first_block, max_block
        device = next(model.parameters()).device
        actions = torch.from_numpy(np.asarray(episode.actions, np.int64)).to(device)
        self.actions = actions[:, None]
        # The previous action of each frame when the segment goes on; a start token after a reset.
        self.prev = torch.cat([actions.new_full((1,), model.n_actions), actions[:-1]])
        with torch.inference_mode():
            frames = torch.from_numpy(np.ascontiguousarray(episode.frames))
            self.features = torch.cat([model.encoder(chunk.to(device))
                                       for chunk in frames.split(256)])
        self.reset()

    def reset(self) -> None:
        self.state = None
        self.ahead: list[float] = []   # losses of frames ahead_start, ahead_start + 1, ...
        self.ahead_start = 0
        self.block = self.first_block

    def score(self, t: int) -> float:
        i = t - self.ahead_start
        if 0 <= i < len(self.ahead):
            return self.ahead[i]
        if self.state is not None and i != len(self.ahead):
            raise ValueError(f"frames are scored in order after a reset: {t} after "
                             f"{self.ahead_start + len(self.ahead) - 1}")
        self._run_ahead(t)
        return self.ahead[0]

    def _run_ahead(self, t: int) -> None:
        stop = min(len(self.features), t + self.block)
        prev = self.prev[t:stop].clone()
        if self.state is None:
            prev[0] = self.model.n_actions
        with torch.inference_mode():
            logits, self.state = self.model.step_features(self.features[None, t:stop],
                                                          prev[None], self.state)
            losses = -F.log_softmax(logits[0], -1).gather(1, self.actions[t:stop])[:, 0]
        self.ahead, self.ahead_start = losses.tolist(), t
        self.block = min(2 * self.block, self.max_block)


def segment_episode(episode: Episode, model: ActionModel | None, rule: BoundaryRule,
                    scorer: BoundaryScorer | None = None) -> tuple[Segmentation, BoundaryResult]:
    """The segmentation of one decoded recording, and the rule's trace (for plots).

    The learned mode needs `scorer` (see `scorer.py`) beside the action model."""
    events = event_boundaries(episode.events)
    if rule.mode == "learned":
        if model is None or scorer is None:
            raise ValueError("the learned mode needs the action model and the boundary scorer")
        result = learned_boundaries(episode, model, scorer, rule, events)
    else:
        losses = ModelScorer(model, episode) if model is not None else None
        result = find_boundaries(len(episode), losses, rule, events)
    starts = [0, *result.boundaries]
    ends = [*result.boundaries, len(episode)]
    names = [name_segment(episode.events[s:e]) for s, e in zip(starts, ends)]
    seg = Segmentation.from_boundaries(episode.name, f"sbd-{rule.mode}", len(episode),
                                       result.boundaries, names)
    return seg, result


def learned_boundaries(episode: Episode, model: ActionModel, scorer: BoundaryScorer,
                       rule: BoundaryRule, events: Sequence[int] = ()) -> BoundaryResult:
    """The learned mode: the scorer's probabilities, and their peaks as boundaries. The trace's
    losses are the action model's with the recent history (the scorer's first signal)."""
    inputs = episode_inputs(model, episode, scorer.config)
    p = scorer.probabilities(inputs)
    losses = inputs[:, scorer.config.context * scorer.config.row_size].astype(np.float64)
    return BoundaryResult(tuple(peak_boundaries(p, rule.threshold, rule.min_length)), losses,
                          np.full(len(episode), np.nan), tuple(events), p)


@dataclasses.dataclass(frozen=True)
class SegmentJob:
    """Everything one worker needs for one recording (plain data, so Ray can ship it)."""

    recording: str
    model_dir: str
    mode: str
    gap: float
    min_length: int
    plot: bool = False
    confirm: float | None = None
    device: str = "cpu"   # where the action model runs; "cuda" when the task was given a GPU
    threshold: float = 0.5   # the learned mode's


def run_job(job: SegmentJob) -> dict[str, Any]:
    """Segment one recording; write nothing. Returns a summary with the segmentation (and the
    plot's PNG bytes) for `store_result`, or the error for the user."""
    started = time.perf_counter()
    try:
        result = _run_job(job)
    except UserError as err:
        result = {"recording": job.recording, "error": str(err)}
    result.update(host=socket.gethostname(), seconds=round(time.perf_counter() - started, 3))
    return result


def _ray_task(job: SegmentJob) -> dict[str, Any]:
    import ray

    torch.set_num_threads(1)  # one CPU per task, as declared
    result = run_job(job)
    result["node_id"] = ray.get_runtime_context().get_node_id()
    return result


def _run_job(job: SegmentJob) -> dict[str, Any]:
    rule = BoundaryRule(job.mode, job.gap, job.min_length, job.confirm, job.threshold)
    model = scorer = None
    if rule.uses_loss or job.plot:
        if job.device != "cpu" and not torch.cuda.is_available():
            raise UserError(f"{job.recording}: asked for a GPU (--gpus-per-worker), but torch on "
                            f"{socket.gethostname()} sees none (a CPU build of torch, or no "
                            f"driver?); install a CUDA torch there or pass --gpus-per-worker 0")
        model, _ = load_model(job.model_dir, ACTION_MODEL, device=job.device)
        if rule.mode == "learned":
            scorer, _ = load_scorer(job.model_dir)
            scorer.to(job.device)
        episode = load_episode(job.recording, model.config.action_names, model.config.frame_size)
    else:
        from mcagent.recordings.format import read_recording
        rec = read_recording(job.recording)
        episode = Episode(rec.name, np.zeros((len(rec), 1, 1, 3), np.uint8),
                          np.zeros(len(rec), np.int64), tuple(s.events for s in rec.steps),
                          tuple(s.skill for s in rec.steps))
    seg, trace = segment_episode(episode, model, rule, scorer)
    result = {"recording": job.recording, "video": seg.video, "frames": seg.frames,
              "segments": len(seg.segments), "segmentation": seg}
    if job.plot:
        from mcagent.sbd.plots import render_trace

        result["plot_png"] = render_trace(episode, trace, rule)
    return result


def store_result(result: dict[str, Any], out_dir: str | os.PathLike) -> dict[str, Any]:
    """Write a finished job's files into `out_dir` (in the driver, so that on a cluster every
    file lands on the machine that asked, whichever node did the work). Returns the summary
    with the paths in place of the contents."""
    result = dict(result)
    seg = result.pop("segmentation", None)
    png = result.pop("plot_png", None)
    if seg is not None:
        result["segments_file"] = str(write_segmentation(seg, out_dir))
    if png is not None:
        from mcagent.sbd.plots import write_png

        result["plot"] = str(write_png(png, Path(out_dir) / f"{result['video']}.sbd.png"))
    return result


RUN_FORMAT = "mcagent-segment-run/1"
RUN_FILE = "segment-run.json"


def write_run_summary(out_dir: str | os.PathLike, settings: dict[str, Any],
                      results: Sequence[dict[str, Any]]) -> Path:
    """`<out_dir>/segment-run.json`: the settings, and per recording its files, the Ray node
    and host that segmented it (null node: in this process), the seconds it took, or its error."""
    keys = ("recording", "segments_file", "plot", "frames", "segments", "node_id", "host",
            "seconds", "error")
    document = {"format": RUN_FORMAT, **settings,
                "recordings": [{k: r.get(k) for k in keys if k in r or k == "node_id"}
                               for r in sorted(results, key=lambda r: r["recording"])]}
    path = Path(out_dir) / RUN_FILE
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def segment_many(inputs: Sequence[str | os.PathLike], out_dir: str | os.PathLike, *,
                 model_dir: str | os.PathLike | None = None, mode: str = "loss+info",
                 gap: float | None = None, min_length: int | None = None,
                 threshold: float | None = None, plot: bool = False, workers: int = 1, address: str | None = None, gpus_per_worker: float = 0.0,
                 progress: bool = False, ray_module=None) -> list[dict[str, Any]]:
    """Segment every recording named by `inputs` (files or folders) into `out_dir`.

    With `workers` > 1 or an `address`, each recording is a Ray task (one CPU, and
    `gpus_per_worker` GPUs: a fraction shares one) on the cluster at `address`
    (None: a local one, or the one this process is already connected to). The
    recordings and the model must be at the same path on every node (a job's
    working dir, the cluster's file mounts, shared storage). This process writes
    each task's files as it finishes, and `segment-run.json`, which names the
    node that did each recording.
    """
    if gpus_per_worker < 0:
        raise UserError(f"--gpus-per-worker must be 0 or more, not {gpus_per_worker:g}")
    stems = find_recordings(inputs)
    model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
    rule = rule_for(model_dir, mode, gap, min_length, threshold)
    if rule.uses_loss or plot:
        read_config(model_dir, ACTION_MODEL)  # fail here, not in every task
    if rule.mode == "learned":
        load_scorer(model_dir)
    on_ray = workers > 1 or address is not None
    if gpus_per_worker and not on_ray and not torch.cuda.is_available():
        raise UserError("--gpus-per-worker asks for a GPU, but torch here sees none; pass "
                        "--address for a cluster with GPUs, or leave the option out")
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    # Absolute paths: a Ray worker may run in another folder.
    device = "cuda" if gpus_per_worker else "cpu"
    jobs = [SegmentJob(str(stem.resolve()), str(model_dir.resolve()), rule.mode, rule.gap,
                       rule.min_length, plot, rule.confirm, device, rule.threshold)
            for stem in stems]
    settings = {"model": str(model_dir.resolve()), "method": f"sbd-{rule.mode}",
                "gap": rule.gap, "min_length": rule.min_length,
                **({"threshold": rule.threshold} if rule.mode == "learned" else {}),
                "gpus_per_worker": gpus_per_worker, "ray": on_ray}

    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc="segment", unit="rec", disable=not progress,
               dynamic_ncols=True)
    results: list[dict[str, Any]] = []

    def finished(result: dict[str, Any]) -> None:
        results.append(store_result(result, out_dir))
        write_run_summary(out_dir, settings, results)
        bar.update(1)

    try:
        if not on_ray:
            for job in jobs:
                finished(run_job(job))
        else:
            _run_on_ray(jobs, workers, address, finished, ray_module, gpus_per_worker)
    finally:
        bar.close()
    results.sort(key=lambda r: r["recording"])
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        done = len(results) - len(errors)
        raise UserError(f"{len(errors)} of {len(results)} recordings failed ({done} written to "
                        f"{out_dir}):\n  " + "\n  ".join(errors))
    return results


def _run_on_ray(jobs: list[SegmentJob], workers: int, address: str | None,
                finished: Callable[[dict[str, Any]], None], ray_module=None,
                gpus_per_worker: float = 0.0) -> None:
    """Run the jobs as Ray tasks, at most `workers` at once; `finished` gets each result."""
    if ray_module is None:
        import ray as ray_module
    ray = ray_module
    started_here = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"address": address} if address else {"num_cpus": workers}
        ray.init(log_to_driver=False, **kwargs)
        started_here = True
    try:
        if gpus_per_worker and not ray.cluster_resources().get("GPU"):
            log.warning("no GPU in the Ray cluster yet: the tasks wait for one (an autoscaler "
                        "adds GPU workers on demand; without one they wait for ever)")
        remote = ray.remote(num_cpus=1, num_gpus=gpus_per_worker, max_retries=2)(_ray_task)
        # At most `workers` tasks in flight, so `--workers` bounds the use of a shared cluster.
        pending, queue = {}, list(jobs)
        limit = max(1, workers)
        while queue or pending:
            while queue and len(pending) < limit:
                job = queue.pop(0)
                pending[remote.remote(job)] = job
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                job = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as err:
                    # A crashed worker or a bug: name the recording, finish the others.
                    first = str(err).strip().splitlines()[-1] if str(err).strip() else ""
                    result = {"recording": job.recording,
                              "error": f"{job.recording}: {type(err).__name__}: {first}"}
                finished(result)
    finally:
        if started_here:
            ray.shutdown()
