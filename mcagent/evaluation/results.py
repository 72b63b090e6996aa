"""The results file of an evaluation: one JSON record per finished episode, appended as it ends.

`results.jsonl` is the evaluation's only state. A run that stops (Ctrl-C, a
killed process, a lost node) leaves every finished episode in it; the next run
reads it, skips those episodes and plays the rest. A record is written whole
with one `write` and flushed; a last line cut off by a kill is dropped (and
cut from the file) when the file is opened again, so it is played once more.
Records are keyed by agent, task and seed: a key already present is never
written twice.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib

from mcagent.errors import UserError

log = logging.getLogger(__name__)

RESULTS_NAME = "results.jsonl"
PLAN_NAME = "plan.json"
PLAN_FORMAT = "mcagent-eval-plan/1"


def read_results(path: str | pathlib.Path, repair: bool = False) -> list[dict]:
    """The records of a results file, first of each key only; a torn last line is
    skipped (and, with `repair`, cut from the file)."""
    path = pathlib.Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    records, seen, good_end = [], set(), 0
    offset = 0
    for number, line in enumerate(data.split(b"\n"), start=1):
        end = offset + len(line) + 1
        if line.strip():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                if end >= len(data):     # the last line, cut off by a kill
                    log.warning("%s: line %d is incomplete; dropped", path, number)
                    break
                raise UserError(f"{path}: line {number} is not JSON; the file is damaged "
                                f"(move it aside to start again)") from None
            if "key" not in record:
                raise UserError(f"{path}: line {number} has no 'key'; not an mcagent results file")
            if record["key"] not in seen:
                seen.add(record["key"])
                records.append(record)
        good_end = min(end, len(data))
        offset = end
    if repair and good_end < len(data):
        with open(path, "r+b") as stream:
            stream.truncate(good_end)
    return records


class ResultsFile:
    """Appends records to `<out>/results.jsonl`, one key once."""

    def __init__(self, out: str | pathlib.Path):
        self.path = pathlib.Path(out) / RESULTS_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.records = read_results(self.path, repair=True)
        self.keys = {r["key"] for r in self.records}
        if self.path.exists() and self.path.stat().st_size and not self.path.read_bytes().endswith(b"\n"):
            with open(self.path, "ab") as stream:
                stream.write(b"\n")

    def __contains__(self, key: str) -> bool:
        return key in self.keys

    def add(self, record: dict) -> bool:
        """Append `record`; False (and nothing written) when its key is already there."""
        if record["key"] in self.keys:
            return False
        line = (json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n").encode()
        with open(self.path, "ab") as stream:
            stream.write(line)
            stream.flush()
            os.fsync(stream.fileno())
        self.keys.add(record["key"])
        self.records.append(record)
        return True


# How a skill run that did not succeed ended, as `skill_ends` counts it (and the report's
# column for each, in this order).
SKILL_ENDS = {"interrupted": "int.", "death": "died", "budget": "budget", "other": "other"}


def skill_end(why: str) -> str:
    """The kind of a `skill_failed` event's `why`: "budget", "death" or "other"."""
    if why == "budget":
        return "budget"
    return "death" if "death" in why else "other"
