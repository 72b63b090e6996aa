"""Gameplay recordings: the mp4 + jsonl + meta format, the players, and recording episodes."""

from mcagent.recordings.format import (FORMAT, Recording, RecordingMeta, RecordingWriter, Step,
                                       read_recording, scan_recordings, write_recording)

__all__ = ["FORMAT", "Recording", "RecordingMeta", "RecordingWriter", "Step", "read_recording",
           "scan_recordings", "write_recording"]
