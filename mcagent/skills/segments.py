"""Segment files (`mcagent-segments/1`): read any of them, and write them from a recording's skill labels.

SBD writes `<stem>.segments.json` from what it learns; a scripted player's
recordings carry the true skill of every frame, and `label_segments` turns
those labels into the same file (method `labels`), so behaviour cloning can
train before, and be compared with, SBD's segmentation.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

from mcagent.errors import UserError
from mcagent.recordings.format import Recording, scan_recordings
from mcagent.skills.files import read_versioned_json, write_atomic

SEGMENTS_FORMAT = "mcagent-segments/1"
SUFFIX = ".segments.json"


@dataclasses.dataclass(frozen=True)
class Segment:
    start: int          # inclusive frame index
    end: int            # inclusive frame index
    skill: str | None


@dataclasses.dataclass(frozen=True)
class Segmentation:
    video: str
    method: str
    frames: int
    segments: tuple[Segment, ...]
    path: pathlib.Path | None = None

    def to_json(self) -> dict:
        return {"format": SEGMENTS_FORMAT, "video": self.video, "method": self.method,
                "frames": self.frames,
                "segments": [dataclasses.asdict(s) for s in self.segments]}


def label_segmentation(recording: Recording) -> Segmentation:
    """Cut a recording where its `skill` label changes; unlabelled frames get skill None."""
    segments: list[Segment] = []
    start = 0
    labels = [step.skill for step in recording.steps]
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            segments.append(Segment(start, i - 1, labels[start]))
            start = i
    return Segmentation(recording.name, "labels", len(labels), tuple(segments))


def write_segmentation(segmentation: Segmentation, folder: str | pathlib.Path) -> pathlib.Path:
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{segmentation.video}{SUFFIX}"
    write_atomic(path, json.dumps(segmentation.to_json()) + "\n")
    return path


def label_segments(recordings: str | pathlib.Path, out: str | pathlib.Path) -> list[pathlib.Path]:
    """Write `<stem>.segments.json` from the skill labels of every recording in a folder."""
    found = scan_recordings(recordings, check_video=False)
    if not found:
        raise UserError(f"no recordings (<stem>.meta.json) in {recordings}")
    return [write_segmentation(label_segmentation(r), out) for r in found]


def read_segmentation(path: str | pathlib.Path) -> Segmentation:
    """Read and check one segments file: in order, contiguous, covering every frame once."""
    path = pathlib.Path(path)
    data = read_versioned_json(path, "segments file", SEGMENTS_FORMAT)
    try:
        frames = int(data["frames"])
        segments = tuple(Segment(int(s["start"]), int(s["end"]), s.get("skill"))
                         for s in data["segments"])
        video = str(data["video"])
    except (KeyError, TypeError, ValueError) as error:
        raise UserError(f"{path}: malformed segments file ({error!r})") from error
    expect = 0
    for i, seg in enumerate(segments):
        if seg.start != expect or seg.end < seg.start:
            raise UserError(f"{path}: segment {i} is [{seg.start}, {seg.end}]; segments must be "
                            f"contiguous and in order, so it should start at frame {expect}")
        expect = seg.end + 1
    if expect != frames:
        raise UserError(f"{path}: segments cover frames 0..{expect - 1}, but frames is {frames}")
    return Segmentation(video, str(data.get("method", "")), frames, segments, path)


def scan_segmentations(folder: str | pathlib.Path) -> list[Segmentation]:
    folder = pathlib.Path(folder)
    paths = sorted(folder.glob(f"*{SUFFIX}"))
    if not paths:
        raise UserError(f"no segments files (*{SUFFIX}) in {folder}")
    return [read_segmentation(p) for p in paths]
