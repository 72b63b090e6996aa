"""SBD's boundary rule: cut where the action-prediction loss jumps, or at events.

Per frame t the action-prediction model scores the action taken,
l_t = -log p(a_t | frames and actions since the segment began). The rule keeps
the losses of the current segment; a boundary falls at t (frame t starts a new
segment) when

    l_t - mean(losses of the segment, l_t included) > gap
    and t - start >= min_length          (start: first frame of the segment)
    and l_t+1 - mean(...) > confirm      (memory kept; a one-frame spike is an odd
                                          action, not a new skill)

At a boundary the model's memory is reset and frame t is scored again from the
empty history; that loss opens the new segment's list. Events (what an action
caused in the game) force a boundary after the frame that caused them, subject
to the same minimum length. Three modes: `loss` (the loss rule alone), `info`
(events alone) and `loss+info` (both).

A fourth mode, `learned`, is not this rule: a scorer trained on skill-labelled
recordings (`scorer.py`) weighs the same signals, and the boundaries are the
peaks of its probability (`peak_boundaries`).

The rule is written against a `Scorer` (reset, then score frame t), so that the
same code cuts a hand-made list of losses and a recording scored by a model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np

RULE_MODES = ("loss", "info", "loss+info")   # SBD's rule
MODES = (*RULE_MODES, "learned")              # ... and the learned scorer
# `BoundaryRule.confirm` for segmenting in the loss+info mode: -1 left the F1 on clean expert
# recordings as it was and lifted it on recordings with 10% / 20% random actions from 0.65 /
# 0.58 to 0.71 / 0.67 (0, -0.5 and -1 tried, chosen on the tuning recordings). The loss mode
# goes without: with its small tuned gap the check cost it 0.02 to 0.07 F1.
CONFIRM = {"loss": None, "info": None, "loss+info": -1.0, "learned": None}
# Events that happen *to* the player rather than mark the end of what it was doing.
IGNORED_EVENT_PREFIXES = ("hurt", "death")
# Like events further apart than this many frames belong to separate skills (drinking, then
# an hour's walk, then drinking again). 4 and 8 did better than no limit on expert recordings
# held out, tuning and noisy alike (boundary F1 +0.02 to +0.03); 8 a little better than 4.
RUN_GAP = 8


@dataclasses.dataclass(frozen=True)
class BoundaryRule:
    """The parameters of the rule (and of the learned mode's peak picking)."""

    mode: str = "loss+info"
    gap: float = 2.0        # nats above the segment's running mean that make a boundary
    min_length: int = 1     # frames a segment must have before any boundary may end it
    # The loss of the frame after, with the memory kept, must be above the running mean minus
    # this many nats, or the spike was one odd action (a random key, a dodge), not a new skill.
    # None: no such check (the rule as published); `segment` uses CONFIRM.
    confirm: float | None = None
    # The learned mode only: the scorer's probability a peak needs to be a boundary.
    threshold: float = 0.5

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if not self.gap >= 0:
            raise ValueError(f"gap must be a non-negative number of nats, not {self.gap}")
        if not (isinstance(self.min_length, (int, np.integer)) and self.min_length >= 1):
            raise ValueError(f"min_length must be a whole number of frames >= 1, "
                             f"not {self.min_length!r}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be a probability in [0, 1], not {self.threshold}")

    @property
    def uses_loss(self) -> bool:
        return self.mode in ("loss", "loss+info", "learned")

    @property
    def uses_events(self) -> bool:
        return self.mode in ("info", "loss+info", "learned")


class Scorer(Protocol):
    """Scores frames one by one with a memory that `reset` empties."""

    def reset(self) -> None: ...

    def score(self, t: int) -> float:
        """The loss of frame t given the frames scored since the last reset."""


@dataclasses.dataclass(frozen=True)
class BoundaryResult:
    """What the rule found in one sequence of n frames."""

    boundaries: tuple[int, ...]   # first frames of every segment but the first, ascending
    losses: np.ndarray            # (n,) the loss of each frame as the rule saw it
    running_mean: np.ndarray      # (n,) the segment's mean loss up to and including each frame
    event_boundaries: tuple[int, ...]  # the boundaries the events asked for (before min_length)
    # The learned mode: the scorer's probability that each frame starts a skill (else None).
    probabilities: np.ndarray | None = None


class FixedLosses:
    """A `Scorer` over precomputed losses: memory resets change nothing."""

    def __init__(self, losses: Sequence[float]):
        self.losses = np.asarray(losses, np.float64)

    def reset(self) -> None:
        pass

    def score(self, t: int) -> float:
        return float(self.losses[t])


def find_boundaries(n: int, scorer: Scorer | None, rule: BoundaryRule,
                    event_boundaries: Iterable[int] = ()) -> BoundaryResult:
    """Run the rule over frames 0..n-1.

    `event_boundaries` are frames that start a new segment because of events
    (see `event_boundaries`); they are used in the `info` and `loss+info`
    modes. `scorer` may be None in `info` mode (the losses are then NaN).
    """
    if rule.mode not in RULE_MODES:
        raise ValueError(f"mode {rule.mode!r} is not SBD's rule; see `peak_boundaries`")
    if scorer is None and rule.uses_loss:
        raise ValueError(f"mode {rule.mode!r} needs a scorer")
    forced = sorted({int(b) for b in event_boundaries if 0 < b < n})
    forced_set = set(forced) if rule.uses_events else set()
    losses = np.full(n, np.nan)
    means = np.full(n, np.nan)
    boundaries: list[int] = []
    start = 0
    total, count = 0.0, 0
    if scorer is not None:
        scorer.reset()
    for t in range(n):
        if t in forced_set and t - start >= rule.min_length:
            boundaries.append(t)
            start, total, count = t, 0.0, 0
            if scorer is not None:
                scorer.reset()
        if scorer is None:
            continue
        loss = scorer.score(t)
        total, count = total + loss, count + 1
        if (rule.uses_loss and t - start >= rule.min_length
                and loss - total / count > rule.gap
                and (rule.confirm is None or t + 1 == n
                     or scorer.score(t + 1) - total / count > rule.confirm)):
            boundaries.append(t)
            start = t
            scorer.reset()
            loss = scorer.score(t)
            total, count = loss, 1
        losses[t] = loss
        means[t] = total / count
    return BoundaryResult(tuple(boundaries), losses, means, tuple(forced))


def boundaries_of_losses(losses: Sequence[float], gap: float, min_length: int,
                         event_boundaries: Iterable[int] = (), mode: str = "loss") -> list[int]:
    """The rule on a fixed list of losses (no model): the boundary frames."""
    rule = BoundaryRule(mode=mode, gap=gap, min_length=min_length)
    found = find_boundaries(len(losses), FixedLosses(losses), rule, event_boundaries)
    return list(found.boundaries)


def peak_boundaries(probabilities: Sequence[float], threshold: float,
                    min_length: int = 1) -> list[int]:
    """The learned mode's boundaries: frames whose probability of starting a skill is at least
    `threshold`, taken from the most probable down, each at least `min_length` frames from
    those taken before and from frame 0, which starts the first segment (as in the rule)."""
    p = np.asarray(probabilities, np.float64)
    taken = np.zeros(len(p), bool)
    if len(p):
        taken[0] = True
    for t in np.argsort(-p, kind="stable"):
        if p[t] < threshold:
            break
        if taken[max(0, t - min_length + 1):t + min_length].any():
            continue
        taken[t] = True
    return [int(t) for t in np.flatnonzero(taken[1:]) + 1]


# -- events -------------------------------------------------------------------

def skill_events(events: Iterable[str] | None) -> frozenset[str]:
    """The events of one frame that can end a skill (damage and death cannot)."""
    return frozenset(e for e in events or ()
                     if not e.split(":", 1)[0] in IGNORED_EVENT_PREFIXES)


def event_boundaries(frame_events: Sequence[Iterable[str] | None],
                     run_gap: int = RUN_GAP) -> list[int]:
    """Boundaries from a recording's events: after the last frame of each run of like events.

    A frame whose action caused events ends a skill, so the next frame starts
    a new segment. A skill that repeats (several `collect_wood` while
    gathering) shows the same events again and again; such a run is one skill,
    so only its last frame ends a segment. Runs are broken by frames with
    different events and by more than `run_gap` frames without events.
    """
    kinds = [skill_events(events) for events in frame_events]
    marked = [t for t, kind in enumerate(kinds) if kind]
    out = []
    for i, t in enumerate(marked):
        last_of_run = (i + 1 == len(marked) or kinds[marked[i + 1]] != kinds[t]
                       or marked[i + 1] - t > run_gap)
        if last_of_run and t + 1 < len(kinds):
            out.append(t + 1)
    return out


def name_segment(frame_events: Sequence[Iterable[str] | None]) -> str | None:
    """The skill a segment's events show: its most frequent event, preferring achievements.

    An achievement-like event (a plain name such as `collect_wood`) names the
    skill better than the item changes beside it (`obtain:wood`); among equally
    frequent names the latest wins, as the event that ends a segment is the
    one it was for. None when the segment shows no events.
    """
    counts: dict[str, int] = {}
    last: dict[str, int] = {}
    for t, events in enumerate(frame_events):
        for e in skill_events(events):
            counts[e] = counts.get(e, 0) + 1
            last[e] = t
    if not counts:
        return None
    plain = [e for e in counts if ":" not in e]
    pool = plain or list(counts)
    return max(pool, key=lambda e: (counts[e], last[e]))
