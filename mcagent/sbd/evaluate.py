"""Score predicted boundaries against the skill labels of recordings, beside simple baselines.

A true boundary is a frame whose `skill` label differs from the previous
frame's. A predicted boundary matches a true one within `tolerance` frames,
each at most once (one-to-one); precision, recall and F1 are summed over all
recordings (micro-averaged). The baselines need no model: event boundaries
alone, segments of a fixed length, and random boundaries as many as the true
ones.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from mcagent.errors import UserError
from mcagent.recordings.format import Recording, read_recording
from mcagent.sbd.boundary import event_boundaries
from mcagent.sbd.data import find_recordings, label_changes
from mcagent.sbd.segments import read_segmentation, segments_path

TOLERANCE = 3
FIXED_LENGTHS = (8, 16, 32, 64, 128)
RANDOM_SEEDS = 10


@dataclasses.dataclass(frozen=True)
class Score:
    """Matched, predicted and true boundary counts, and the figures from them."""

    matched: int = 0
    predicted: int = 0
    true: int = 0

    def __add__(self, other: Score) -> Score:
        return Score(self.matched + other.matched, self.predicted + other.predicted,
                     self.true + other.true)

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.true if self.true else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def figures(self) -> dict[str, float | int]:
        return {"precision": round(self.precision, 4), "recall": round(self.recall, 4),
                "f1": round(self.f1, 4), "matched": self.matched, "predicted": self.predicted,
                "true": self.true}


def match_boundaries(predicted: Iterable[int], true: Iterable[int],
                     tolerance: int = TOLERANCE) -> int:
    """The largest number of one-to-one pairs (predicted, true) at most `tolerance` apart.

    Each true boundary accepts the interval [b - tol, b + tol], all of the same
    width; taking predictions in order and giving each the earliest free true
    boundary that accepts it is optimal for such intervals.
    """
    pred = sorted(set(predicted))
    truth = sorted(set(true))
    matched, j = 0, 0
    for p in pred:
        while j < len(truth) and truth[j] < p - tolerance:
            j += 1
        if j < len(truth) and abs(truth[j] - p) <= tolerance:
            matched += 1
            j += 1
    return matched


def score(predicted: Sequence[int], true: Sequence[int], tolerance: int = TOLERANCE) -> Score:
    return Score(match_boundaries(predicted, true, tolerance), len(set(predicted)), len(set(true)))


def true_boundaries(recording: Recording) -> list[int]:
    """Frames where the skill label changes. `UserError` when the recording has no labels."""
    skills = [s.skill for s in recording.steps]
    if all(s is None for s in skills):
        raise UserError(f"{recording.jsonl_path}: no skill labels; evaluation needs recordings "
                        f"whose jsonl carries `skill` (the expert's do)")
    return label_changes(skills)


def fixed_boundaries(n: int, length: int) -> list[int]:
    return list(range(length, n, length))


def random_boundaries(n: int, count: int, rng: np.random.Generator) -> list[int]:
    count = min(count, n - 1)
    return sorted(int(b) for b in rng.choice(np.arange(1, n), size=count, replace=False))


def evaluate(truth_inputs: Sequence[str | os.PathLike], pred_dir: str | os.PathLike | None,
             tolerance: int = TOLERANCE) -> dict[str, dict]:
    """Figures per method: the predictions in `pred_dir` (by their `method`) and the baselines."""
    stems = find_recordings(truth_inputs)
    totals: dict[str, Score] = {}

    def add(method: str, s: Score) -> None:
        totals[method] = totals.get(method, Score()) + s

    for stem in stems:
        rec = read_recording(stem, check_video=False)
        truth = true_boundaries(rec)
        n = len(rec)
        if pred_dir is not None:
            path = segments_path(pred_dir, rec.name)
            if not path.is_file():
                raise UserError(f"{path}: missing; no prediction for {rec.name} "
                                f"(run `mcagent segment {stem} --out {pred_dir}`)")
            seg = read_segmentation(path)
            if seg.frames != n:
                raise UserError(f"{path}: covers {seg.frames} frames, the recording {stem} has {n}")
            add(seg.method, score(seg.boundaries, truth, tolerance))
        add("baseline:events", score(event_boundaries([s.events for s in rec.steps]), truth,
                                     tolerance))
        for length in FIXED_LENGTHS:
            add(f"baseline:fixed-{length}", score(fixed_boundaries(n, length), truth, tolerance))
        for seed in range(RANDOM_SEEDS):
            rng = np.random.default_rng([seed, n, len(truth)])
            add("baseline:random", score(random_boundaries(n, len(truth), rng), truth, tolerance))
    out = {}
    for method, s in totals.items():
        figures = s.figures()
        if method == "baseline:random":  # summed over the seeds: report per-seed counts
            figures.update(matched=s.matched / RANDOM_SEEDS, predicted=s.predicted // RANDOM_SEEDS,
                           true=s.true // RANDOM_SEEDS)
        out[method] = figures
    return {"recordings": len(stems), "tolerance": tolerance, "methods": out}


def evaluate_many(truth_inputs: Sequence[str | os.PathLike],
                  pred_dirs: Sequence[str | os.PathLike], tolerance: int = TOLERANCE) -> dict:
    """`evaluate` for several prediction folders (one per mode), the baselines once."""
    if not pred_dirs:
        return evaluate(truth_inputs, None, tolerance)
    merged: dict = {}
    for pred in pred_dirs:
        result = evaluate(truth_inputs, pred, tolerance)
        methods = result.pop("methods")
        merged.setdefault("methods", {})
        for name, figures in methods.items():
            if name.startswith("baseline:") and name in merged["methods"]:
                continue
            if not name.startswith("baseline:") and name in merged["methods"]:
                name = f"{name} ({Path(pred).name})"
            merged["methods"][name] = figures
        merged.update(result)
    return merged


def format_table(result: dict) -> str:
    lines = [f"{result['recordings']} recordings, tolerance {result['tolerance']} frames",
             f"{'method':24s} {'P':>6s} {'R':>6s} {'F1':>6s} {'pred':>6s} {'true':>6s}"]
    methods = result["methods"]
    order = sorted(methods, key=lambda m: (m.startswith("baseline:"), m))
    for name in order:
        f = methods[name]
        lines.append(f"{name:24s} {f['precision']:6.3f} {f['recall']:6.3f} {f['f1']:6.3f} "
                     f"{f['predicted']:6d} {f['true']:6d}")
    return "\n".join(lines)
