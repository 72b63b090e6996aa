"""The learned mode's pure parts on hand-made inputs: peak picking, the loss and event signals,
the context rows, the scorer's checkpoint; no recordings."""

import numpy as np
import pytest
import torch

from mcagent.errors import UserError
from mcagent.sbd.boundary import BoundaryRule, FixedLosses, find_boundaries, peak_boundaries
from mcagent.sbd.scorer import (GENERIC_EVENT_SIGNALS, LOSS_SIGNALS, BoundaryScorer,
                                ScorerConfig, event_signals, frame_rows, load_scorer,
                                loss_signals, save_scorer)


def test_peaks_above_the_threshold_are_boundaries():
    p = [0.9, 0.1, 0.6, 0.2, 0.05, 0.8, 0.3]
    assert peak_boundaries(p, 0.5) == [2, 5]      # frame 0 starts the recording: never one
    assert peak_boundaries(p, 0.25) == [2, 5, 6]
    assert peak_boundaries(p, 0.95) == []


def test_peaks_keep_the_minimum_length_from_the_more_probable_first():
    p = [0.0, 0.6, 0.7, 0.0, 0.65, 0.0, 0.0, 0.4]
    assert peak_boundaries(p, 0.3, min_length=1) == [1, 2, 4, 7]
    # 2 is taken first; 1 is then too close to it, 4 (two frames away) is not
    assert peak_boundaries(p, 0.3, min_length=2) == [2, 4, 7]
    # frame 0 starts the first segment: 2 is too close to it, as a rule's segment would be
    assert peak_boundaries(p, 0.3, min_length=3) == [4, 7]


def test_the_rule_refuses_the_learned_mode_and_bad_thresholds():
    rule = BoundaryRule("learned", threshold=0.3)
    assert rule.uses_loss and rule.uses_events
    with pytest.raises(ValueError, match="not SBD's rule"):
        find_boundaries(3, FixedLosses([1, 1, 1]), rule)
    with pytest.raises(ValueError, match="threshold"):
        BoundaryRule("learned", threshold=1.5)


def test_loss_signals_from_two_probability_tables():
    # Two actions. History: sure of action 0; the frame alone: 50/50.
    history = np.log(np.array([[0.9, 0.1]] * 4))
    fresh = np.log(np.array([[0.5, 0.5]] * 4))
    actions = np.array([0, 0, 1, 1])
    s = loss_signals(history, fresh, actions, recent=2)
    assert s.shape == (4, len(LOSS_SIGNALS))
    col = {name: s[:, i] for i, name in enumerate(LOSS_SIGNALS)}
    assert col["loss"] == pytest.approx(-np.log([0.9, 0.9, 0.1, 0.1]), abs=1e-6)
    assert col["fresh_loss"] == pytest.approx(-np.log([0.5] * 4), abs=1e-6)
    assert col["action_changed"].tolist() == [0, 0, 1, 0]
    # the jump of frame 2 over the mean of frames 0 and 1
    assert col["jump"][2] == pytest.approx(np.log(9), abs=1e-5)
    assert col["prediction_change"] == pytest.approx([0, 0, 0, 0], abs=1e-6)
    assert (col["history_shift"] > 0).all()


def test_event_signals_flag_names_and_runs():
    events = [[], ["collect_wood", "obtain:wood"], [], ["collect_wood", "obtain:wood"], [],
              ["hurt:zombie"], ["place_table"], [], [], [], [], ["place_table"]]
    names = ("collect_wood", "obtain:wood")
    s = event_signals(events, names, run_gap=3)
    g = {name: len(names) + i for i, name in enumerate(GENERIC_EVENT_SIGNALS)}
    assert s.shape == (12, len(names) + len(GENERIC_EVENT_SIGNALS))
    assert s[1, :2].tolist() == [1, 1] and s[6, :2].tolist() == [0, 0]
    assert s[:, g["any"]].tolist() == [0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1]  # damage is no event
    assert s[6, g["achievement"]] == 1                      # a name never seen still counts
    assert s[1, g["again_after"]] == 1 and s[3, g["again_after"]] == 0
    assert s[3, g["again_before"]] == 1 and s[1, g["again_before"]] == 0
    assert s[11, g["again_before"]] == 0                    # 5 frames after: another run


def test_frame_rows_read_the_neighbours_and_the_events_before():
    losses = np.arange(5, dtype=np.float32)[:, None]
    events = np.array([[1], [0], [0], [1], [0]], np.float32)
    rows = frame_rows(losses, events, context=1)
    # per frame: 3 frames x (loss, events of t-1, events of t)
    assert rows.shape == (5, 9)
    assert rows[2].tolist() == [1, 1, 0, 2, 0, 0, 3, 0, 1]
    assert rows[0, :3].tolist() == [0, 0, 0]                # before the first frame: zeros


def test_the_scorer_round_trips_and_names_its_action_model(tmp_path):
    config = ScorerConfig(events=("collect_wood",), action_model_sha256="0" * 64, context=1,
                          hidden=4)
    scorer = BoundaryScorer(config)
    scorer.mean.fill_(0.5)
    save_scorer(scorer, tmp_path, {"boundary": {"threshold": 0.3, "min_length": 2}})
    again, notes = load_scorer(tmp_path)
    assert again.config == config and notes["boundary"]["threshold"] == 0.3
    x = np.random.default_rng(0).random((7, config.input_size), dtype=np.float32)
    assert np.allclose(again.probabilities(x), scorer.eval().probabilities(x))
    # beside an action model whose weights are not the ones it was trained on
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(1)}, str(tmp_path / "action_model.safetensors"))
    with pytest.raises(UserError, match="another action model"):
        load_scorer(tmp_path)


def test_a_missing_scorer_says_how_to_get_one(tmp_path):
    with pytest.raises(UserError, match="sbd train-scorer"):
        load_scorer(tmp_path)
