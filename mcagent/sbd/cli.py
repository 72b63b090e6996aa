"""`mcagent segment` and `mcagent sbd ...`: thin glue from the shell to mcagent.sbd."""

from __future__ import annotations

import argparse
import json

from mcagent.errors import UserError


def cmd_segment(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from mcagent.sbd.segment import RUN_FILE, segment_many

    # A broken mp4 is reported once, by name; OpenCV's ffmpeg would also print its own lines.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    results = segment_many(args.input, args.out, model_dir=args.model, mode=args.mode,
                           gap=args.gap, min_length=args.min_length, threshold=args.threshold,
                           plot=args.plot,
                           workers=args.workers, address=args.address,
                           gpus_per_worker=args.gpus_per_worker, progress=not args.quiet)
    for r in results:
        extra = f"  {r['plot']}" if "plot" in r else ""
        print(f"{r['segments_file']}  {r['segments']} segments / {r['frames']} frames{extra}")
    out = Path(args.out).resolve()
    print(f"{len(results)} segmentations in {out} (this machine); which node did each: "
          f"{out / RUN_FILE}")
    return 0


def _settings(args: argparse.Namespace, **defaults):
    from mcagent.sbd.train import TrainSettings

    values = {**defaults}
    for name in ("epochs", "patience", "batch_size", "window", "lr", "seed", "max_batches",
                 "device", "threads", "within_skills", "init"):
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    try:
        return TrainSettings(**values)
    except TypeError as err:
        raise UserError(str(err)) from None


def cmd_train(args: argparse.Namespace) -> int:
    from mcagent.sbd.train import train_action_model

    figures = train_action_model(args.inputs, args.out, _settings(args),
                                 progress=not args.quiet, fresh=args.fresh)
    print(json.dumps(figures, indent=1))
    return 0


def cmd_train_idm(args: argparse.Namespace) -> int:
    from mcagent.sbd.idm import train_idm

    figures = train_idm(args.inputs, args.out, _settings(args, batch_size=64),
                        progress=not args.quiet, fresh=args.fresh)
    print(json.dumps(figures, indent=1))
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from mcagent.sbd.segment import default_model_dir
    from mcagent.sbd.tune import tune

    result = tune(args.inputs, args.model or default_model_dir(), modes=args.modes,
                  save=not args.dry_run, progress=not args.quiet)
    for mode, r in result["boundary_tuning"]["best"].items():
        setting = f"threshold {r['threshold']:<4g}" if mode == "learned" else f"gap {r['gap']:<4g}"
        print(f"{mode:10s} {setting} min_length {r['min_length']:<3d} "
              f"P {r['precision']:.3f} R {r['recall']:.3f} F1 {r['f1']:.3f}")
    return 0


def cmd_train_scorer(args: argparse.Namespace) -> int:
    from mcagent.sbd.scorer import ScorerSettings, train_scorer
    from mcagent.sbd.segment import default_model_dir

    values = {name: getattr(args, name) for name in ("epochs", "patience", "seed", "threads",
                                                     "context", "hidden")
              if getattr(args, name, None) is not None}
    figures = train_scorer(args.inputs, args.model or default_model_dir(), args.out,
                           ScorerSettings(**values), progress=not args.quiet)
    print(json.dumps(figures, indent=1))
    return 0


def cmd_label_actions(args: argparse.Namespace) -> int:
    from mcagent.sbd.idm import label_video

    print(label_video(args.video, args.out, args.model))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from mcagent.sbd.evaluate import evaluate_many, format_table

    result = evaluate_many([args.truth], args.pred, tolerance=args.tolerance)
    print(format_table(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
    return 0


def _training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="DIR", help="recordings, or folders of them")
    p.add_argument("--out", default="checkpoints/sbd",
                   help="folder for the model (default checkpoints/sbd); a run left there resumes")
    p.add_argument("--epochs", type=int, help="at most this many epochs (default 30)")
    p.add_argument("--patience", type=int,
                   help="stop after this many epochs without a better validation loss (default 4)")
    p.add_argument("--batch-size", type=int, help="windows (action model) or pairs (idm) per batch")
    p.add_argument("--window", type=int, help="frames per training window (default 64)")
    p.add_argument("--lr", type=float, help="learning rate (default 1e-3)")
    p.add_argument("--seed", type=int, help="seed of the split, the batches and the weights")
    p.add_argument("--max-batches", type=int, help="cap on batches per epoch (quick runs)")
    p.add_argument("--device", help="cpu, cuda, ... (default: a GPU when there is one)")
    p.add_argument("--fresh", action="store_true",
                   help="start afresh instead of resuming the run left in --out")
    p.add_argument("--threads", type=int,
                   help="CPU threads for torch (1 keeps a crowded machine responsive)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def add_parser(sub) -> None:
    """Add `segment` and `sbd` to the `mcagent` command's subparsers."""
    from mcagent.sbd.boundary import MODES

    p = sub.add_parser("segment", help="cut recordings into skills with SBD",
                       description="Write <stem>.segments.json (mcagent-segments/1) per recording.")
    p.add_argument("input", nargs="+", help="a recording (any of its files) or a folder of them")
    p.add_argument("--out", required=True, help="folder for the .segments.json files")
    p.add_argument("--model", help="folder of the action model (default checkpoints/sbd)")
    p.add_argument("--mode", default="loss+info", choices=MODES,
                   help="SBD's rule: boundaries from the loss, the events (info), or both "
                        "(default); or 'learned': the peaks of a scorer trained on labelled "
                        "recordings (`sbd train-scorer`) that weighs the same signals")
    p.add_argument("--gap", type=float, help="loss jump in nats that makes a boundary "
                   "(default: the model's tuned value)")
    p.add_argument("--min-length", type=int,
                   help="fewest frames in a segment before a boundary (default: tuned)")
    p.add_argument("--threshold", type=float,
                   help="learned mode: the probability a boundary needs (default: tuned)")
    p.add_argument("--plot", action="store_true",
                   help="also write <stem>.sbd.png: loss, running mean, boundaries, events")
    p.add_argument("--workers", type=int, default=1,
                   help="Ray tasks at once; more than 1 spreads the recordings over Ray")
    p.add_argument("--address", help="a Ray cluster to run on ('auto' for the one running here)")
    p.add_argument("--gpus-per-worker", type=float, default=0.0,
                   help="GPUs each Ray task asks for and runs the model on (default 0: CPU; "
                        "a fraction such as 0.25 shares one GPU between tasks)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_segment)

    p = sub.add_parser("sbd", help="train, tune and evaluate the SBD models")
    sbd = p.add_subparsers(dest="sbd_command", metavar="SBD_COMMAND", required=True)

    q = sbd.add_parser("train", help="train the action-prediction model on recordings")
    _training_options(q)
    q.add_argument("--within-skills", action="store_true", default=None,
                   help="training windows stop at each labelled skill change, so "
                        "the model never learns when a player switches (needs skill labels)")
    q.add_argument("--init", metavar="DIR",
                   help="start from the weights of the model in DIR (fine-tuning "
                        "on new recordings) instead of random ones")
    q.set_defaults(run=cmd_train)

    q = sbd.add_parser("train-idm", help="train the inverse dynamics model on recordings")
    _training_options(q)
    q.set_defaults(run=cmd_train_idm)

    q = sbd.add_parser("train-scorer",
                       help="train the learned mode's boundary scorer on labelled recordings")
    q.add_argument("inputs", nargs="+", metavar="DIR",
                   help="skill-labelled recordings, or folders of them")
    q.add_argument("--model", help="folder of the action model whose losses it reads "
                   "(default checkpoints/sbd)")
    q.add_argument("--out", help="folder for scorer.safetensors/.json (default: --model's)")
    q.add_argument("--epochs", type=int, help="at most this many epochs (default 40)")
    q.add_argument("--patience", type=int, help="epochs without a better validation loss "
                   "before stopping (default 5)")
    q.add_argument("--context", type=int, help="frames either side it reads (default 4)")
    q.add_argument("--hidden", type=int, help="MLP width (default 32)")
    q.add_argument("--seed", type=int, help="seed of the split, the batches and the weights")
    q.add_argument("--threads", type=int, help="CPU threads for torch")
    q.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    q.set_defaults(run=cmd_train_scorer)

    q = sbd.add_parser("tune", help="tune gap and minimum length per mode on labelled recordings "
                       "(and the learned mode's threshold)")
    q.add_argument("inputs", nargs="+", metavar="DIR", help="labelled recordings or folders")
    q.add_argument("--model", help="folder of the action model (default checkpoints/sbd)")
    q.add_argument("--modes", nargs="+", choices=MODES,
                   help="default: the rule's three, and learned when there is a scorer")
    q.add_argument("--dry-run", action="store_true", help="print, do not store in the model")
    q.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    q.set_defaults(run=cmd_tune)

    q = sbd.add_parser("label-actions", help="give a plain video actions with the idm")
    q.add_argument("video", help="an mp4 (or any video ffmpeg reads)")
    q.add_argument("--out", help="stem of the recording to write (default <video>-labelled)")
    q.add_argument("--model", help="folder of the idm (default checkpoints/sbd)")
    q.set_defaults(run=cmd_label_actions)

    q = sbd.add_parser("evaluate", help="score segmentations against skill-labelled recordings")
    q.add_argument("truth", metavar="TRUTH_DIR", help="recordings whose jsonl has skill labels")
    q.add_argument("pred", metavar="PRED_DIR", nargs="*",
                   help="folders of .segments.json (one per method); none: the baselines alone")
    q.add_argument("--tolerance", type=int, default=3, help="frames (default 3)")
    q.add_argument("--json", help="also write the figures to this file")
    q.set_defaults(run=cmd_evaluate)
