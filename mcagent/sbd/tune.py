"""Tune the boundary rule's gap and minimum length per mode on labelled recordings.

A grid search: every (gap, min_length) pair is run over the recordings and
scored against their skill labels (F1 at the evaluation's tolerance); the best
pair per mode is stored in the action model's notes, where `segment` takes
its defaults from. The learned mode's (threshold, min_length) is searched the
same way and stored in the scorer's notes. Tune on recordings kept out of both
training and the final evaluation.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mcagent.errors import UserError
from mcagent.sbd.boundary import (CONFIRM, MODES, RULE_MODES, BoundaryRule, event_boundaries,
                                  find_boundaries, peak_boundaries)
from mcagent.sbd.data import label_changes, load_episodes
from mcagent.sbd.evaluate import TOLERANCE, Score, score
from mcagent.sbd.model import ACTION_MODEL, load_model, update_notes
from mcagent.sbd.scorer import SCORER, episode_inputs, load_scorer, update_scorer_notes
from mcagent.sbd.segment import ModelScorer

GAPS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0)
MIN_LENGTHS = (1, 2, 4, 6, 8, 12, 16, 24)
THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7)
PEAK_MIN_LENGTHS = (1, 2, 3, 4)


def default_modes(model_dir: str | os.PathLike) -> tuple[str, ...]:
    """The rule's modes, and the learned one when a scorer is beside the model."""
    has_scorer = (Path(model_dir) / f"{SCORER}.json").is_file()
    return MODES if has_scorer else RULE_MODES


def tune(inputs: Sequence[str | os.PathLike], model_dir: str | os.PathLike,
         modes: Sequence[str] | None = None, gaps: Sequence[float] = GAPS,
         min_lengths: Sequence[int] = MIN_LENGTHS, tolerance: int = TOLERANCE,
         save: bool = True, progress: bool = False,
         thresholds: Sequence[float] = THRESHOLDS,
         peak_min_lengths: Sequence[int] = PEAK_MIN_LENGTHS) -> dict[str, Any]:
    """The best (gap, min_length) per mode and its F1, and the learned mode's best (threshold,
    min_length); stored in the model's (the scorer's) notes if `save`. `modes` None: the rule's
    modes, and the learned one when there is a scorer."""
    from tqdm import tqdm

    modes = default_modes(model_dir) if modes is None else modes
    for mode in modes:
        if mode not in MODES:
            raise UserError(f"unknown mode {mode!r}; the modes are {', '.join(MODES)}")
    model, notes = load_model(model_dir, ACTION_MODEL)
    episodes = load_episodes(inputs, model.config.action_names, model.config.frame_size,
                             progress=progress)
    truths = []
    for e in episodes:
        if all(s is None for s in e.skills):
            raise UserError(f"{e.name}: no skill labels; tuning needs labelled recordings")
        truths.append(label_changes(e.skills))
    events = [event_boundaries(e.events) for e in episodes]
    grid = [(mode, gap if mode != "info" else 0.0, m) for mode in modes if mode in RULE_MODES
            for gap, m in itertools.product(gaps if mode != "info" else (0.0,), min_lengths)]
    scorers = [ModelScorer(model, e) for e in episodes] if grid else []
    results: dict[str, dict] = {}
    learned = None
    if "learned" in modes:
        boundary_scorer, _ = load_scorer(model_dir)
        probabilities = [boundary_scorer.probabilities(
                             episode_inputs(model, e, boundary_scorer.config))
                         for e in episodes]
        for threshold, m in itertools.product(thresholds, peak_min_lengths):
            total = Score()
            for p, truth in zip(probabilities, truths):
                total = total + score(peak_boundaries(p, threshold, m), truth, tolerance)
            if learned is None or total.f1 > learned["f1"]:
                learned = {"threshold": threshold, "min_length": m, **total.figures()}
    for mode, gap, min_length in tqdm(grid, desc="tune", unit="setting", disable=not progress,
                                      dynamic_ncols=True):
        rule = BoundaryRule(mode, gap, min_length, CONFIRM[mode])
        total = Score()
        for e, scorer, ev, truth in zip(episodes, scorers, events, truths):
            found = find_boundaries(len(e), scorer if rule.uses_loss else None, rule, ev)
            total = total + score(found.boundaries, truth, tolerance)
        best = results.get(mode)
        if best is None or total.f1 > best["f1"]:
            results[mode] = {"gap": gap, "min_length": min_length, **total.figures()}
    # Modes not tuned this time keep the values tuned before.
    boundary = {**notes.get("boundary", {}),
                **{mode: {"gap": r["gap"], "min_length": r["min_length"]}
                   for mode, r in results.items()}}
    tuning = {"recordings": [e.name for e in episodes], "tolerance": tolerance}
    tuned = {"boundary": boundary, "boundary_tuning": {**tuning, "best": results}}
    if save and results:
        update_notes(model_dir, ACTION_MODEL, **tuned)
    if learned is not None:
        tuned["boundary"]["learned"] = {k: learned[k] for k in ("threshold", "min_length")}
        tuned["boundary_tuning"]["best"]["learned"] = learned
        if save:
            update_scorer_notes(model_dir, boundary=tuned["boundary"]["learned"],
                                boundary_tuning={**tuning, "best": learned})
    return {"model": str(Path(model_dir)), **tuned}
