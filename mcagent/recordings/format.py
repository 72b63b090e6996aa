"""The `mcagent-recording/1` format: write one episode atomically, read and validate it back.

A recording is three files sharing a stem (see FORMATS.md): `<stem>.mp4` (the
frames), `<stem>.jsonl` (one line per frame: the action taken on it and what
it caused) and `<stem>.meta.json` (the episode). `RecordingWriter` streams
frames to ffmpeg and lines to disk under hidden temporary names and moves them
into place only when the episode is complete, the meta file last, so a crash
or Ctrl-C never leaves a half recording that a reader could take for a whole
one. `read_recording` checks that the three files agree before anything uses
them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mcagent.errors import UserError

log = logging.getLogger(__name__)

FORMAT = "mcagent-recording/1"
SUFFIXES = (".meta.json", ".jsonl", ".mp4")

# Crafter's frames are pixel art, which the usual mp4 pixel format (YUV 4:2:0)
# smears: even lossless it is off by 7/255 on average. Full-resolution colour
# (4:4:4) keeps it. Rate control is tuned for fidelity rather than looks
# (no adaptive quantisation or psycho-visual tricks), and B-frames and a wider
# motion search pay off because consecutive frames are mostly the same tiles.
# Measured on the expert's play (benchmarks/recording_io.py): about 600 KiB
# per 1,000 frames (12 MB raw), mean error 1.2/255. OpenCV and imageio read it.
CODEC = "libx264"
PIXEL_FORMAT = "yuv444p"
CRF = 16
X264_PARAMS = "bframes=8:b-adapt=2:me=umh:aq-mode=0:psy=0"


class _Abort(BaseException):
    """Thrown into the ffmpeg writer to kill ffmpeg at once instead of finishing the file."""


@dataclasses.dataclass(frozen=True)
class Step:
    """Line `frame` of a recording's jsonl: the action taken on that frame and what it caused."""

    frame: int
    action: str
    inventory: Mapping[str, int] | None = None   # item counts after the action
    events: tuple[str, ...] | None = None        # what the action caused; () when nothing
    skill: str | None = None                     # the skill being executed, when known

    def to_json(self) -> dict[str, Any]:
        line: dict[str, Any] = {"frame": self.frame, "action": self.action}
        if self.inventory is not None:
            line["inventory"] = {str(k): int(v) for k, v in self.inventory.items()}
        if self.events is not None:
            line["events"] = list(self.events)
        if self.skill is not None:
            line["skill"] = self.skill
        return line


@dataclasses.dataclass(frozen=True)
class RecordingMeta:
    """The contents of `<stem>.meta.json`."""

    world: str
    seed: int | None
    fps: float
    frame_size: tuple[int, int]      # (height, width) of every frame, as in numpy
    frames: int
    action_names: tuple[str, ...]
    source: str                      # "expert", "random", "human", "policy:<ckpt>", "external"
    format: str = FORMAT

    def to_json(self) -> dict[str, Any]:
        return {"format": self.format, "world": self.world, "seed": self.seed, "fps": self.fps,
                "frame_size": list(self.frame_size), "frames": self.frames,
                "action_names": list(self.action_names), "source": self.source}


@dataclasses.dataclass(frozen=True)
class Recording:
    """One validated episode. Frames stay in the mp4 until asked for."""

    stem: Path
    meta: RecordingMeta
    steps: tuple[Step, ...]

    @property
    def mp4_path(self) -> Path:
        return _with_suffix(self.stem, ".mp4")

    @property
    def jsonl_path(self) -> Path:
        return _with_suffix(self.stem, ".jsonl")

    @property
    def meta_path(self) -> Path:
        return _with_suffix(self.stem, ".meta.json")

    @property
    def name(self) -> str:
        return self.stem.name

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(step.action for step in self.steps)

    def action_indices(self) -> np.ndarray:
        """The actions as indices into `meta.action_names`, shape (N,) int64."""
        index = {name: i for i, name in enumerate(self.meta.action_names)}
        return np.array([index[step.action] for step in self.steps], np.int64)

    def iter_frames(self) -> Iterator[np.ndarray]:
        """Decode the frames one by one, each (H, W, 3) uint8 RGB."""
        return _decode(self.mp4_path, self.meta.frame_size, self.meta.frames)

    def frames(self) -> np.ndarray:
        """All frames as one (N, H, W, 3) uint8 array (decoded anew on every call)."""
        height, width = self.meta.frame_size
        out = np.empty((self.meta.frames, height, width, 3), np.uint8)
        for i, frame in enumerate(self.iter_frames()):
            out[i] = frame
        return out


# -- writing ------------------------------------------------------------------

class RecordingWriter:
    """Stream one episode to `<stem>.mp4/.jsonl/.meta.json`, all or nothing.

    Use as a context manager: leaving the block normally commits the recording,
    leaving it by any exception (Ctrl-C included) removes every temporary file
    and leaves whatever was at `stem` before untouched::

        with RecordingWriter(stem, world="crafter", seed=0, fps=10,
                             action_names=env.action_names, source="random") as rec:
            rec.add(obs["image"], action, inventory=..., events=..., skill=...)
    """

    def __init__(self, stem: str | os.PathLike, *, world: str, seed: int | None, fps: float,
                 action_names: Sequence[str], source: str):
        if fps <= 0:
            raise ValueError(f"fps must be positive, not {fps}")
        self.stem = _strip_suffix(Path(stem))
        self.world, self.seed, self.fps, self.source = world, seed, fps, source
        self.action_names = tuple(action_names)
        self._action_index = {name: i for i, name in enumerate(self.action_names)}
        self.frame_size: tuple[int, int] | None = None
        self.frames = 0
        self._state = "open"
        self.stem.parent.mkdir(parents=True, exist_ok=True)
        # Hidden names in the target folder, so the final rename stays on one file system.
        token = secrets.token_hex(4)
        self._tmp = {suffix: _with_suffix(self.stem.parent / f".{self.stem.name}.{token}.partial",
                                          suffix) for suffix in SUFFIXES}
        self._jsonl = open(self._tmp[".jsonl"], "x", encoding="utf-8")
        self._video = None

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            if self._state == "open":
                self.commit()
        else:
            self.abort()

    def add(self, frame: np.ndarray, action: int | str, *,
            inventory: Mapping[str, int] | None = None, events: Iterable[str] | None = None,
            skill: str | None = None) -> None:
        """Append frame `self.frames` and the action taken on it."""
        if self._state != "open":
            raise RuntimeError(f"recording {self.stem} is already {self._state}")
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"a frame must be (H, W, 3) uint8, not {frame.shape} {frame.dtype}")
        if self.frame_size is None:
            self.frame_size = (frame.shape[0], frame.shape[1])
            self._video = self._start_video(self.frame_size)
        elif frame.shape[:2] != self.frame_size:
            raise ValueError(f"frame {self.frames} is {frame.shape[:2]}, the recording is "
                             f"{self.frame_size}")
        if isinstance(action, (int, np.integer)):
            if not 0 <= int(action) < len(self.action_names):
                raise ValueError(f"action {action} is out of range 0..{len(self.action_names) - 1}")
            action = self.action_names[int(action)]
        elif action not in self._action_index:
            raise ValueError(f"action {action!r} is not one of {', '.join(self.action_names)}")
        step = Step(self.frames, action, inventory,
                    None if events is None else tuple(events), skill)
        self._video.send(np.ascontiguousarray(frame))
        self._jsonl.write(json.dumps(step.to_json(), separators=(",", ":")) + "\n")
        self.frames += 1

    def _start_video(self, frame_size: tuple[int, int]):
        import imageio_ffmpeg

        height, width = frame_size
        video = imageio_ffmpeg.write_frames(
            str(self._tmp[".mp4"]), (width, height), pix_fmt_in="rgb24",
            pix_fmt_out=PIXEL_FORMAT, fps=self.fps, codec=CODEC, quality=None, macro_block_size=1,
            ffmpeg_log_level="error",
            output_params=["-f", "mp4", "-crf", str(CRF), "-x264-params", X264_PARAMS])
        video.send(None)
        return video

    def commit(self) -> Path:
        """Finish the files and move them into place, the meta file last. Returns the stem."""
        if self._state != "open":
            raise RuntimeError(f"recording {self.stem} is already {self._state}")
        if self.frames == 0:
            self.abort()
            raise ValueError(f"recording {self.stem} has no frames; nothing written")
        try:
            self._video.close()  # waits for ffmpeg to write the whole file
            self._video = None
            self._jsonl.close()
            written = _count_video_frames(self._tmp[".mp4"])
            if written != self.frames:
                raise RuntimeError(f"ffmpeg wrote {written} frames of {self.frames} to "
                                   f"{self._tmp['.mp4']}")
            meta = RecordingMeta(self.world, self.seed, self.fps, self.frame_size, self.frames,
                                 self.action_names, self.source)
            self._tmp[".meta.json"].write_text(json.dumps(meta.to_json()) + "\n", encoding="utf-8")
            for path in self._tmp.values():
                _fsync(path)
            # Without its meta file an older recording at this stem stops being one
            # before its mp4 and jsonl are replaced.
            final = {suffix: _with_suffix(self.stem, suffix) for suffix in SUFFIXES}
            final[".meta.json"].unlink(missing_ok=True)
            os.replace(self._tmp[".mp4"], final[".mp4"])
            os.replace(self._tmp[".jsonl"], final[".jsonl"])
            os.replace(self._tmp[".meta.json"], final[".meta.json"])
        except BaseException:
            self.abort()
            raise
        self._state = "committed"
        log.debug("wrote %s (%d frames)", self.stem, self.frames)
        return self.stem

    def abort(self) -> None:
        """Stop ffmpeg and remove every temporary file. Safe to call more than once."""
        if self._state == "aborted":
            return
        self._state = "aborted"
        if self._video is not None:
            try:
                self._video.throw(_Abort())
            except (_Abort, StopIteration):
                pass
            self._video = None
        self._jsonl.close()
        for path in self._tmp.values():
            path.unlink(missing_ok=True)


def write_recording(stem: str | os.PathLike, frames: Iterable[np.ndarray],
                    steps: Iterable[Step | Mapping[str, Any]], *, world: str, seed: int | None,
                    fps: float, action_names: Sequence[str], source: str) -> Path:
    """Write a whole episode at once: frame i with step i. Returns the stem."""
    frames, steps = iter(frames), iter(steps)
    with RecordingWriter(stem, world=world, seed=seed, fps=fps, action_names=action_names,
                         source=source) as writer:
        for i, (frame, step) in enumerate(zip(frames, steps, strict=True)):
            if not isinstance(step, Step):
                step = Step(i, step["action"], step.get("inventory"), step.get("events"),
                            step.get("skill"))
            writer.add(frame, step.action, inventory=step.inventory, events=step.events,
                       skill=step.skill)
    return writer.stem


# -- reading ------------------------------------------------------------------

def read_recording(path: str | os.PathLike, *, check_video: bool = True) -> Recording:
    """Read and validate the recording at `path` (its stem or any of its three files).

    Raises `UserError` naming the file at fault: a missing file, bad JSON (with
    the line), an unknown action, an empty recording, an unreadable mp4, or
    frame counts that disagree (with all three). `check_video=False` skips
    opening the mp4, for a quick look at the actions alone.
    """
    stem = _strip_suffix(Path(path))
    meta = _read_meta(_with_suffix(stem, ".meta.json"))
    steps = _read_jsonl(_with_suffix(stem, ".jsonl"), meta.action_names)
    if meta.frames == 0 and not steps:
        raise UserError(f"{_with_suffix(stem, '.meta.json')}: empty recording (0 frames); "
                        f"delete it or record it again")
    mp4 = _with_suffix(stem, ".mp4")
    if check_video or len(steps) != meta.frames:
        if not mp4.is_file():
            raise UserError(f"{mp4}: missing; a recording is <stem>.mp4 + <stem>.jsonl + "
                            f"<stem>.meta.json")
        video_frames = _count_video_frames_or_fail(mp4)
        if not video_frames == len(steps) == meta.frames:
            raise UserError(
                f"{stem}: the frame counts disagree: {mp4.name} has {video_frames} frames, "
                f"{stem.name}.jsonl has {len(steps)} lines, {stem.name}.meta.json says "
                f"frames={meta.frames}")
        if check_video:
            size = _video_size(mp4)
            if size != meta.frame_size:
                raise UserError(f"{mp4}: frames are {size[0]}x{size[1]} (height x width), "
                                f"{stem.name}.meta.json says frame_size={list(meta.frame_size)}")
    return Recording(stem, meta, tuple(steps))


def scan_recordings(folder: str | os.PathLike, *, check_video: bool = True) -> list[Recording]:
    """Read every recording in `folder` (each `<stem>.meta.json`), sorted by name.

    A recording that fails validation stops the scan with its `UserError`;
    hidden files (a writer's temporary files) are not recordings.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: not a folder of recordings")
    metas = sorted(p for p in folder.glob("*.meta.json") if not p.name.startswith("."))
    if not metas:
        raise UserError(f"{folder}: no recordings (no *.meta.json files)")
    return [read_recording(p, check_video=check_video) for p in metas]


def read_json_object(path: Path, missing_hint: str = "") -> dict[str, Any]:
    """The JSON object in `path`; `UserError` for a missing file, bad JSON or another value."""
    if not path.is_file():
        raise UserError(f"{path}: missing{missing_hint}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: must hold one JSON object")
    return data


def _read_meta(path: Path) -> RecordingMeta:
    data = read_json_object(
        path, "; a recording is <stem>.mp4 + <stem>.jsonl + <stem>.meta.json")
    fmt = data.get("format")
    if fmt != FORMAT:
        raise UserError(f"{path}: format {fmt!r} is not {FORMAT!r}, the one this mcagent reads")
    missing = [k for k in ("world", "fps", "frame_size", "frames", "action_names", "source")
               if k not in data]
    if missing:
        raise UserError(f"{path}: missing {', '.join(missing)}")

    def bad(key: str, want: str) -> UserError:
        return UserError(f"{path}: {key} must be {want}, not {data[key]!r}")

    names = data["action_names"]
    if (not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names)
            or len(set(names)) != len(names)):
        raise bad("action_names", "a non-empty list of distinct names")
    size = data["frame_size"]
    if (not isinstance(size, list) or len(size) != 2
            or not all(isinstance(v, int) and v > 0 for v in size)):
        raise bad("frame_size", "[height, width] in pixels")
    if not isinstance(data["frames"], int) or data["frames"] < 0:
        raise bad("frames", "a count")
    if not isinstance(data["fps"], (int, float)) or data["fps"] <= 0:
        raise bad("fps", "a positive number")
    seed = data.get("seed")
    if seed is not None and not isinstance(seed, int):
        raise bad("seed", "an integer or null")
    for key in ("world", "source"):
        if not isinstance(data[key], str):
            raise bad(key, "a string")
    return RecordingMeta(data["world"], seed, data["fps"], (size[0], size[1]), data["frames"],
                         tuple(names), data["source"])


def _read_jsonl(path: Path, action_names: Sequence[str]) -> list[Step]:
    if not path.is_file():
        raise UserError(f"{path}: missing; a recording is <stem>.mp4 + <stem>.jsonl + "
                        f"<stem>.meta.json")
    known = set(action_names)
    steps = []
    with open(path, "rb") as lines:
        for lineno, data in enumerate(lines, 1):
            where = f"{path}, line {lineno}"
            try:
                line = json.loads(data)
            except json.JSONDecodeError as err:
                raise UserError(f"{where}: not valid JSON: {err.msg} "
                                f"(column {err.colno})") from None
            except UnicodeDecodeError:
                raise UserError(f"{where}: not UTF-8 text") from None
            if not isinstance(line, dict):
                raise UserError(f"{where}: must be a JSON object")
            frame = lineno - 1
            if line.get("frame", frame) != frame:
                raise UserError(f"{where}: says frame {line['frame']!r}, but line {lineno} is "
                                f"frame {frame} (one line per frame, in order, from frame 0)")
            action = line.get("action")
            if action not in known:
                what = ("has no action" if action is None
                        else f"action {action!r} is not in action_names")
                raise UserError(f"{where}: {what} (valid: {', '.join(action_names)})")
            inventory = line.get("inventory")
            if inventory is not None and not (
                    isinstance(inventory, dict)
                    and all(isinstance(v, int) for v in inventory.values())):
                raise UserError(f"{where}: inventory must map item names to counts")
            events = line.get("events")
            if events is not None and not (
                    isinstance(events, list) and all(isinstance(e, str) for e in events)):
                raise UserError(f"{where}: events must be a list of names")
            skill = line.get("skill")
            if skill is not None and not isinstance(skill, str):
                raise UserError(f"{where}: skill must be a name or null")
            steps.append(Step(frame, action, inventory,
                              None if events is None else tuple(events), skill))
    return steps


# -- video helpers ------------------------------------------------------------

def _count_video_frames(path: Path) -> int:
    import imageio_ffmpeg

    return imageio_ffmpeg.count_frames_and_secs(str(path))[0]


def _ffmpeg_reason(err: Exception) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[-1] if lines else type(err).__name__


def _count_video_frames_or_fail(path: Path) -> int:
    try:
        return _count_video_frames(path)
    except (RuntimeError, OSError) as err:
        raise UserError(f"{path}: unreadable video (truncated or not an mp4?): "
                        f"{_ffmpeg_reason(err)}") from None


def _video_size(path: Path) -> tuple[int, int]:
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    try:
        width, height = next(reader)["size"]
    except (RuntimeError, OSError) as err:
        raise UserError(f"{path}: unreadable video: {_ffmpeg_reason(err)}") from None
    finally:
        reader.close()
    return (height, width)


def _decode(path: Path, frame_size: tuple[int, int], frames: int) -> Iterator[np.ndarray]:
    import imageio_ffmpeg

    height, width = frame_size
    count = 0
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    try:
        size = tuple(next(reader)["size"])
        if size != (width, height):
            raise UserError(f"{path}: frames are {size[1]}x{size[0]} (height x width), the "
                            f"meta file says frame_size={[height, width]}")
        for data in reader:
            yield np.frombuffer(data, np.uint8).reshape(height, width, 3)
            count += 1
    except (RuntimeError, OSError) as err:
        raise UserError(f"{path}: unreadable video: {_ffmpeg_reason(err)}") from None
    finally:
        reader.close()
    if count != frames:
        raise UserError(f"{path}: decoded {count} frames, the recording has {frames}")


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _strip_suffix(path: Path) -> Path:
    for suffix in SUFFIXES:
        if path.name.endswith(suffix):
            return path.with_name(path.name[: -len(suffix)])
    return path


def _with_suffix(stem: Path, suffix: str) -> Path:
    return stem.with_name(stem.name + suffix)
