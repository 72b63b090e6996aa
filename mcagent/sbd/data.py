"""Recordings as arrays for SBD's models: frames at the model's size, actions as its indices."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from mcagent.errors import UserError
from mcagent.recordings.format import Recording, read_recording, scan_recordings


@dataclasses.dataclass(frozen=True)
class Episode:
    """One recording, decoded."""

    name: str
    frames: np.ndarray                    # (N, H, W, 3) uint8 at the model's frame size
    actions: np.ndarray                   # (N,) int64, indices into the model's action names
    events: tuple[tuple[str, ...] | None, ...]
    skills: tuple[str | None, ...]

    def __len__(self) -> int:
        return len(self.actions)


def label_changes(labels: Sequence[object]) -> list[int]:
    """Frames whose label differs from the frame before (where a skill changes)."""
    return [t for t in range(1, len(labels)) if labels[t] != labels[t - 1]]


def find_recordings(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """The recording stems named by `inputs`: recordings (any of their files) or folders of them."""
    stems: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            metas = sorted(p for p in path.glob("*.meta.json") if not p.name.startswith("."))
            if not metas:
                raise UserError(f"{path}: no recordings (no *.meta.json files)")
            stems += [p.with_name(p.name[: -len(".meta.json")]) for p in metas]
        else:
            for suffix in (".meta.json", ".jsonl", ".mp4"):
                if path.name.endswith(suffix):
                    path = path.with_name(path.name[: -len(suffix)])
                    break
            if not path.with_name(path.name + ".meta.json").is_file():
                raise UserError(f"{item}: not a recording or a folder of recordings "
                                f"(no {path.name}.meta.json)")
            stems.append(path)
    return stems


def action_map(recording: Recording, action_names: Sequence[str], where: str) -> np.ndarray:
    """Index map from the recording's actions to the model's; a clear error when they differ."""
    model_index = {name: i for i, name in enumerate(action_names)}
    unknown = [n for n in recording.meta.action_names if n not in model_index]
    if unknown:
        raise UserError(
            f"{recording.meta_path}: its actions do not match the {where}'s: the recording has "
            f"{', '.join(unknown)}, which the model does not know (the model's actions: "
            f"{', '.join(action_names)}). Use a model trained on this world "
            f"({recording.meta.world}).")
    return np.array([model_index[n] for n in recording.meta.action_names], np.int64)


def resize_frames(frames: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """Frames (N, H, W, 3) at (height, width) = frame_size."""
    if frames.shape[1:3] == tuple(frame_size):
        return frames
    import cv2

    h, w = frame_size
    return np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])


def decode_frames(recording: Recording) -> np.ndarray:
    """The recording's frames (N, H, W, 3) uint8 RGB, decoded by OpenCV in this process.

    Twice as fast as `Recording.frames` (ffmpeg through a pipe), with the same
    pixels. A video OpenCV cannot read whole, or whose frame count or size is
    not the recording's, goes to `Recording.frames`, whose error names the fault.
    """
    import cv2

    height, width = recording.meta.frame_size
    out = np.empty((recording.meta.frames, height, width, 3), np.uint8)
    video = cv2.VideoCapture(str(recording.mp4_path))
    try:
        count = 0
        while video.isOpened() and count < len(out):
            ok, frame = video.read()
            if not ok or frame.shape != out.shape[1:]:
                break
            out[count] = frame[..., ::-1]  # OpenCV gives BGR
            count += 1
        if count == len(out) and not video.read()[0]:
            return out
    finally:
        video.release()
    return recording.frames()


def load_episode(recording: Recording | str | os.PathLike, action_names: Sequence[str],
                 frame_size: tuple[int, int], where: str = "model") -> Episode:
    if not isinstance(recording, Recording):
        # Decoding checks the video's frame count and size; checking them first too would
        # run ffmpeg over the whole video twice more (half the time of a segmentation).
        recording = read_recording(recording, check_video=False)
        if not recording.mp4_path.is_file():
            raise UserError(f"{recording.mp4_path}: missing; a recording is <stem>.mp4 + "
                            f"<stem>.jsonl + <stem>.meta.json")
    mapping = action_map(recording, action_names, where)
    frames = resize_frames(decode_frames(recording), frame_size)
    return Episode(recording.name, frames, mapping[recording.action_indices()],
                   tuple(s.events for s in recording.steps),
                   tuple(s.skill for s in recording.steps))


def load_episodes(inputs: Iterable[str | os.PathLike], action_names: Sequence[str],
                  frame_size: tuple[int, int], progress: bool = False) -> list[Episode]:
    from tqdm import tqdm

    stems = find_recordings(inputs)
    return [load_episode(stem, action_names, frame_size)
            for stem in tqdm(stems, desc="loading", unit="rec", disable=not progress,
                             dynamic_ncols=True)]


def world_actions(inputs: Iterable[str | os.PathLike]) -> tuple[str, tuple[str, ...],
                                                                tuple[int, int]]:
    """The world, action names and frame size that all the recordings share."""
    stems = find_recordings(inputs)
    first = None
    for stem in stems:
        rec = read_recording(stem, check_video=False)
        if first is None:
            first = rec
        elif rec.meta.action_names != first.meta.action_names:
            raise UserError(f"{rec.meta_path}: its action names differ from those of "
                            f"{first.meta_path}; train one model per world")
    if first is None:
        raise UserError("no recordings given")
    return first.meta.world, first.meta.action_names, first.meta.frame_size


__all__ = ["Episode", "action_map", "decode_frames", "find_recordings", "load_episode",
           "load_episodes", "resize_frames", "scan_recordings", "world_actions"]
