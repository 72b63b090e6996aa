"""Crafter's official score, from the `stats.jsonl` lines that `crafter.Recorder` writes.

The benchmark (Hafner, 2021) rates an agent by the success rate of each of the
22 achievements, s_i in %, over all its episodes (an achievement succeeds in an
episode when it is unlocked at least once), and scores the geometric mean
with an offset of 1%: S = exp(mean_i ln(1 + s_i)) - 1. Published figures to
compare with are in `PUBLISHED`.
"""

from __future__ import annotations

import json
import math
import pathlib
from collections.abc import Iterable, Mapping

# Crafter scores (%) as published: human experts and the random agent from the
# benchmark's paper; the others from their own papers.
PUBLISHED = {
    "Human experts": 50.5,
    "SPRING (GPT-4)": 27.3,
    "Achievement Distillation": 21.8,
    "DreamerV3": 14.5,
    "PPO": 4.6,
    "Random": 1.6,
}
PREFIX = "achievement_"


def success_rates(stats: Iterable[Mapping]) -> dict[str, float]:
    """Per achievement, the % of episodes (stats lines) that unlocked it at least once."""
    lines = list(stats)
    if not lines:
        return {}
    names = sorted(k[len(PREFIX):] for k in lines[0] if k.startswith(PREFIX))
    return {name: 100.0 * sum(1 for s in lines if s.get(PREFIX + name, 0) >= 1) / len(lines)
            for name in names}


def crafter_score(rates: Mapping[str, float]) -> float:
    """The geometric mean of 1 + the success rates (in %), minus 1."""
    if not rates:
        raise ValueError("no success rates to score")
    return math.exp(sum(math.log(1.0 + r) for r in rates.values()) / len(rates)) - 1.0


def read_stats(path: str | pathlib.Path) -> list[dict]:
    """The lines of a `stats.jsonl` written by `crafter.Recorder`."""
    return [json.loads(line) for line in pathlib.Path(path).read_text().splitlines()
            if line.strip()]
