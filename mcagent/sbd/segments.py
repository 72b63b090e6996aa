"""The `mcagent-segments/1` format: a recording cut into contiguous, named segments."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mcagent.errors import UserError
from mcagent.recordings.format import read_json_object

FORMAT = "mcagent-segments/1"
SUFFIX = ".segments.json"


@dataclasses.dataclass(frozen=True)
class Segment:
    """Frames `start`..`end` (both included) of a recording, and the skill they show."""

    start: int
    end: int
    skill: str | None = None

    def __len__(self) -> int:
        return self.end - self.start + 1


@dataclasses.dataclass(frozen=True)
class Segmentation:
    """One recording's segments: in order, contiguous, covering frames 0..frames-1 once."""

    video: str
    method: str
    frames: int
    segments: tuple[Segment, ...]

    def __post_init__(self):
        problem = _check(self.frames, self.segments)
        if problem:
            raise ValueError(problem)

    @property
    def boundaries(self) -> list[int]:
        return [s.start for s in self.segments[1:]]

    @classmethod
    def from_boundaries(cls, video: str, method: str, frames: int, boundaries: Sequence[int],
                        skills: Sequence[str | None] | None = None) -> Segmentation:
        """Segments between boundaries (the first frames of all segments but the first)."""
        starts = [0, *sorted(set(int(b) for b in boundaries))]
        ends = [b - 1 for b in starts[1:]] + [frames - 1]
        skills = skills if skills is not None else [None] * len(starts)
        if len(skills) != len(starts):
            raise ValueError(f"{len(skills)} skill names for {len(starts)} segments")
        return cls(video, method, frames,
                   tuple(Segment(s, e, k) for s, e, k in zip(starts, ends, skills)))

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "video": self.video, "method": self.method,
                "frames": self.frames,
                "segments": [{"start": s.start, "end": s.end, "skill": s.skill}
                             for s in self.segments]}


def _check(frames: int, segments: Sequence[Segment]) -> str | None:
    if not isinstance(frames, int) or frames < 1:
        return f"frames must be a positive count, not {frames!r}"
    if not segments:
        return "no segments; a segmentation covers every frame"
    expected = 0
    for i, s in enumerate(segments):
        if s.start != expected:
            return (f"segment {i} starts at frame {s.start}, expected {expected} "
                    f"(segments are in order and contiguous from frame 0)")
        if s.end < s.start:
            return f"segment {i} ends at {s.end}, before its start {s.start}"
        if s.skill is not None and not isinstance(s.skill, str):
            return f"segment {i}: skill must be a name or null, not {s.skill!r}"
        expected = s.end + 1
    if expected != frames:
        return f"the segments cover frames 0..{expected - 1}, but the recording has {frames}"
    return None


def segments_path(out_dir: str | os.PathLike, video: str) -> Path:
    return Path(out_dir) / f"{video}{SUFFIX}"


def write_segmentation(seg: Segmentation, out_dir: str | os.PathLike) -> Path:
    """Write `<out_dir>/<video>.segments.json` atomically. Returns its path."""
    path = segments_path(out_dir, seg.video)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(seg.to_json(), indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_segmentation(path: str | os.PathLike) -> Segmentation:
    """Read and validate a `.segments.json`; `UserError` names the file and the fault."""
    path = Path(path)
    data = read_json_object(path)
    if data.get("format") != FORMAT:
        raise UserError(f"{path}: format {data.get('format')!r} is not {FORMAT!r}")
    missing = [k for k in ("video", "method", "frames", "segments") if k not in data]
    if missing:
        raise UserError(f"{path}: missing {', '.join(missing)}")
    if not isinstance(data["segments"], list):
        raise UserError(f"{path}: segments must be a list")
    segments = []
    for i, s in enumerate(data["segments"]):
        if (not isinstance(s, dict) or not isinstance(s.get("start"), int)
                or not isinstance(s.get("end"), int)):
            raise UserError(f"{path}: segment {i} must be an object with integer start and end")
        segments.append(Segment(s["start"], s["end"], s.get("skill")))
    problem = _check(data["frames"], segments)
    if problem:
        raise UserError(f"{path}: {problem}")
    return Segmentation(str(data["video"]), str(data["method"]), data["frames"], tuple(segments))
