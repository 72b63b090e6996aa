"""A learned boundary scorer: the action model's loss signals and the events in, P(skill starts) out.

SBD's rule (`boundary.py`) cuts where the loss jumps by a fixed gap and at
every event. Both signals are right more often than not and wrong in ways a
fixed rule cannot see: a `collect_stone` while tunnelling towards a cow ends no
skill, an achievement nearly always does; a loss spike on one odd action is no
skill change, a spike followed by a lasting change of behaviour is. The scorer
learns these weights from skill-labelled recordings. It is the `learned` mode
of `mcagent segment` (method `sbd-learned`), beside the rule's modes, not a
replacement for them.

Per frame t it reads, for "t starts a new skill":

- loss signals from the action model (`LOSS_SIGNALS`): the loss of a_t with
  the recent history, the loss from frame t alone (empty memory), their
  difference, the entropy of the prediction, how far history moves the
  prediction, the jump over the recent mean, how much the predictions change
  from t-1 to t, and whether the action changed;
- event signals for the events caused by the actions of t-1 (a skill that
  just ended) and of t (a one-frame skill, or the first hit of one): one flag
  per event name seen in training, and generic flags that carry over to names
  never seen (any event, an achievement-like name, the same events again
  within `RUN_GAP` frames after or before);

those rows for frames t-c..t+c (the context; segmentation is offline, so the
frames after t may be read), normalised, into a one-hidden-layer MLP. The
boundaries are the peaks of its probability above a threshold, at least
`min_length` frames apart (`boundary.peak_boundaries`); threshold and minimum
length are tuned like the rule's gap (`mcagent sbd tune --modes learned`).

The scorer reads one action model's losses: its JSON names that model's
weights by their SHA-256, and loading it beside another model fails.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mcagent.errors import UserError
from mcagent.sbd.boundary import RUN_GAP, skill_events
from mcagent.sbd.data import Episode, load_episodes
from mcagent.sbd.model import (ACTION_MODEL, ActionModel, checkpoint_paths, load_model,
                               read_checkpoint, settings_from_json, settings_to_json,
                               update_notes, write_checkpoint)

log = logging.getLogger(__name__)

SCORER = "scorer"
SCORER_FORMAT = "mcagent-sbd-scorer/1"
LOSS_SIGNALS = ("loss", "fresh_loss", "loss_minus_fresh", "entropy", "history_shift", "jump",
                "prediction_change", "fresh_prediction_change", "action_changed")
GENERIC_EVENT_SIGNALS = ("any", "achievement", "again_after", "again_before")


@dataclasses.dataclass(frozen=True)
class ScorerConfig:
    """What the scorer reads and its size."""

    events: tuple[str, ...]      # event names with a flag of their own (seen in training)
    action_model_sha256: str     # the weights of the action model whose losses it reads
    context: int = 4             # frames either side of t whose rows it reads
    hidden: int = 32             # MLP width
    burn_in: int = 32            # the loss's history: the last burn_in to 2 * burn_in - 1 frames
    recent: int = 8              # frames of the mean the loss jump is measured from
    run_gap: int = RUN_GAP       # "the same events again" within this many frames

    @property
    def row_size(self) -> int:
        return len(LOSS_SIGNALS) + 2 * (len(self.events) + len(GENERIC_EVENT_SIGNALS))

    @property
    def input_size(self) -> int:
        return self.row_size * (2 * self.context + 1)

    def to_json(self) -> dict[str, Any]:
        return settings_to_json(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScorerConfig:
        return settings_from_json(cls, data)


# -- the signals ----------------------------------------------------------------

def action_log_probs(model: ActionModel, episode: Episode, burn_in: int = 32
                     ) -> tuple[np.ndarray, np.ndarray]:
    """log p(. | history) and log p(. | frame t alone), each (n, A).

    The history of frame t is the burn_in to 2 * burn_in - 1 frames before it
    (the first frames of a recording have less): the recording is cut into
    windows of 2 * burn_in frames overlapping by burn_in, each run from an empty
    memory as in training, and each frame is taken from the window where it
    has the longer past. All windows run as one batch.
    """
    n = len(episode)
    device = next(model.parameters()).device
    H, L = burn_in, 2 * burn_in
    with torch.inference_mode():
        frames = torch.from_numpy(np.ascontiguousarray(episode.frames))
        features = torch.cat([model.encoder(chunk.to(device)) for chunk in frames.split(256)])
        actions = torch.from_numpy(np.asarray(episode.actions, np.int64)).to(device)
        start = actions.new_full((1,), model.n_actions)
        prev = torch.cat([start, actions[:-1]])
        starts = list(range(0, max(1, n - H), H))
        x = features.new_zeros(len(starts), L, features.shape[1])
        p = prev.new_full((len(starts), L), model.n_actions)
        for i, s in enumerate(starts):
            m = min(L, n - s)
            x[i, :m], p[i, 1:m] = features[s:s + m], prev[s + 1:s + m]
        logits, _ = model.step_features(x, p)
        windows = F.log_softmax(logits, -1)
        history = features.new_zeros(n, model.n_actions)
        for i, s in enumerate(starts):
            first, m = (0 if i == 0 else H), min(L, n - s)
            history[s + first:s + m] = windows[i, first:m]
        fresh_logits, _ = model.step_features(features[:, None], start.expand(n)[:, None])
        fresh = F.log_softmax(fresh_logits[:, 0], -1)
    return history.cpu().numpy(), fresh.cpu().numpy()


def loss_signals(history: np.ndarray, fresh: np.ndarray, actions: np.ndarray,
                 recent: int = 8) -> np.ndarray:
    """The `LOSS_SIGNALS` of each frame, (n, 9), from the two log-probability tables."""
    n = len(actions)
    rows = np.arange(n)
    loss = -history[rows, actions]
    fresh_loss = -fresh[rows, actions]
    p = np.exp(history)
    entropy = -(p * history).sum(1)
    shift = (p * (history - fresh)).sum(1)             # KL(history || frame alone)
    sums = np.concatenate([[0.0], np.cumsum(loss)])
    first = np.maximum(rows - recent, 0)
    counts = rows - first
    mean = np.where(counts > 0, (sums[rows] - sums[first]) / np.maximum(counts, 1), loss)

    def change(logp):  # KL(p_t || p_t-1), 0 at the first frame
        out = np.zeros(n)
        out[1:] = (np.exp(logp[1:]) * (logp[1:] - logp[:-1])).sum(1)
        return out

    changed = np.zeros(n)
    changed[1:] = actions[1:] != actions[:-1]
    return np.stack([loss, fresh_loss, loss - fresh_loss, entropy, shift, loss - mean,
                     change(history), change(fresh), changed], 1).astype(np.float32)


def event_signals(frame_events: Sequence[Iterable[str] | None], names: Sequence[str],
                  run_gap: int = RUN_GAP) -> np.ndarray:
    """Per frame, the flags of the events its action caused: (n, len(names) + 4)."""
    kinds = [skill_events(e) for e in frame_events]
    n, index = len(kinds), {name: i for i, name in enumerate(names)}
    out = np.zeros((n, len(names) + len(GENERIC_EVENT_SIGNALS)), np.float32)
    marked = [t for t, k in enumerate(kinds) if k]
    for i, t in enumerate(marked):
        for e in kinds[t]:
            if e in index:
                out[t, index[e]] = 1
        g = len(names)
        out[t, g] = 1
        out[t, g + 1] = any(":" not in e for e in kinds[t])
        nxt = marked[i + 1] if i + 1 < len(marked) else None
        prv = marked[i - 1] if i > 0 else None
        out[t, g + 2] = nxt is not None and nxt - t <= run_gap and kinds[nxt] == kinds[t]
        out[t, g + 3] = prv is not None and t - prv <= run_gap and kinds[prv] == kinds[t]
    return out


def frame_rows(losses: np.ndarray, events: np.ndarray, context: int) -> np.ndarray:
    """Each frame's input: the rows (loss signals, events of t-1, events of t) of t-c..t+c."""
    n = len(losses)
    before = np.vstack([np.zeros((1, events.shape[1]), np.float32), events[:-1]])
    rows = np.concatenate([losses, before, events], 1)
    padded = np.pad(rows, ((context, context), (0, 0)))
    return np.concatenate([padded[i:i + n] for i in range(2 * context + 1)], 1)


def episode_inputs(model: ActionModel, episode: Episode, config: ScorerConfig) -> np.ndarray:
    history, fresh = action_log_probs(model, episode, config.burn_in)
    losses = loss_signals(history, fresh, np.asarray(episode.actions), config.recent)
    events = event_signals(episode.events, config.events, config.run_gap)
    return frame_rows(losses, events, config.context)


# -- the model ---------------------------------------------------------------------

class BoundaryScorer(nn.Module):
    """Logit that frame t starts a skill, from its context rows (normalised inside)."""

    def __init__(self, config: ScorerConfig):
        super().__init__()
        self.config = config
        d = config.input_size
        self.register_buffer("mean", torch.zeros(d))
        self.register_buffer("std", torch.ones(d))
        self.net = nn.Sequential(nn.Linear(d, config.hidden), nn.ReLU(),
                                 nn.Linear(config.hidden, 1))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.net((inputs - self.mean) / self.std)[..., 0]

    def probabilities(self, inputs: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return torch.sigmoid(self(torch.from_numpy(inputs))).numpy()


def weights_sha256(model_dir: str | os.PathLike, name: str = ACTION_MODEL) -> str:
    weights, _ = checkpoint_paths(model_dir, name)
    return hashlib.sha256(weights.read_bytes()).hexdigest()


def save_scorer(scorer: BoundaryScorer, directory: str | os.PathLike,
                notes: dict[str, Any]) -> Path:
    """`<directory>/scorer.safetensors` + `scorer.json`, atomically. Returns the json path."""
    return write_checkpoint(scorer, directory, SCORER, {"format": SCORER_FORMAT,
                                                        "scorer": scorer.config.to_json(),
                                                        "notes": notes})


def read_scorer_config(directory: str | os.PathLike) -> tuple[ScorerConfig, dict[str, Any]]:
    hint = (f"the learned mode needs a boundary scorer. Train one with `mcagent sbd "
            f"train-scorer RECORDINGS --out {Path(directory)}` or use --mode loss+info")
    config, notes, _ = read_checkpoint(directory, SCORER, SCORER_FORMAT, "scorer",
                                       ScorerConfig.from_json, hint)
    return config, notes


def load_scorer(directory: str | os.PathLike, check_action_model: bool = True
                ) -> tuple[BoundaryScorer, dict[str, Any]]:
    """The scorer in `directory`, checked against the action model beside it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    config, notes = read_scorer_config(directory)
    weights, config_path = checkpoint_paths(directory, SCORER)
    if check_action_model:
        am_weights, _ = checkpoint_paths(directory, ACTION_MODEL)
        if am_weights.is_file() and weights_sha256(directory) != config.action_model_sha256:
            raise UserError(f"{config_path}: trained on the losses of another action model than "
                            f"{am_weights}; train it again (`mcagent sbd train-scorer "
                            f"RECORDINGS --out {Path(directory)}`)")
    scorer = BoundaryScorer(config)
    try:
        scorer.load_state_dict(load_file(str(weights), device="cpu"))
    except (SafetensorError, OSError, RuntimeError) as err:
        raise UserError(f"{weights}: unreadable or not the scorer its JSON describes: "
                        f"{str(err).splitlines()[0]}") from None
    return scorer.eval(), notes


def update_scorer_notes(directory: str | os.PathLike, **notes: Any) -> None:
    update_notes(directory, SCORER, **notes)


# -- training ------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ScorerSettings:
    """How the scorer is trained. A minute or two on a CPU for ~100k frames."""

    epochs: int = 40             # at most this many passes over the training frames
    patience: int = 5            # stop after this many epochs without a better validation loss
    batch_size: int = 512        # frames per batch
    lr: float = 3e-3             # Adam's learning rate
    weight_decay: float = 1e-4
    val_fraction: float = 0.2    # share of the recordings held out for validation (at least one)
    seed: int = 0
    min_event_count: int = 5     # an event name needs this many occurrences for a flag of its own
    context: int = 4             # see ScorerConfig (4 beat 2 and 6 on the tuning recordings)
    hidden: int = 32
    threads: int | None = None   # CPU threads for torch


def true_starts(episode: Episode) -> list[int]:
    s = episode.skills
    return [t for t in range(1, len(s)) if s[t] != s[t - 1]]


def event_vocabulary(episodes: Sequence[Episode], min_count: int) -> tuple[str, ...]:
    counts: dict[str, int] = {}
    for e in episodes:
        for events in e.events:
            for name in skill_events(events):
                counts[name] = counts.get(name, 0) + 1
    return tuple(sorted(name for name, c in counts.items() if c >= min_count))


def train_scorer(inputs: Sequence[str | os.PathLike], model_dir: str | os.PathLike,
                 out_dir: str | os.PathLike | None = None,
                 settings: ScorerSettings = ScorerSettings(),
                 progress: bool = False) -> dict[str, Any]:
    """Train the scorer on skill-labelled recordings with the action model in `model_dir`;
    write it to `out_dir` (default: beside the action model). Returns the run's figures."""
    from tqdm import tqdm

    from mcagent.sbd.train import split

    if settings.threads:
        torch.set_num_threads(settings.threads)
    out_dir = Path(out_dir if out_dir is not None else model_dir)
    model, _ = load_model(model_dir, ACTION_MODEL)
    episodes = load_episodes(inputs, model.config.action_names, model.config.frame_size,
                             progress=progress)
    for e in episodes:
        if all(s is None for s in e.skills):
            raise UserError(f"{e.name}: no skill labels; the scorer learns from recordings whose "
                            f"jsonl carries `skill` (the expert's do)")
    train, val = split(episodes, settings.val_fraction, settings.seed)
    config = ScorerConfig(events=event_vocabulary(train, settings.min_event_count),
                          action_model_sha256=weights_sha256(model_dir),
                          context=settings.context, hidden=settings.hidden)
    started = time.perf_counter()

    def tensors(eps):
        xs, ys = [], []
        for e in tqdm(eps, desc="signals", unit="rec", disable=not progress, dynamic_ncols=True):
            xs.append(episode_inputs(model, e, config))
            y = np.zeros(len(e), np.float32)
            y[true_starts(e)] = 1
            ys.append(y)
        return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))

    x_train, y_train = tensors(train)
    x_val, y_val = tensors(val)
    torch.manual_seed(settings.seed)
    scorer = BoundaryScorer(config)
    scorer.mean.copy_(x_train.mean(0))
    scorer.std.copy_(x_train.std(0).clamp_min(1e-3))
    optimiser = torch.optim.Adam(scorer.net.parameters(), lr=settings.lr,
                                 weight_decay=settings.weight_decay)
    generator = torch.Generator().manual_seed(settings.seed)
    best, best_epoch, stale, history = math.inf, -1, 0, []
    notes = {"train_recordings": [e.name for e in train], "val_recordings": [e.name for e in val],
             "train_frames": len(y_train), "parameters": sum(p.numel() for p in scorer.net.parameters()),
             "settings": dataclasses.asdict(settings)}
    for epoch in range(1, settings.epochs + 1):
        scorer.train()
        order = torch.randperm(len(x_train), generator=generator)
        total = 0.0
        for first in range(0, len(order), settings.batch_size):
            batch = order[first:first + settings.batch_size]
            loss = F.binary_cross_entropy_with_logits(scorer(x_train[batch]), y_train[batch])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        scorer.eval()
        with torch.no_grad():
            val_loss = float(F.binary_cross_entropy_with_logits(scorer(x_val), y_val))
        history.append({"epoch": epoch, "train_loss": total / len(x_train), "val_loss": val_loss})
        log.info("scorer epoch %d: train %.4f val %.4f", epoch, total / len(x_train), val_loss)
        if val_loss < best - 1e-5:
            best, best_epoch, stale = val_loss, epoch, 0
            save_scorer(scorer, out_dir, {**notes, "val_loss": val_loss, "epoch": epoch,
                                          "train_seconds": round(time.perf_counter() - started, 1),
                                          "history": history})
        else:
            stale += 1
            if stale >= settings.patience:
                break
    return {"val_loss": best, "best_epoch": best_epoch, "epochs": len(history),
            "seconds": round(time.perf_counter() - started, 1), "parameters": notes["parameters"],
            "train_frames": notes["train_frames"], "events": len(config.events),
            "recordings": len(episodes)}
