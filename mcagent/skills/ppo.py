"""PPO for one skill: Ray actors roll out `SkillEnv`s, a torch learner (CPU or GPU) updates the policy.

Reads top to bottom: settings, the rollout worker, advantages, the training
loop. Episodes start where the skill applies (`SkillEnv`); the reward is the
skill's success plus distance shaping from privileged state; the policy sees
only the frame and the inventory. Starting from a BC checkpoint (`init`) keeps
its skill-conditioned network and trains it on this skill alone.

Writes `<out>/ppo/<skill>.safetensors` + `.json`, and TensorBoard scalars
under `<logdir>/<skill>`.

The skill `FLAT` ("crafter") is the flat baseline instead: the whole game
(`FlatEnv`: Crafter's episodes and reward), every action, no planner; its
success rate counts episodes that reached the diamond.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import pathlib
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from mcagent.errors import UserError
from mcagent.skills.env import FlatEnv, SkillEnv
from mcagent.skills.files import portable, portable_path
from mcagent.skills.library import skill_library
from mcagent.skills.policy import (PolicyConfig, SkillPolicy, load_policy, policy_config_for,
                                   read_checkpoint_config, save_policy)
from mcagent.worlds.rules import crafter_rules

log = logging.getLogger(__name__)

FLAT = "crafter"   # the "skill" of the flat baseline: the whole game on Crafter's reward


@dataclasses.dataclass
class PPOArgs:
    skill: str                          # the skill to train (a finding or manipulation skill)
    total_steps: int = 200_000          # environment steps in all
    workers: int = 2                    # Ray rollout actors; 0 rolls out in this process
    envs_per_worker: int = 8            # environments each worker steps together
    rollout_len: int = 64               # steps per environment between updates
    worker_cpus: float = 1.0            # CPUs each rollout actor declares to Ray
    lr: float = 3e-4                    # Adam learning rate
    gamma: float = 0.99                 # discount
    gae_lambda: float = 0.95            # GAE's lambda
    epochs: int = 4                     # passes over each batch
    minibatch: int = 256                # samples per gradient step
    clip: float = 0.2                   # PPO's ratio clip
    ent_coef: float = 0.01              # entropy bonus
    vf_coef: float = 0.5                # value loss weight
    max_grad_norm: float = 0.5          # gradient clipping
    shaping: float = 0.05               # reward per cell closer to the target
    explore: float = 0.01               # finding skills: reward per cell first stood on in an episode
    death_penalty: float = 1.0          # reward taken away when the player dies
    lava_shaping: float = 0.0           # reward lost stepping next to lava (regained stepping away)
    start_reach: int = 2                # manipulation: start within this many cells of the target
    init: str | None = None             # BC checkpoint to start from (None: from scratch)
    value_warmup: int = 3               # with init: updates that train only the value head
                                        # (BC leaves it untrained; its advantages would be noise)
    resume: bool = False                # continue <out>/ppo/<skill> when it exists (its steps count)
    out: str = "checkpoints/skills"     # writes <out>/ppo/<skill>.safetensors
    logdir: str | None = "runs/skills"  # TensorBoard root; None for none
    device: str = "auto"                # learner device: cpu, cuda, auto
    seed: int = 0                       # seeds torch and the envs (with the steps done)
    save_every: int = 10                # write the checkpoint every this many updates (and at the end)
    address: str | None = None          # Ray address (auto: a running cluster); None: start one
    graph: str | None = "auto"          # skill graph that names the skills
    network: dict = dataclasses.field(default_factory=dict)   # from scratch: PolicyConfig sizes
    threads: int | None = 1             # the learner's torch CPU threads (None: torch's default)


# -- rollouts -------------------------------------------------------------------------

class RolloutWorker:
    """Steps `n_envs` SkillEnvs with a copy of the policy; a Ray actor or a plain object."""

    def __init__(self, skill: str, config: dict, n_envs: int, seed: int, shaping: float,
                 graph: str | None = "auto", explore: float = 0.0, death_penalty: float = 0.0,
                 lava_shaping: float = 0.0, start_reach: int = 2):
        torch.set_num_threads(1)
        if skill == FLAT:
            self.envs = [FlatEnv() for _ in range(n_envs)]
        else:
            spec = skill_library(graph)[skill]
            explore = explore if spec.kind == "finding" else 0.0
            self.envs = [SkillEnv(spec, shaping=shaping, explore=explore,
                                  death_penalty=death_penalty, lava_shaping=lava_shaping,
                                  start_reach=start_reach)
                         for _ in range(n_envs)]
        self.policy = SkillPolicy(PolicyConfig(**config))
        self.skill_id = self.policy.skill_index(skill)
        first = [env.reset(seed=seed * 10_000 + i)[0] for i, env in enumerate(self.envs)]
        self.image = np.stack([o["image"] for o in first])
        self.inventory = np.stack([o["inventory"] for o in first])
        self.lengths = np.zeros(n_envs, np.int64)

    def sample(self, weights: dict[str, np.ndarray], steps: int) -> dict[str, object]:
        """`steps` steps of every env under `weights`; arrays are (steps, n_envs, ...)."""
        self.policy.load_state_dict({k: torch.tensor(v) for k, v in weights.items()})
        n = len(self.envs)
        out = {"image": np.empty((steps, n, *self.image.shape[1:]), np.uint8),
               "inventory": np.empty((steps, n, self.inventory.shape[1]), np.uint8),
               "action": np.empty((steps, n), np.int64), "logp": np.empty((steps, n), np.float32),
               "value": np.empty((steps, n), np.float32), "reward": np.empty((steps, n), np.float32),
               "done": np.empty((steps, n), np.float32)}
        episodes = []
        skills = torch.full((n,), self.skill_id, dtype=torch.long)
        started, cpu = time.perf_counter(), time.process_time()
        for t in range(steps):
            with torch.no_grad():
                logits, value = self.policy(torch.as_tensor(self.image),
                                            torch.as_tensor(self.inventory), skills)
                logp = torch.log_softmax(logits, -1)
                action = torch.multinomial(logp.exp(), 1)
                logp = logp.gather(1, action).squeeze(1)
                action = action.squeeze(1)
            out["image"][t], out["inventory"][t] = self.image, self.inventory
            out["action"][t], out["logp"][t] = action.numpy(), logp.numpy()
            out["value"][t] = value.numpy()
            for i, a in enumerate(action.tolist()):
                env = self.envs[i]
                obs, reward, terminated, truncated, info = env.step(a)
                self.lengths[i] += 1
                out["reward"][t, i], out["done"][t, i] = reward, terminated or truncated
                if terminated or truncated:
                    episodes.append((bool(info["skill_success"]), int(self.lengths[i])))
                    self.lengths[i] = 0
                    obs, _ = env.reset()
                self.image[i], self.inventory[i] = obs["image"], obs["inventory"]
        with torch.no_grad():
            _, last_value = self.policy(torch.as_tensor(self.image),
                                        torch.as_tensor(self.inventory), skills)
        out["last_value"] = last_value.numpy()
        out["episodes"] = episodes
        out["seconds"] = time.perf_counter() - started
        out["cpu_seconds"] = time.process_time() - cpu
        return out


# -- advantages -----------------------------------------------------------------------

def gae(reward, value, done, last_value, gamma: float, lam: float):
    """Generalised advantage estimates and returns, arrays (T, N); an episode end cuts the sum."""
    advantage = np.zeros_like(reward)
    running = np.zeros_like(last_value)
    for t in reversed(range(len(reward))):
        next_value = last_value if t == len(reward) - 1 else value[t + 1]
        alive = 1.0 - done[t]
        delta = reward[t] + gamma * next_value * alive - value[t]
        running = delta + gamma * lam * alive * running
        advantage[t] = running
    return advantage, advantage + value


# -- training -------------------------------------------------------------------------

def checkpoint_path(args: PPOArgs) -> pathlib.Path:
    return pathlib.Path(args.out) / "ppo" / args.skill


def resumed(args: PPOArgs) -> tuple[int, float]:
    """Environment steps and wall seconds already in the checkpoint a resumed run continues."""
    path = checkpoint_path(args)
    if not (args.resume and path.with_suffix(".safetensors").exists()):
        return 0, 0.0
    training = read_checkpoint_config(path)[1]
    return int(training.get("env_steps", 0)), float(training.get("wall_s", 0.0))


def make_policy(args: PPOArgs) -> SkillPolicy:
    """The run's own checkpoint when resuming, else the BC checkpoint when given (it must
    hold the skill), else a new network."""
    rules = crafter_rules()
    library = skill_library(args.graph)
    if args.skill != FLAT and not library[args.skill].learned:
        raise UserError(f"{args.skill} is a {library[args.skill].kind} skill: a guarded action, "
                        f"nothing to train")
    init = args.init
    if args.resume and checkpoint_path(args).with_suffix(".safetensors").exists():
        init = checkpoint_path(args)
    if init:
        return load_policy(init, skills=[args.skill], action_names=rules.actions,
                           inventory_size=len(rules.items))
    if args.skill == FLAT:
        return SkillPolicy(PolicyConfig((FLAT,), tuple(rules.actions), (tuple(rules.actions),),
                                        inventory_size=len(rules.items), **args.network))
    return SkillPolicy(policy_config_for(library, [args.skill], rules.actions,
                                         inventory_size=len(rules.items), **args.network))


def train_ppo(args: PPOArgs, progress: Callable[[int, dict], None] | None = None) -> dict:
    """Train one skill with PPO; returns a summary (steps, wall time, last success rate, path)."""
    started = time.time()
    if args.threads:
        torch.set_num_threads(args.threads)
    steps, earlier_wall = resumed(args)
    started -= earlier_wall   # a resumed run's wall time counts the earlier runs' too
    warmup = args.value_warmup if args.init and not steps else 0
    # Seeds from the run's seed, the worker's index and the steps already done: a resumed
    # run plays new worlds.
    seeds = [int(s) for s in np.random.SeedSequence([args.seed, steps]).generate_state(
        max(args.workers, 1) + 1)]
    torch.manual_seed(seeds[-1])
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if args.device == "auto" else args.device))
    policy = make_policy(args).to(device)
    skill_id = policy.skill_index(args.skill)
    optimizer = torch.optim.Adam(policy.parameters(), lr=args.lr, eps=1e-5)
    config = policy.config.to_json()
    # What the rollout workers' episodes reward (and the graph naming their skill).
    rewards = dict(shaping=args.shaping, graph=args.graph, explore=args.explore,
                   death_penalty=args.death_penalty, lava_shaping=args.lava_shaping,
                   start_reach=args.start_reach)

    if args.workers > 0:
        import ray

        if not ray.is_initialized():
            ray.init(address=args.address, include_dashboard=False)
        actor = ray.remote(num_cpus=args.worker_cpus)(RolloutWorker)
        workers = [actor.remote(args.skill, config, args.envs_per_worker, seeds[i], **rewards)
                   for i in range(args.workers)]

        def collect(weights):
            ref = ray.put(weights)
            return ray.get([w.sample.remote(ref, args.rollout_len) for w in workers])
    else:
        local = RolloutWorker(args.skill, config, args.envs_per_worker, seeds[0], **rewards)

        def collect(weights):
            return [local.sample(weights, args.rollout_len)]

    writer = None
    if args.logdir:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(pathlib.Path(args.logdir) / args.skill))
    recent = collections.deque(maxlen=200)   # (success, length) of the latest episodes
    iteration = 0
    path = checkpoint_path(args).with_suffix(".safetensors")
    stats: dict = {}
    while steps < args.total_steps:
        weights = {k: v.detach().cpu().numpy() for k, v in policy.state_dict().items()}
        t0 = time.perf_counter()
        batches = collect(weights)
        rollout_s = time.perf_counter() - t0
        for b in batches:
            recent.extend(b["episodes"])
        cat = {k: np.concatenate([b[k] for b in batches], axis=1)
               for k in ("image", "inventory", "action", "logp", "value", "reward", "done")}
        last_value = np.concatenate([b["last_value"] for b in batches])
        advantage, returns = gae(cat["reward"], cat["value"], cat["done"], last_value,
                                 args.gamma, args.gae_lambda)
        batch_steps = cat["action"].size
        steps += batch_steps

        flat = {k: torch.as_tensor(v.reshape(batch_steps, *v.shape[2:]), device=device)
                for k, v in cat.items()}
        view = policy.prepare(flat["image"])   # once, not once per minibatch
        adv = torch.as_tensor(advantage.reshape(-1), device=device)
        ret = torch.as_tensor(returns.reshape(-1), device=device)
        skills = torch.full((batch_steps,), skill_id, dtype=torch.long, device=device)
        policy.train()
        warming = iteration < warmup
        for _ in range(args.epochs):
            for idx in torch.randperm(batch_steps, device=device).split(args.minibatch):
                logits, value = policy.heads(view[idx], flat["inventory"][idx], skills[idx])
                dist = torch.distributions.Categorical(logits=logits)
                logp = dist.log_prob(flat["action"][idx])
                ratio = torch.exp(logp - flat["logp"][idx])
                a = adv[idx]
                a = (a - a.mean()) / (a.std() + 1e-8)
                pg_loss = torch.max(-a * ratio, -a * ratio.clamp(1 - args.clip, 1 + args.clip)).mean()
                v_loss = 0.5 * ((value - ret[idx]) ** 2).mean()
                entropy = dist.entropy().mean()
                loss = pg_loss + args.vf_coef * v_loss - args.ent_coef * entropy
                if warming:
                    loss = args.vf_coef * v_loss
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(policy.parameters(), args.max_grad_norm)
                optimizer.step()

        iteration += 1
        stats = {"steps": steps, "rollout_sps": batch_steps / rollout_s,
                 "success_rate": float(np.mean([s for s, _ in recent])) if recent else 0.0,
                 "episode_length": float(np.mean([n for _, n in recent])) if recent else 0.0,
                 "episodes": len(recent), "reward": float(cat["reward"].sum() / batch_steps),
                 "pg_loss": pg_loss.item(), "v_loss": v_loss.item(), "entropy": entropy.item()}
        if writer:
            for key, value in stats.items():
                if key != "steps":
                    writer.add_scalar(f"ppo/{key}", value, steps)
        if progress:
            progress(steps, stats)
        log.info("%s: %s", args.skill, stats)
        if iteration % args.save_every == 0 or steps >= args.total_steps:
            path = save_policy(policy, checkpoint_path(args),
                               algorithm="ppo", skill=args.skill,
                               args=portable(dataclasses.asdict(args)),
                               env_steps=steps, wall_s=round(time.time() - started, 1),
                               final=stats)

    if writer:
        writer.close()
    wall = time.time() - started
    if args.workers > 0:
        for w in workers:
            ray.kill(w)
    return {"skill": args.skill, "env_steps": steps, "wall_s": round(wall, 1),
            "success_rate": stats.get("success_rate", 0.0), "checkpoint": portable_path(str(path)),
            "init": portable_path(str(args.init)) if args.init else None}
