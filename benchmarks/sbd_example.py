"""Draw the README's example: `segment --plot`'s picture of one recording, cut to a window of frames.

A whole recording of a few thousand frames is too dense to read at README width, so this
draws frames START..END only (the segmentation itself runs over the whole recording, as
`mcagent segment` does).

    python benchmarks/sbd_example.py RECORDING --mode learned --frames 0 300 --out benchmarks/sbd_example.png
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from mcagent.sbd.boundary import MODES, BoundaryResult
from mcagent.sbd.data import load_episode
from mcagent.sbd.model import ACTION_MODEL, load_model
from mcagent.sbd.plots import render_trace, write_png
from mcagent.sbd.scorer import load_scorer
from mcagent.sbd.segment import default_model_dir, rule_for, segment_episode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recording")
    parser.add_argument("--mode", default="learned", choices=MODES)
    parser.add_argument("--frames", nargs=2, type=int, default=(0, 300), metavar=("START", "END"))
    parser.add_argument("--model", default=None, help="model folder (default checkpoints/sbd)")
    parser.add_argument("--out", default="benchmarks/sbd_example.png")
    args = parser.parse_args()
    model_dir = Path(args.model) if args.model else default_model_dir()
    model, _ = load_model(model_dir, ACTION_MODEL)
    scorer = load_scorer(model_dir)[0] if args.mode == "learned" else None
    rule = rule_for(model_dir, args.mode)
    episode = load_episode(args.recording, model.config.action_names, model.config.frame_size)
    _, trace = segment_episode(episode, model, rule, scorer)
    a, b = args.frames
    window = dataclasses.replace(episode, name=f"{episode.name} frames {a}-{b - 1}",
                                 frames=episode.frames[a:b], actions=episode.actions[a:b],
                                 events=episode.events[a:b], skills=episode.skills[a:b])
    cut = BoundaryResult(tuple(t - a for t in trace.boundaries if a <= t < b),
                         trace.losses[a:b], trace.running_mean[a:b],
                         tuple(t - a for t in trace.event_boundaries if a <= t < b),
                         None if trace.probabilities is None else trace.probabilities[a:b])
    print(write_png(render_trace(window, cut, rule), args.out))


if __name__ == "__main__":
    main()
