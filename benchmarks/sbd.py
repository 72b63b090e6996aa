"""Benchmark SBD: boundary P/R/F1 of the modes and the baselines on held-out recordings.

Segments every recording of TRUTH (skill-labelled recordings the model never
saw, e.g. `mcagent record --player expert --seed 100 --episodes 8 --out
held_out`) with the model in --model in each mode (the rule's three, and
`learned` when a boundary scorer is beside the model), with the tuned
parameters, and scores them against the skill labels (tolerance 3
frames, one-to-one). Prints the figures with the models' sizes and training
times, and appends them to `benchmarks/sbd.history.jsonl`.

With --idm it also treats each held-out mp4 as a plain video: the inverse
dynamics model labels its actions (their accuracy against the true actions is
reported), and the labelled recording is segmented in the loss mode, as a
video from elsewhere would be.

With --speed it measures instead how fast `segment` runs (--speed-mode,
loss+info by default; model loading and video decoding included, Python's start not): frames per
second in this process, then on a local Ray cluster with 1 and with 2 workers
(the cluster's start timed apart), with the load average before and after, as
other work on a shared machine slows every figure.

    python benchmarks/sbd.py TRUTH [TRUTH...] [--model checkpoints/sbd] [--workers 2] [--idm]
    python benchmarks/sbd.py TRUTH [TRUTH...] --speed [--repeat 3] [--speed-mode learned]
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import tempfile
import time
from pathlib import Path

from mcagent.recordings.format import read_recording
from mcagent.sbd.boundary import MODES, RULE_MODES
from mcagent.sbd.data import find_recordings
from mcagent.sbd.evaluate import evaluate_many, format_table
from mcagent.sbd.model import ACTION_MODEL, IDM, checkpoint_paths, read_config
from mcagent.sbd.scorer import SCORER, read_scorer_config
from mcagent.sbd.segment import default_model_dir, rule_for, segment_many

HISTORY = Path(__file__).with_name("sbd.history.jsonl")


def model_figures(model_dir: Path) -> dict:
    out = {}
    for name in (ACTION_MODEL, IDM):
        weights, _ = checkpoint_paths(model_dir, name)
        if not weights.is_file():
            continue
        _, notes = read_config(model_dir, name)
        out[name] = {"bytes": weights.stat().st_size, "parameters": notes.get("parameters"),
                     "train_seconds": notes.get("train_seconds"), "epoch": notes.get("epoch"),
                     "val_loss": notes.get("val_loss"),
                     "unigram_val_loss": notes.get("unigram_val_loss"),
                     "val_accuracy": notes.get("val_accuracy"),
                     "train_recordings": len(notes.get("train_recordings", []))}
    weights, _ = checkpoint_paths(model_dir, SCORER)
    if weights.is_file():
        config, notes = read_scorer_config(model_dir)
        out[SCORER] = {"bytes": weights.stat().st_size, "parameters": notes.get("parameters"),
                       "train_seconds": notes.get("train_seconds"), "epoch": notes.get("epoch"),
                       "val_loss": notes.get("val_loss"), "events": len(config.events),
                       "train_recordings": len(notes.get("train_recordings", []))}
    return out


def idm_run(truth, model_dir: Path, tmp: Path, workers: int) -> tuple[dict, Path]:
    """Label each truth mp4 with the IDM (same stem, another folder), segment in the loss mode."""
    from mcagent.sbd.idm import label_video

    labelled = tmp / "idm_labelled"
    right = total = 0
    started = time.perf_counter()
    for stem in find_recordings(truth):
        rec = read_recording(stem)
        guess = read_recording(label_video(rec.mp4_path, labelled / rec.name, model_dir))
        right += sum(a == b for a, b in zip(rec.actions, guess.actions))
        total += len(rec)
    seconds = round(time.perf_counter() - started, 1)
    out = tmp / "idm_loss"
    segment_many([labelled], out, model_dir=model_dir, mode="loss", workers=workers)
    return {"action_accuracy": round(right / total, 4), "label_seconds": seconds}, out


def speed_run(truth, model_dir: Path, tmp: Path, repeat: int, mode: str = "loss+info",
              with_ray: bool = True) -> dict:
    """Frames per second of `segment` in this process and (`with_ray`) on Ray with 1 and 2
    workers (best of `repeat` runs each)."""
    import os

    import ray

    frames = sum(read_recording(stem, check_video=False).meta.frames
                 for stem in find_recordings(truth))

    def best_fps(workers: int, address: str | None = None) -> int:
        times = []
        for i in range(repeat):
            started = time.perf_counter()
            segment_many(truth, tmp / f"{address}-{workers}-{i}", model_dir=model_dir,
                         mode=mode, workers=workers, address=address)
            times.append(time.perf_counter() - started)
        return round(frames / min(times))

    load_before = os.getloadavg()
    figures = {"mode": mode, "frames": frames, "cpus": os.cpu_count(),
               "in_process_fps": best_fps(1)}
    if not with_ray:
        figures["load_average_before"] = [round(x, 2) for x in load_before]
        figures["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        return figures
    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        figures["ray_start_seconds"] = round(time.perf_counter() - started, 1)
        # address "auto": on the cluster started above, with one worker too
        figures["ray_fps"] = {w: best_fps(w, "auto") for w in (1, 2)}
    finally:
        ray.shutdown()
    figures["ray_scaling_1_to_2"] = round(figures["ray_fps"][2] / figures["ray_fps"][1], 2)
    figures["load_average_before"] = [round(x, 2) for x in load_before]
    figures["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("truth", nargs="+", help="skill-labelled recordings or folders of them")
    parser.add_argument("--model", default=None, help="model folder (default checkpoints/sbd)")
    parser.add_argument("--workers", type=int, default=1, help="Ray tasks at once (default 1)")
    parser.add_argument("--label", default="", help="a note stored with the figures")
    parser.add_argument("--idm", action="store_true",
                        help="also segment the mp4s with actions from the inverse dynamics model")
    parser.add_argument("--speed", action="store_true",
                        help="measure frames per second instead (in process, Ray 1 and 2 workers)")
    parser.add_argument("--repeat", type=int, default=3, help="--speed: best of this many runs")
    parser.add_argument("--speed-mode", default="loss+info", choices=MODES,
                        help="--speed: the mode timed (default loss+info)")
    parser.add_argument("--ray-speed", action=argparse.BooleanOptionalAction, default=True,
                        help="--speed: also time 1 and 2 Ray workers (default yes)")
    args = parser.parse_args()
    model_dir = Path(args.model) if args.model else default_model_dir()
    if args.speed:
        with tempfile.TemporaryDirectory() as tmp:
            figures = speed_run(args.truth, model_dir, Path(tmp), args.repeat, args.speed_mode,
                                args.ray_speed)
        print(f"segment, {args.speed_mode}, {figures['frames']} frames, {figures['cpus']} CPUs, "
              f"load average {figures['load_average_before']} before, "
              f"{figures['load_average_after']} after")
        print(f"in process      {figures['in_process_fps']:6d} frames/s")
        for workers, fps in figures.get("ray_fps", {}).items():
            print(f"Ray, {workers} worker{'s' if workers > 1 else ' '}  {fps:6d} frames/s")
        if "ray_fps" in figures:
            print(f"Ray scaling 1 -> 2 workers: x{figures['ray_scaling_1_to_2']} (cluster start "
                  f"{figures['ray_start_seconds']} s, not counted)")
        append_history({"label": args.label, "truth": [str(t) for t in args.truth],
                        "speed": figures})
        return

    modes = MODES if checkpoint_paths(model_dir, SCORER)[1].is_file() else RULE_MODES
    with tempfile.TemporaryDirectory() as tmp:
        preds, timings, rules = [], {}, {}
        for mode in modes:
            out = Path(tmp) / mode.replace("+", "_")
            started = time.perf_counter()
            segment_many(args.truth, out, model_dir=model_dir, mode=mode, workers=args.workers)
            timings[mode] = round(time.perf_counter() - started, 1)
            rule = rule_for(model_dir, mode)
            rules[mode] = ({"threshold": rule.threshold, "min_length": rule.min_length}
                           if mode == "learned" else {"gap": rule.gap, "min_length": rule.min_length})
            preds.append(out)
        idm = None
        if args.idm:
            idm, pred = idm_run(args.truth, model_dir, Path(tmp), args.workers)
            preds.append(pred)
        result = evaluate_many(args.truth, preds)

    models = model_figures(model_dir)
    print(format_table(result))
    print()
    for mode in modes:
        setting = (f"threshold {rules[mode]['threshold']:<4g}" if mode == "learned"
                   else f"gap {rules[mode]['gap']:<4g}")
        print(f"sbd-{mode:10s} {setting} min_length "
              f"{rules[mode]['min_length']:<3d} segmentation {timings[mode]} s")
    for name, f in models.items():
        if name == SCORER:
            print(f"{name}: {f['parameters']} parameters, {f['bytes'] / 1e6:.2f} MB, trained "
                  f"{f['train_seconds']} s ({f['epoch']} epochs, {f['train_recordings']} "
                  f"recordings, {f['events']} event names), val loss {f['val_loss']:.4f}")
            continue
        extra = (f", val accuracy {f['val_accuracy']:.3f}" if f.get("val_accuracy") is not None
                 else f", unigram {f['unigram_val_loss']:.3f}" if f.get("unigram_val_loss")
                 else "")
        print(f"{name}: {f['parameters']} parameters, {f['bytes'] / 1e6:.2f} MB, trained "
              f"{f['train_seconds']} s ({f['epoch']} epochs, {f['train_recordings']} "
              f"recordings), val loss {f['val_loss']:.3f}{extra}")

    if idm:
        print(f"idm labels of the held-out videos: action accuracy {idm['action_accuracy']:.3f} "
              f"({idm['label_seconds']} s); their segmentation is the row "
              f"'sbd-loss (idm_loss)'")

    append_history({"label": args.label, "truth": [str(t) for t in args.truth], "rules": rules,
                    "segmentation_seconds": timings, "models": models, "idm": idm, **result})


def append_history(figures: dict) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=Path(__file__).parent).stdout.strip()
    record = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "commit": commit,
              **figures}
    with open(HISTORY, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
