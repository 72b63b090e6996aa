"""Environment speed: Crafter's steps per second per core, world generation included.

Random actions, and the resets (world generation) count. Four configurations,
each in its own process with one CPU thread, one after the other in one run:

    crafter   plain `crafter.Env`                 with numba / without numba
    mcagent   `mcagent.worlds.make("crafter")`    with numba / without numba

"Without numba" sets NUMBA_DISABLE_JIT=1, which makes numba's decorators
return the plain Python functions (mcagent then takes its numpy world
generation, Crafter's opensimplex its pure-Python noise). A fifth, short run with
numba made unimportable checks that this gives the same reset time as having no
numba.

Each configuration is measured twice, reset and step times kept apart:

    episodes  Crafter's default episodes: they end when the player dies or
              after 10,000 steps (random players die after about 170 steps).
    fixed     a reset every 1,000 steps, dead or alive (Crafter goes on
              simulating a dead player), so that step times cover three
              day-night cycles. From its reset and step times follows the
              speed with fixed 10,000-step episodes, Crafter's default length.

Per core means per CPU second of the process (`time.process_time`), so other
work on the machine slows the wall clock but the figures less; still, compare
the ratios of one run rather than figures of different runs. The load average
at start and end is printed and kept. Prints a table and appends the figures of
the run, with date and git commit, as one JSON line to
benchmarks/env_speed.history.jsonl.

    python benchmarks/env_speed.py            # about 3 minutes
    python benchmarks/env_speed.py --seconds 4 --no-history   # a quick look
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
HISTORY = ROOT / "benchmarks" / "env_speed.history.jsonl"
FIXED_STEPS = 1000  # steps between resets in the "fixed" measurement
LONG_EPISODE = 10000  # Crafter's default episode length
RUNS = (("crafter", True), ("mcagent", True), ("crafter", False), ("mcagent", False))


# -- one measurement, in a worker process ------------------------------------------

def _make(kind: str):
    """(reset, step) callables for the environment `kind`; step returns done."""
    import numpy as np
    if kind == "crafter":
        import crafter
        env = crafter.Env(seed=0)

        def step(action):
            return env.step(action)[2]
        return env.reset, step, env.action_space.n, np
    if kind == "mcagent":
        sys.path.insert(0, str(ROOT))
        import mcagent.worlds
        env = mcagent.worlds.make("crafter")
        seeds = iter(range(10 ** 9))

        def reset():
            return env.reset(seed=next(seeds))

        def step(action):
            _, _, terminated, truncated, _ = env.step(action)
            return terminated or truncated
        return reset, step, env.action_space.n, np
    raise ValueError(f"unknown environment {kind!r}: use crafter or mcagent")


def measure(kind: str, seconds: float, episode_steps: int | None = None,
            resets_only: int = 0) -> dict:
    """CPU times of resets and steps with random actions over about `seconds` of CPU time.

    Episodes end when the environment says so, or with `episode_steps` after
    that many steps whatever the environment says.
    """
    reset, step, n_actions, np = _make(kind)
    rng = np.random.default_rng(0)
    reset()  # warm-up: imports, compilation, caches
    for _ in range(20):
        step(int(rng.integers(n_actions)))
    clock = time.process_time
    reset_time = step_time = 0.0
    resets = steps = 0
    wall = time.perf_counter()
    while True:
        t = clock()
        reset()
        reset_time += clock() - t
        resets += 1
        if resets_only:
            if resets >= resets_only:
                break
            continue
        done, length = False, 0
        while not done:
            action = int(rng.integers(n_actions))
            t = clock()
            done = step(action)
            step_time += clock() - t
            length += 1
            if episode_steps:
                done = length >= episode_steps
        steps += length
        if reset_time + step_time >= seconds and resets >= 3:
            break
    wall = time.perf_counter() - wall
    cpu = reset_time + step_time
    result = {
        "steps": steps, "episodes": resets, "cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
        "steps_per_s_per_core": round(steps / cpu, 1) if steps else None,
        "steps_per_s_wall": round(steps / wall, 1) if steps else None,
        "reset_ms": round(1000 * reset_time / resets, 2),
        "step_ms": round(1000 * step_time / steps, 3) if steps else None,
        "mean_episode_steps": round(steps / resets, 1),
    }
    if steps:
        per_step = step_time / steps + reset_time / resets / LONG_EPISODE
        result[f"steps_per_s_per_core_at_{LONG_EPISODE}_step_episodes"] = round(1 / per_step, 1)
    return result


def _worker(args) -> None:
    if args.block_numba:
        sys.modules["numba"] = None  # `import numba` now raises ImportError
    if args.resets_only:
        result = {"resets": measure(args.worker, 0, resets_only=args.resets_only)}
    else:
        result = {"episodes": measure(args.worker, args.seconds),
                  "fixed": measure(args.worker, args.seconds, episode_steps=FIXED_STEPS)}
    try:
        import numba  # noqa: F401
        result["numba"] = "disabled" if os.environ.get("NUMBA_DISABLE_JIT") == "1" else "on"
    except ImportError:
        result["numba"] = "not importable"
    print(json.dumps(result))


# -- the driver ---------------------------------------------------------------------

def _run(kind: str, numba: bool, seconds: float, resets_only: int = 0,
         block_numba: bool = False) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    env.pop("NUMBA_DISABLE_JIT", None)
    if not numba and not block_numba:
        env["NUMBA_DISABLE_JIT"] = "1"
    command = [sys.executable, __file__, "--worker", kind, "--seconds", str(seconds),
               "--resets-only", str(resets_only)] + (["--block-numba"] if block_numba else [])
    out = subprocess.run(command, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"benchmark worker {kind} (numba={numba}) failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _git_commit() -> str:
    out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True)
    # Uncommitted changes, other than to the history files, make the figures "+dirty".
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no",
                            "--", ".", ":!benchmarks/*.history.jsonl"],
                           capture_output=True, text=True).stdout.strip()
    return out.stdout.strip() + ("+dirty" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0,
                        help="CPU seconds per measurement, two per configuration (at least "
                             "3 episodes are run whatever this says)")
    parser.add_argument("--no-history", action="store_true", help="do not append to the history file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--resets-only", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--block-numba", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args)
        return

    date = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    commit = _git_commit()
    load_start = _load()
    results = {}
    for kind, numba in RUNS:
        results[kind, numba] = _run(kind, numba, args.seconds)
    check = _run("crafter", False, 0, resets_only=3, block_numba=True)["resets"]
    load_end = _load()

    cpu = platform.processor() or platform.machine()
    long = f"steps_per_s_per_core_at_{LONG_EPISODE}_step_episodes"
    print(f"env_speed  {date}  commit {commit}  {cpu}, {os.cpu_count()} cores  "
          f"load average (1 min) {load_start} at start, {load_end} at end")
    print("steps/s/core: per CPU second of the process, resets included. 'episodes': "
          "until death or 10,000 steps; 'fixed': a reset every 1,000 steps; '10k': computed "
          "from the fixed run's reset and step times for 10,000-step episodes.")
    print(f"{'env':8} {'numba':6} {'steps/s/core':>26} {'reset ms':>9} {'step ms':>17} "
          f"{'ep. steps':>9}")
    print(f"{'':15} {'episodes':>8} {'fixed':>8} {'10k':>8} {'':9} {'episodes':>8} "
          f"{'fixed':>8}")
    for (kind, numba), r in results.items():
        e, f = r["episodes"], r["fixed"]
        reset_ms = (e["reset_ms"] * e["episodes"] + f["reset_ms"] * f["episodes"]) / (
            e["episodes"] + f["episodes"])
        print(f"{kind:8} {'yes' if numba else 'no':6} {e['steps_per_s_per_core']:>8} "
              f"{f['steps_per_s_per_core']:>8} {f[long]:>8} {reset_ms:>9.2f} "
              f"{e['step_ms']:>8} {f['step_ms']:>8} {e['mean_episode_steps']:>9}")
    for numba in (True, False):
        mc, cr = results["mcagent", numba], results["crafter", numba]
        ratios = [mc[m]["steps_per_s_per_core"] / cr[m]["steps_per_s_per_core"]
                  for m in ("episodes", "fixed")]
        ratios.append(mc["fixed"][long] / cr["fixed"][long])
        print(f"mcagent / crafter, {'with' if numba else 'without'} numba: "
              + ", ".join(f"{ratio:.1f}x {m}" for ratio, m in zip(ratios, ("episodes", "fixed", "10k"))))
    mc_on, mc_off = results["mcagent", True], results["mcagent", False]
    print(f"mcagent with / without numba: "
          f"{mc_on['episodes']['steps_per_s_per_core'] / mc_off['episodes']['steps_per_s_per_core']:.1f}x"
          f" episodes, reset {mc_off['episodes']['reset_ms'] / mc_on['episodes']['reset_ms']:.1f}x faster")
    disabled = results["crafter", False]["episodes"]["reset_ms"]
    print(f"check: Crafter reset with numba unimportable {check['reset_ms']} ms, "
          f"with NUMBA_DISABLE_JIT=1 {disabled} ms")
    if not 0.7 < check["reset_ms"] / disabled < 1.4:
        print("warning: NUMBA_DISABLE_JIT=1 does not give the speed of no numba here")

    if not args.no_history:
        record = {
            "date": date, "commit": commit, "cpu": cpu, "cores": os.cpu_count(),
            "load_avg_1min_start": load_start, "load_avg_1min_end": load_end,
            "cpu_seconds_per_measurement": args.seconds, "fixed_episode_steps": FIXED_STEPS,
            "runs": {f"{kind}/{'numba' if numba else 'no-numba'}": r
                     for (kind, numba), r in results.items()},
            "check_crafter_numba_unimportable": check,
        }
        with HISTORY.open("a") as f:
            f.write(json.dumps(record) + "\n")
        print(f"appended to {HISTORY.relative_to(ROOT)}")


def _load() -> float | None:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None

if __name__ == "__main__":
    main()
