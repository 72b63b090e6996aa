"""A picture of the boundary rule on one recording: loss, running mean (or the learned scorer's
probability), boundaries, events."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from mcagent.sbd.boundary import BoundaryResult, BoundaryRule, skill_events
from mcagent.sbd.data import Episode


def plot_trace(episode: Episode, trace: BoundaryResult, rule: BoundaryRule,
               path: str | os.PathLike) -> Path:
    """Write `render_trace`'s picture to `path` (atomically). Returns the path."""
    return write_png(render_trace(episode, trace, rule), path)


def write_png(png: bytes, path: str | os.PathLike) -> Path:
    """Write PNG bytes beside `path` and rename, so a failed run never leaves half a picture."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    tmp.write_bytes(png)
    os.replace(tmp, path)
    return path


def render_trace(episode: Episode, trace: BoundaryResult, rule: BoundaryRule) -> bytes:
    """A PNG: per-frame loss and the segment's running mean, the boundaries found
    (solid), the frames with events (dots), and the true skill changes when the
    recording has skill labels (ticks at the top)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    n = len(episode)
    t = np.arange(n)
    width = min(40.0, max(8.0, n / 60))
    fig, ax = plt.subplots(figsize=(width, 3.9), dpi=100)
    if not np.all(np.isnan(trace.losses)):
        ax.plot(t, trace.losses, lw=0.7, color="tab:blue", label="loss  -log p(a_t | history)")
        if not np.all(np.isnan(trace.running_mean)):
            ax.plot(t, trace.running_mean, lw=1.0, color="tab:orange",
                    label="segment's running mean")
        top = float(np.nanmax(trace.losses))
    else:
        top = 1.0
    for i, b in enumerate(trace.boundaries):
        ax.axvline(b, color="tab:red", lw=0.9, label="boundary" if i == 0 else None)
    event_frames = [i for i, e in enumerate(episode.events) if skill_events(e)]
    if event_frames:
        ax.plot(event_frames, np.full(len(event_frames), -0.05 * top), "o", ms=2.5,
                color="tab:green", label="event")
    if any(s is not None for s in episode.skills):
        changes = [i for i in range(1, n) if episode.skills[i] != episode.skills[i - 1]]
        ax.plot(changes, np.full(len(changes), 1.05 * top), "v", ms=3, color="black",
                label="true skill change")
    ax.set_xlim(0, max(n - 1, 1))
    ax.set_xlabel("frame")
    ax.set_ylabel("nats")
    handles, labels = ax.get_legend_handles_labels()
    if trace.probabilities is not None:
        # The learned mode: the scorer's probability on its own axis, with the threshold.
        right = ax.twinx()
        right.plot(t, trace.probabilities, lw=0.8, color="tab:purple",
                   label="P(skill starts)  (right axis)")
        right.axhline(rule.threshold, color="tab:purple", lw=0.6, ls="--")
        right.set_ylim(-0.05, 1.05)
        right.set_ylabel("probability")
        more = right.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
        setting = f"threshold {rule.threshold:g}"
    else:
        setting = f"gap {rule.gap:g}"
    ax.set_title(f"{episode.name}: sbd-{rule.mode}, {setting}, "
                 f"min length {rule.min_length}, {len(trace.boundaries)} boundaries")
    # Below the axes, where it hides no boundary or true change.
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=7,
              ncol=6, frameon=False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
