"""Train SBD's action-prediction model on recordings: windows of play, action NLL, early stopping.

The model sees a window of frames from its start, with empty memory and a start
token for the previous action, exactly as the segmenter runs it from a segment's
first frame after a boundary. Recordings are split by recording into training
and validation sets; the validation loss decides early stopping and which
weights are kept. After every epoch the run's full state (weights, optimiser,
counters) is written beside the output, so `train` run again with the same
output folder resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mcagent.errors import UserError
from mcagent.sbd.data import Episode, label_changes, load_episodes, world_actions
from mcagent.sbd.model import (ACTION_MODEL, ModelConfig, build, count_parameters, load_model,
                               pick_device, save_model)

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """How a model is trained. Defaults suit a few dozen expert recordings on a laptop CPU."""

    epochs: int = 30             # at most this many passes over the training frames
    patience: int = 4            # stop after this many epochs without a better validation loss
    batch_size: int = 16         # windows per batch
    window: int = 64             # frames per window (the model's memory starts empty at each)
    lr: float = 1e-3             # Adam's learning rate
    weight_decay: float = 1e-5
    val_fraction: float = 0.2    # share of the recordings held out for validation (at least one)
    seed: int = 0                # split, window positions and initial weights
    max_batches: int | None = None  # cap on batches per epoch (tests, quick runs)
    device: str | None = None    # "cpu", "cuda", ...; default: a GPU when there is one
    threads: int | None = None   # CPU threads for torch; 1 keeps a crowded machine responsive
    within_skills: bool = False  # windows never cross a labelled skill change (needs labels)
    init: str | None = None      # start from the weights of the action model in this folder


@dataclasses.dataclass
class RunState:
    """What a run has done so far; saved after every epoch."""

    epoch: int = 0
    best_val: float = math.inf
    best_epoch: int = -1
    stale: int = 0
    seconds: float = 0.0
    history: list = dataclasses.field(default_factory=list)


def split(episodes: Sequence[Episode], fraction: float, seed: int) -> tuple[list, list]:
    """Training and validation episodes, split by recording."""
    if len(episodes) < 2:
        raise UserError(f"training needs at least 2 recordings (one held out for validation), "
                        f"got {len(episodes)}")
    order = np.random.default_rng(seed).permutation(len(episodes))
    n_val = min(len(episodes) - 1, max(1, round(fraction * len(episodes))))
    val = sorted(order[:n_val])
    return ([e for i, e in enumerate(episodes) if i not in set(val)],
            [episodes[i] for i in val])


# -- batches ------------------------------------------------------------------

def skill_runs(episode: Episode) -> list[tuple[int, int]]:
    """(start, end) of each run of one `skill` label in a recording."""
    starts = [0, *label_changes(episode.skills)]
    return list(zip(starts, starts[1:] + [len(episode)]))


def window_spots(episodes: Sequence[Episode], settings: TrainSettings,
                 rng: np.random.Generator | None) -> list[tuple[int, int, int]]:
    """(episode, first frame, length) of each window of an epoch.

    With `rng`: random windows covering about the frames once; without: each
    episode cut into consecutive windows (validation). With `within_skills`, a
    window never runs past the end of its skill, so the model learns how a skill
    goes on and never how a player switches to the next one.
    """
    T = settings.window
    if settings.within_skills:
        unlabelled = [e.name for e in episodes if all(s is None for s in e.skills)]
        if unlabelled:
            raise UserError(f"within-skill windows need skill labels; these recordings have "
                            f"none: {', '.join(unlabelled[:5])}")
        spots = [(i, s, min(T, end - s)) for i, e in enumerate(episodes)
                 for start, end in skill_runs(e) for s in range(start, end, T)]
        if rng is not None:
            spots = [spots[k] for k in rng.permutation(len(spots))]
            # Like lengths in a batch, so that short skills do not pad out long windows; then
            # the batches in random order.
            group, B = settings.batch_size * 8, settings.batch_size
            spots = [spot for g in range(0, len(spots), group)
                     for spot in sorted(spots[g:g + group], key=lambda x: x[2])]
            batches = [spots[k:k + B] for k in range(0, len(spots), B)]
            spots = [spot for k in rng.permutation(len(batches)) for spot in batches[k]]
        return spots
    if rng is None:
        return [(i, s, min(T, len(e) - s)) for i, e in enumerate(episodes)
                for s in range(0, len(e), T)]
    total = sum(len(e) for e in episodes)
    weights = np.array([len(e) for e in episodes], np.float64)
    picks = rng.choice(len(episodes), size=max(1, math.ceil(total / T)), p=weights / total)
    spots = [(int(i), int(rng.integers(0, max(1, len(episodes[i]) - T + 1)))) for i in picks]
    return [(i, s, min(T, len(episodes[i]) - s)) for i, s in spots]


def window_batches(episodes: Sequence[Episode], settings: TrainSettings, n_actions: int,
                   rng: np.random.Generator | None) -> Iterator[dict[str, torch.Tensor]]:
    """Batches of the windows of `window_spots`, padded to the longest and masked."""
    spots = window_spots(episodes, settings, rng)
    for first in range(0, len(spots), settings.batch_size):
        chunk = spots[first:first + settings.batch_size]
        B, T = len(chunk), max(n for _, _, n in chunk)
        h, w = episodes[0].frames.shape[1:3]
        frames = np.zeros((B, T, h, w, 3), np.uint8)
        actions = np.zeros((B, T), np.int64)
        mask = np.zeros((B, T), bool)
        for b, (i, s, n) in enumerate(chunk):
            e = episodes[i]
            frames[b, :n] = e.frames[s:s + n]
            actions[b, :n] = e.actions[s:s + n]
            mask[b, :n] = True
        prev = np.concatenate([np.full((B, 1), n_actions), actions[:, :-1]], axis=1)
        yield {"frames": torch.from_numpy(frames), "prev": torch.from_numpy(prev),
               "actions": torch.from_numpy(actions), "mask": torch.from_numpy(mask)}


def action_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Summed NLL of the actions in a batch, and the number of frames it covers."""
    logits, _ = model(batch["frames"], batch["prev"])
    nll = F.cross_entropy(logits.flatten(0, 1), batch["actions"].flatten(), reduction="none")
    mask = batch["mask"].flatten().float()
    return (nll * mask).sum(), int(mask.sum())


# -- the loop -------------------------------------------------------------------

def fit(model: nn.Module, name: str, out_dir: str | os.PathLike, settings: TrainSettings,
        train_batches: Callable[[np.random.Generator], Iterator[dict]],
        val_batches: Callable[[], Iterator[dict]],
        loss_fn: Callable[[nn.Module, dict], tuple[torch.Tensor, int]],
        notes: dict[str, Any], progress: bool = False, batches_per_epoch: int | None = None,
        fresh: bool = False) -> RunState:
    """Train with early stopping on the validation loss, resuming a run left in `out_dir`.

    Keeps the best weights at `<out_dir>/<name>.safetensors/.json` and the run's
    state at `<out_dir>/.train/<name>.*`, so that a run stopped at any point, or
    run again with more epochs, goes on from its last epoch. `fresh` forgets it.
    """
    from tqdm import tqdm

    device = pick_device(settings.device)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    model.to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.lr,
                                  weight_decay=settings.weight_decay)
    state_dir = Path(out_dir) / ".train"
    if fresh:
        for path in _run_paths(state_dir, name):
            path.unlink(missing_ok=True)
    state = _resume(model, optimiser, state_dir, name, settings)

    def to_device(batch):
        return {k: v.to(device, non_blocking=True) for k, v in batch.items()}

    def evaluate() -> float:
        model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for batch in val_batches():
                loss, n = loss_fn(model, to_device(batch))
                total, count = total + float(loss), count + n
        model.train()
        return total / max(count, 1)

    per_epoch = batches_per_epoch or 0
    bar = tqdm(total=settings.epochs * per_epoch or None, initial=state.epoch * per_epoch,
               desc=name, unit="batch", disable=not progress, dynamic_ncols=True)
    try:
        while state.epoch < settings.epochs and state.stale < settings.patience:
            started = time.perf_counter()
            rng = np.random.default_rng([settings.seed, state.epoch])
            model.train()
            total, count = 0.0, 0
            for i, batch in enumerate(train_batches(rng)):
                if settings.max_batches is not None and i >= settings.max_batches:
                    break
                loss, n = loss_fn(model, to_device(batch))
                optimiser.zero_grad(set_to_none=True)
                (loss / max(n, 1)).backward()
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimiser.step()
                total, count = total + loss.item(), count + n
                bar.update(1)
                bar.set_postfix(epoch=state.epoch + 1, train=f"{total / max(count, 1):.3f}",
                                best_val=f"{state.best_val:.3f}")
            val = evaluate()
            state.epoch += 1
            state.seconds += time.perf_counter() - started
            state.history.append({"epoch": state.epoch, "train_loss": total / max(count, 1),
                                  "val_loss": val, "seconds": round(state.seconds, 1)})
            log.info("%s epoch %d: train %.4f val %.4f", name, state.epoch,
                     total / max(count, 1), val)
            if val < state.best_val - 1e-4:
                state.best_val, state.best_epoch, state.stale = val, state.epoch, 0
                save_model(model, out_dir, name, notes={
                    **notes, "val_loss": val, "epoch": state.epoch,
                    "train_seconds": round(state.seconds, 1), "history": state.history,
                    "parameters": count_parameters(model),
                    "settings": dataclasses.asdict(settings)})
            else:
                state.stale += 1
            _save_run(model, optimiser, state, state_dir, name, settings)
    finally:
        bar.close()
    if state.best_epoch < 0:
        raise UserError(f"{name}: training ran no epoch; nothing saved in {out_dir}")
    return state


def _run_paths(state_dir: Path, name: str) -> tuple[Path, Path]:
    return state_dir / f"{name}.safetensors", state_dir / f"{name}.json"


def _save_run(model, optimiser, state: RunState, state_dir: Path, name: str,
              settings: TrainSettings) -> None:
    """The run's state as safetensors (weights and Adam's moments) + JSON (the rest)."""
    from safetensors.torch import save_file

    state_dir.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt = optimiser.state_dict()
    for index, slots in opt["state"].items():
        for key, value in slots.items():
            tensors[f"optim.{index}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    weights, meta = _run_paths(state_dir, name)
    save_file(tensors, str(weights) + ".partial")
    os.replace(str(weights) + ".partial", weights)
    meta.write_text(json.dumps({"state": dataclasses.asdict(state),
                                "settings": dataclasses.asdict(settings),
                                "param_groups": opt["param_groups"]}) + "\n", encoding="utf-8")


def _resume(model, optimiser, state_dir: Path, name: str, settings: TrainSettings) -> RunState:
    from safetensors.torch import load_file

    weights, meta = _run_paths(state_dir, name)
    if not (weights.is_file() and meta.is_file()):
        return RunState()
    data = json.loads(meta.read_text(encoding="utf-8"))
    saved = data["settings"]
    mine = dataclasses.asdict(settings)
    free = ("epochs", "patience", "device", "max_batches", "threads")
    defaults = dataclasses.asdict(TrainSettings())  # a run saved before a setting existed
    differ = [k for k in mine if k not in free and saved.get(k, defaults[k]) != mine[k]]
    if differ:
        raise UserError(f"{state_dir}: holds a run with other settings ({', '.join(differ)}); "
                        f"pass --fresh (or delete {state_dir}) to start afresh")
    tensors = load_file(str(weights))
    try:
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    except RuntimeError:
        raise UserError(f"{weights}: a run of another model architecture; pass --fresh "
                        f"(or delete {state_dir}) to start afresh") from None
    opt_state: dict = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, slot = key.split(".", 2)
            opt_state.setdefault(int(index), {})[slot] = value
    optimiser.load_state_dict({"state": opt_state, "param_groups": data["param_groups"]})
    state = RunState(**data["state"])
    log.info("resuming %s after epoch %d (best val %.4f)", name, state.epoch, state.best_val)
    return state


# -- the action model -----------------------------------------------------------

def unigram_loss(train: Sequence[Episode], val: Sequence[Episode], n_actions: int) -> float:
    """Validation NLL of always predicting the training set's action frequencies."""
    counts = np.bincount(np.concatenate([e.actions for e in train]), minlength=n_actions) + 1.0
    logp = np.log(counts / counts.sum())
    return float(-np.mean(np.concatenate([logp[e.actions] for e in val])))


def train_action_model(inputs: Sequence[str | os.PathLike], out_dir: str | os.PathLike,
                       settings: TrainSettings = TrainSettings(), progress: bool = False,
                       architecture: dict[str, Any] | None = None,
                       fresh: bool = False) -> dict[str, Any]:
    """Train on the recordings named by `inputs`; write the best model to `out_dir`.

    Returns the figures of the run (losses, time, size).
    """
    world, action_names, _ = world_actions(inputs)
    config = ModelConfig(kind=ACTION_MODEL, action_names=action_names, world=world,
                         **(architecture or {}))
    start = None
    if settings.init is not None:
        if architecture:
            raise UserError(f"init {settings.init}: a model started from another has that "
                            f"model's architecture; give no architecture beside it")
        start, _ = load_model(settings.init, ACTION_MODEL)
        if tuple(start.config.action_names) != tuple(action_names):
            raise UserError(f"init {settings.init}: its model has the actions "
                            f"{', '.join(start.config.action_names)}; the recordings have "
                            f"{', '.join(action_names)}")
        config = start.config
    episodes = load_episodes(inputs, config.action_names, config.frame_size, progress=progress)
    train, val = split(episodes, settings.val_fraction, settings.seed)
    torch.manual_seed(settings.seed)
    model = build(config)
    if start is not None:
        model.load_state_dict(start.state_dict())
    n = len(action_names)
    frames = sum(len(e) for e in train)
    per_epoch = math.ceil(len(window_spots(train, settings, None)) / settings.batch_size)
    if settings.max_batches is not None:
        per_epoch = min(per_epoch, settings.max_batches)
    notes = {"train_recordings": [e.name for e in train], "val_recordings": [e.name for e in val],
             "train_frames": frames, "unigram_val_loss": unigram_loss(train, val, n)}
    state = fit(model, ACTION_MODEL, out_dir, settings,
                lambda rng: window_batches(train, settings, n, rng),
                lambda: window_batches(val, settings, n, None),
                action_loss, notes, progress=progress, batches_per_epoch=per_epoch, fresh=fresh)
    return {"val_loss": state.best_val, "best_epoch": state.best_epoch, "epochs": state.epoch,
            "seconds": state.seconds, "parameters": count_parameters(model),
            "unigram_val_loss": notes["unigram_val_loss"], "train_frames": frames,
            "recordings": len(episodes)}
