"""Segment files (`mcagent-segments/1`): read any of them, and write them from a recording's skill labels.

SBD writes `<stem>.segments.json` from what it learns; a scripted player's
recordings carry the true skill of every frame, and `label_segments` turns
those labels into the same file (method `labels`), so behaviour cloning can
train before, and be compared with, SBD's segmentation.
"""

from __future__ import annotations

import pathlib

from mcagent.errors import UserError
from mcagent.recordings.format import Recording, scan_recordings
from mcagent.sbd.segments import (SUFFIX, Segment, Segmentation, read_segmentation,
                                  write_segmentation)

__all__ = ["Segment", "Segmentation", "label_segmentation", "label_segments",
           "read_segmentation", "scan_segmentations", "write_segmentation"]


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


def label_segments(recordings: str | pathlib.Path, out: str | pathlib.Path) -> list[pathlib.Path]:
    """Write `<stem>.segments.json` from the skill labels of every recording in a folder."""
    found = scan_recordings(recordings, check_video=False)
    if not found:
        raise UserError(f"no recordings (<stem>.meta.json) in {recordings}")
    return [write_segmentation(label_segmentation(r), out) for r in found]


def scan_segmentations(folder: str | pathlib.Path) -> list[Segmentation]:
    """Every segments file in a folder, read and checked."""
    folder = pathlib.Path(folder)
    paths = sorted(folder.glob(f"*{SUFFIX}"))
    if not paths:
        raise UserError(f"no segments files (*{SUFFIX}) in {folder}")
    return [read_segmentation(p) for p in paths]
