"""Train many skills at once: BC first (when segments are given), then PPO per skill, as Ray tasks.

Each skill's PPO run is one Ray task declaring its CPUs and GPUs, rolling out
in its own process (`PPOArgs.workers=0`), so the same command fills one
laptop or a cluster (`--address auto`). Results are written to
`<out>/training.json` as each skill finishes, so an interrupted run keeps them;
`resume` skips skills whose PPO checkpoint has its steps already and continues
those whose checkpoint has fewer (PPO writes one every few updates).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time
from collections.abc import Callable, Sequence

from mcagent.skills.bc import BCArgs, train_bc
from mcagent.skills.files import portable, write_atomic
from mcagent.skills.policy import read_checkpoint_config
from mcagent.skills.ppo import PPOArgs, resumed, train_ppo


def _bc_task(args: BCArgs) -> dict:
    started = time.time()
    path = train_bc(args)
    return {"skill": "*bc*", "checkpoint": str(path), "wall_s": round(time.time() - started, 1)}


def _ppo_task(args: PPOArgs) -> dict:
    import torch

    torch.set_num_threads(1)
    return train_ppo(args)


def train_all(skills: Sequence[str], *, out: str, ppo: PPOArgs, bc: BCArgs | None = None,
              address: str | None = None, cpus_per_task: float = 1.0,
              gpus_per_task: float | str = "auto", scratch: bool = False, resume: bool = True,
              on_result: Callable[[dict], None] | None = None) -> list[dict]:
    """BC (if `bc`), then one PPO task per skill; `ppo` holds the settings every run shares."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False)
    if gpus_per_task == "auto":
        gpus = ray.cluster_resources().get("GPU", 0)
        gpus_per_task = min(1.0, gpus / max(len(skills), 1)) if gpus else 0.0
    out_dir = pathlib.Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[dict] = []
    log_path = out_dir / "training.json"
    # Earlier runs' entries stay, but for the skills trained again now.
    earlier = json.loads(log_path.read_text()) if log_path.exists() else []

    def record(result: dict) -> None:
        results.append(portable(result))
        if on_result:
            on_result(result)
        now = {r["skill"] for r in results}
        kept = [r for r in earlier if r.get("skill") not in now]
        write_atomic(log_path, json.dumps(kept + results, indent=1) + "\n")

    init = None
    if bc is not None:
        task = ray.remote(num_cpus=cpus_per_task, num_gpus=gpus_per_task)(_bc_task)
        trained = ray.get(task.remote(dataclasses.replace(bc, out=str(out_dir.resolve()))))
        record(trained)
        init = trained["checkpoint"]
    elif not scratch and (out_dir / "bc.safetensors").exists():
        init = str(out_dir / "bc.safetensors")
    bc_skills = read_checkpoint_config(init)[0].skills if init else ()

    task = ray.remote(num_cpus=cpus_per_task, num_gpus=gpus_per_task)(_ppo_task)
    pending = []
    for i, skill in enumerate(skills):
        args = dataclasses.replace(ppo, skill=skill, workers=0, out=str(out_dir.resolve()),
                                   init=init if skill in bc_skills and not scratch else None,
                                   seed=ppo.seed + i, address=None, resume=resume)
        if resume and resumed(args)[0] >= args.total_steps:
            continue
        pending.append(task.remote(args))
    while pending:
        done, pending = ray.wait(pending)
        record(ray.get(done[0]))
    return results
