"""Skill training throughput: rollout steps/s with 1 and 2 Ray actors, and PPO end to end.

Each actor is a `mcagent.skills.ppo.RolloutWorker` holding `--envs` SkillEnvs
of one skill (default collect_wood, target-nearby starts, episode resets
included) and a copy of the policy (CPU torch, one thread); the driver sends
the weights and collects `--rollout-len` steps per env, as PPO does, `--rounds`
times after one warm-up round, alternating one actor and two actors round by round (the
machine's speed drifts; measured one after the other, the ratio was mostly that drift). Figures: wall-clock steps/s of the whole
collection (what PPO gets), and steps per CPU second inside the actors (what
the machine's load does not hide). The load average at start and end is kept:
on a shared machine, compare the ratio of one run. Then PPO end to end in one
process (`train_ppo` with `workers=0`: rollouts, advantages and updates, as
`train all` runs each skill), `--ppo-steps` environment steps after a short
warm-up: what a skill's training gets per core. Appends one JSON line to
benchmarks/skills_rollout.history.jsonl.

    python benchmarks/skills_rollout.py                 # a few minutes
    python benchmarks/skills_rollout.py --rounds 2 --no-history
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
HISTORY = ROOT / "benchmarks" / "skills_rollout.history.jsonl"
sys.path.insert(0, str(ROOT))


def measure(args) -> list[dict]:
    """Rollout throughput with 1 and with 2 actors, measured in alternating rounds.

    Actors A and B are made once; rounds alternate between A alone and A with B (B waits,
    using no CPU, while A runs alone). A virtual machine's speed drifts by 10-20% within a
    minute here, so two runs one after the other compare two machines; alternating rounds
    put the drift into both figures alike."""
    import ray

    from mcagent.skills.ppo import PPOArgs, RolloutWorker, make_policy

    policy = make_policy(PPOArgs(skill=args.skill, graph=None))
    weights = {k: v.numpy() for k, v in policy.state_dict().items()}
    actor = ray.remote(num_cpus=1)(RolloutWorker)
    actors = [actor.remote(args.skill, policy.config.to_json(), args.envs, i, 0.05, None)
              for i in range(2)]
    ref = ray.put(weights)
    ray.get([a.sample.remote(ref, args.rollout_len) for a in actors])   # warm-up
    totals = {1: [0, 0.0, 0.0], 2: [0, 0.0, 0.0]}   # steps, wall, actor CPU seconds
    for _ in range(args.rounds):
        for workers in (1, 2):
            start = time.perf_counter()
            outs = ray.get([a.sample.remote(ref, args.rollout_len) for a in actors[:workers]])
            totals[workers][1] += time.perf_counter() - start
            for out in outs:
                totals[workers][0] += out["action"].size
                totals[workers][2] += out["cpu_seconds"]
    for a in actors:
        ray.kill(a)
    return [{"workers": workers, "steps": int(steps), "wall_s": round(wall, 2),
             "steps_per_s": round(steps / wall, 1),
             "steps_per_cpu_s_per_worker": round(steps / cpu, 1)}
            for workers, (steps, wall, cpu) in totals.items()]


def measure_ppo(args) -> dict:
    """Environment steps per wall-clock second of a whole PPO run in this process."""
    import tempfile

    import torch

    from mcagent.skills.ppo import PPOArgs, train_ppo

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as out:
        settings = dict(skill=args.skill, workers=0, envs_per_worker=args.envs,
                        rollout_len=args.rollout_len, out=out, logdir=None, graph=None)
        train_ppo(PPOArgs(total_steps=args.envs * args.rollout_len, **settings))   # warm-up
        start, cpu = time.perf_counter(), time.process_time()
        result = train_ppo(PPOArgs(total_steps=args.ppo_steps, **settings))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"steps": result["env_steps"], "wall_s": round(wall, 2),
            "steps_per_s": round(result["env_steps"] / wall, 1),
            "steps_per_cpu_s": round(result["env_steps"] / cpu, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skill", default="collect_wood")
    parser.add_argument("--envs", type=int, default=8, help="environments per actor")
    parser.add_argument("--rollout-len", type=int, default=64, help="steps per env per round")
    parser.add_argument("--rounds", type=int, default=6, help="measured rounds")
    parser.add_argument("--ppo-steps", type=int, default=4096,
                        help="environment steps of the end-to-end PPO run (0: skip it)")
    parser.add_argument("--no-history", action="store_true")
    args = parser.parse_args()
    import ray

    load_start = os.getloadavg()[0]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    runs = measure(args)
    ray.shutdown()
    ppo = measure_ppo(args) if args.ppo_steps else None
    load_end = os.getloadavg()[0]
    speedup = runs[1]["steps_per_s"] / runs[0]["steps_per_s"]
    print(f"skill {args.skill}, {args.envs} envs per actor, {args.rollout_len} steps per round, "
          f"{args.rounds} rounds; load average {load_start:.1f} -> {load_end:.1f} "
          f"on {os.cpu_count()} cores")
    print("| actors | steps/s (wall) | steps per CPU-second per actor |")
    print("| --- | --- | --- |")
    for r in runs:
        print(f"| {r['workers']} | {r['steps_per_s']} | {r['steps_per_cpu_s_per_worker']} |")
    print(f"speed-up 2 vs 1 actor: {speedup:.2f}x")
    if ppo:
        print(f"PPO end to end, one process: {ppo['steps_per_s']} steps/s "
              f"({ppo['steps']} steps in {ppo['wall_s']} s; {ppo['steps_per_cpu_s']} per CPU-second)")
    if not args.no_history:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True).stdout.strip()
        line = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "commit": commit, "cores": os.cpu_count(), "load_avg_1min_start": load_start,
                "load_avg_1min_end": load_end, "skill": args.skill, "envs": args.envs,
                "rollout_len": args.rollout_len, "rounds": args.rounds, "alternating": True,
                "runs": runs,
                "speedup_2_vs_1": round(speedup, 2), "ppo_one_process": ppo}
        with HISTORY.open("a") as f:
            f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
