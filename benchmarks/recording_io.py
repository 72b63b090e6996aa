"""Benchmark recordings: mp4 and jsonl size per 1,000 frames, fidelity, write and read speed.

Plays an episode first (not timed), then times writing it as a recording and
reading it back. Prints the figures and appends them to
`benchmarks/recording_io.history.jsonl`.

    python benchmarks/recording_io.py [--player random|expert] [--frames 2000]
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

import mcagent.worlds as worlds
from mcagent.recordings import format as fmt
from mcagent.recordings.format import RecordingWriter, read_recording
from mcagent.recordings.record import player_factory

HISTORY = Path(__file__).with_name("recording_io.history.jsonl")


def play(player_name: str, frames: int, seed: int):
    env = worlds.make("crafter", max_steps=frames)
    make_player = player_factory(player_name)
    images, steps, episode = [], [], seed
    while len(images) < frames:
        player = make_player(episode)
        obs, info = env.reset(seed=episode)
        player.reset(env, obs, info)
        done = False
        while not done and len(images) < frames:
            action, skill = player.act(obs, info)
            images.append(obs["image"])
            obs, _, terminated, truncated, info = env.step(action)
            steps.append((action, dict(info["inventory"]), list(info["events"]), skill))
            done = terminated or truncated
        episode += 1
    return env.action_names, np.stack(images), steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--player", default="random", help="random or expert (default random)")
    parser.add_argument("--frames", type=int, default=2000, help="frames to write (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode")
    args = parser.parse_args()

    action_names, images, steps = play(args.player, args.frames, args.seed)
    n = len(images)
    with tempfile.TemporaryDirectory() as tmp:
        stem = Path(tmp) / "bench"
        start = time.perf_counter()
        with RecordingWriter(stem, world="crafter", seed=args.seed, fps=10,
                             action_names=action_names, source=args.player) as writer:
            for image, (action, inventory, events, skill) in zip(images, steps):
                writer.add(image, action, inventory=inventory, events=events, skill=skill)
        write_s = time.perf_counter() - start
        start = time.perf_counter()
        recording = read_recording(stem)
        validate_s = time.perf_counter() - start
        start = time.perf_counter()
        decoded = recording.frames()
        decode_s = time.perf_counter() - start
        mp4_bytes = recording.mp4_path.stat().st_size
        jsonl_bytes = recording.jsonl_path.stat().st_size

    error = np.abs(decoded.astype(np.int16) - images)
    figures = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                 text=True, cwd=Path(__file__).parent).stdout.strip(),
        "player": args.player, "frames": n,
        "codec": f"{fmt.CODEC} {fmt.PIXEL_FORMAT} crf {fmt.CRF} {fmt.X264_PARAMS}",
        "mp4_kib_per_1000_frames": round(mp4_bytes / 1024 / n * 1000, 1),
        "jsonl_kib_per_1000_frames": round(jsonl_bytes / 1024 / n * 1000, 1),
        "raw_kib_per_1000_frames": round(images[0].nbytes * 1000 / 1024, 1),
        "mean_abs_error": round(float(error.mean()), 3),
        "p99_abs_error": int(np.percentile(error, 99)),
        "max_abs_error": int(error.max()),
        "write_frames_per_s": round(n / write_s),
        "validate_s": round(validate_s, 3),
        "decode_frames_per_s": round(n / decode_s),
    }
    for key, value in figures.items():
        print(f"{key:28s} {value}")
    with open(HISTORY, "a", encoding="utf-8") as history:
        history.write(json.dumps(figures) + "\n")


if __name__ == "__main__":
    main()
