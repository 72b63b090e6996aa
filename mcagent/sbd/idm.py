"""Actions for plain videos: train an inverse dynamics model, and label a video's frames with it.

The inverse dynamics model (IDM) sees frames t and t+1 and names the action
taken between them. It is trained on recordings, where the action is known,
with the same loop as the action model (`train.fit`: validation split by
recording, early stopping, resumable). `label_video` then turns an mp4 with no
action log into an `mcagent-recording/1` recording (`source: external`) that
`mcagent segment` accepts.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from mcagent.errors import UserError
from mcagent.sbd.data import Episode, load_episodes, resize_frames, world_actions
from mcagent.sbd.model import (IDM, InverseDynamicsModel, ModelConfig, build, count_parameters,
                               load_model)
from mcagent.sbd.train import TrainSettings, fit, split


def pair_batches(episodes: Sequence[Episode], batch_size: int,
                 rng: np.random.Generator | None) -> Iterator[dict[str, torch.Tensor]]:
    """Batches of (frame t, frame t+1, action t); shuffled with `rng`, in order without."""
    pairs = np.array([(i, t) for i, e in enumerate(episodes) for t in range(len(e) - 1)],
                     np.int64).reshape(-1, 2)
    if rng is not None:
        pairs = pairs[rng.permutation(len(pairs))]
    for first in range(0, len(pairs), batch_size):
        chunk = pairs[first:first + batch_size]
        before = np.stack([episodes[i].frames[t] for i, t in chunk])
        after = np.stack([episodes[i].frames[t + 1] for i, t in chunk])
        actions = np.array([episodes[i].actions[t] for i, t in chunk], np.int64)
        yield {"before": torch.from_numpy(before), "after": torch.from_numpy(after),
               "actions": torch.from_numpy(actions)}


def idm_loss(model: InverseDynamicsModel, batch: dict) -> tuple[torch.Tensor, int]:
    logits = model(batch["before"], batch["after"])
    return F.cross_entropy(logits, batch["actions"], reduction="sum"), len(batch["actions"])


def accuracy(model: InverseDynamicsModel, episodes: Sequence[Episode]) -> float:
    """Share of the frame pairs whose action the model names right."""
    model.eval()
    right = total = 0
    device = next(model.parameters()).device
    with torch.no_grad():
        for batch in pair_batches(episodes, 256, None):
            logits = model(batch["before"].to(device), batch["after"].to(device))
            right += int((logits.argmax(-1).cpu() == batch["actions"]).sum())
            total += len(batch["actions"])
    return right / max(total, 1)


def train_idm(inputs: Sequence[str | os.PathLike], out_dir: str | os.PathLike,
              settings: TrainSettings = TrainSettings(batch_size=64), progress: bool = False,
              architecture: dict[str, Any] | None = None,
              fresh: bool = False) -> dict[str, Any]:
    """Train the IDM on the recordings named by `inputs`; write the best one to `out_dir`."""
    world, action_names, _ = world_actions(inputs)
    config = ModelConfig(kind=IDM, action_names=action_names, world=world, **(architecture or {}))
    episodes = load_episodes(inputs, action_names, config.frame_size, progress=progress)
    train, val = split(episodes, settings.val_fraction, settings.seed)
    torch.manual_seed(settings.seed)
    model = build(config)
    pairs = sum(len(e) - 1 for e in train)
    per_epoch = math.ceil(pairs / settings.batch_size)
    if settings.max_batches is not None:
        per_epoch = min(per_epoch, settings.max_batches)
    notes = {"train_recordings": [e.name for e in train], "val_recordings": [e.name for e in val],
             "train_pairs": pairs}
    state = fit(model, IDM, out_dir, settings,
                lambda rng: pair_batches(train, settings.batch_size, rng),
                lambda: pair_batches(val, settings.batch_size, None),
                idm_loss, notes, progress=progress, batches_per_epoch=per_epoch, fresh=fresh)
    best, _ = load_model(out_dir, IDM)
    acc = accuracy(best, val)
    from mcagent.sbd.model import update_notes

    update_notes(out_dir, IDM, val_accuracy=acc)
    return {"val_loss": state.best_val, "val_accuracy": acc, "best_epoch": state.best_epoch,
            "epochs": state.epoch, "seconds": state.seconds,
            "parameters": count_parameters(model), "train_pairs": pairs}


def read_video(path: str | os.PathLike) -> tuple[np.ndarray, float]:
    """All frames of a video as (N, H, W, 3) uint8 RGB, and its frame rate."""
    import imageio_ffmpeg

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such video")
    frames = []
    try:
        reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
        meta = next(reader)
        width, height = meta["size"]
        for data in reader:
            frames.append(np.frombuffer(data, np.uint8).reshape(height, width, 3))
    except (RuntimeError, OSError, StopIteration) as err:
        reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise UserError(f"{path}: unreadable video: {reason}") from None
    if not frames:
        raise UserError(f"{path}: the video has no frames")
    return np.stack(frames), float(meta.get("fps") or 10.0)


def predict_actions(model: InverseDynamicsModel, frames: np.ndarray,
                    batch_size: int = 256) -> np.ndarray:
    """The action index between each frame and the next; the last frame's action is
    predicted from the frame paired with itself (nothing follows it)."""
    small = resize_frames(frames, model.config.frame_size)
    after_idx = np.minimum(np.arange(len(small)) + 1, len(small) - 1)
    out = []
    device = next(model.parameters()).device
    with torch.no_grad():
        for first in range(0, len(small), batch_size):
            idx = np.arange(first, min(first + batch_size, len(small)))
            before = torch.from_numpy(small[idx]).to(device)
            after = torch.from_numpy(small[after_idx[idx]]).to(device)
            out.append(model(before, after).argmax(-1).cpu().numpy())
    return np.concatenate(out)


def label_video(video: str | os.PathLike, out_stem: str | os.PathLike | None = None,
                model_dir: str | os.PathLike | None = None) -> Path:
    """Write `<out_stem>.mp4/.jsonl/.meta.json` from a plain video, the actions from the IDM.

    Default `out_stem`: `<video folder>/<video stem>-labelled`, so the source
    video is never overwritten. Returns the stem written.
    """
    from mcagent.recordings.format import write_recording
    from mcagent.sbd.segment import default_model_dir

    video = Path(video)
    model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
    model, _ = load_model(model_dir, IDM)
    frames, fps = read_video(video)
    actions = predict_actions(model, frames)
    stem = Path(out_stem) if out_stem else video.with_name(f"{video.stem}-labelled")
    if stem.with_name(stem.name + ".mp4").resolve() == video.resolve():
        raise UserError(f"{video}: the recording would overwrite the video; choose another --out")
    names = model.config.action_names
    return write_recording(stem, frames, [{"action": names[a]} for a in actions],
                           world=model.config.world, seed=None, fps=fps, action_names=names,
                           source="external")
