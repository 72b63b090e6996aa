"""One evaluation episode: an agent by name plays one task from one seed; the result as a record.

Agents (`AGENTS`):

- `mcagent`: the hierarchical agent (`mcagent.agent.Agent`) with mcagent's planner;
- `plan4mc`: the same agent and skills with Plan4MC's planner (its own search order);
- `random`: uniform random actions, Crafter's usual floor;
- `flat-ppo`: one PPO policy over all 17 actions, trained on Crafter's own reward
  (`mcagent train flat`), with no planner and no skills.

The skill policies of the hierarchical agents come from `EvalSettings.skills`:
`checkpoints` (the trained skill set) or `expert` (the PRIVILEGED oracle
executor of `mcagent.oracle`; every record names where its policies came from).

`EpisodeRunner` is a plain class: `run.py` makes it a Ray actor, tests call it
in-process. It loads graphs and checkpoints once and plays many episodes.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import pathlib
import socket
import tempfile
import time
from collections.abc import Mapping

import numpy as np

from mcagent.errors import UnknownNameError, UserError
from mcagent.evaluation.results import skill_end
from mcagent.worlds import damage_cause

AGENTS = ("mcagent", "plan4mc", "random", "flat-ppo")
HIERARCHICAL = {"mcagent": "mcagent", "plan4mc": "plan4mc"}   # agent -> planner algorithm
RECORD_FORMAT = "mcagent-eval-episode/1"
# Evaluation seeds start here; recordings, SBD and skill training use seeds below 10^8.
FIRST_SEED = 1_000_000_000


@dataclasses.dataclass(frozen=True)
class EvalSettings:
    """What every episode of one evaluation shares."""

    graph: str                                   # skill graph the planners search
    skills: str = "checkpoints"                  # checkpoints | expert (privileged oracle)
    checkpoints: str = "checkpoints/skills"      # the trained skill set
    flat_checkpoint: str = "checkpoints/flat/ppo/crafter.safetensors"
    max_steps: int | None = None                 # override the tasks' step limits (tests)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def episode_key(agent: str, task: str, seed: int) -> str:
    return f"{agent}/{task}/{seed}"


class EpisodeRunner:
    """Plays episodes for one evaluation; keeps what it loaded between episodes."""

    def __init__(self, settings: EvalSettings):
        self.settings = settings
        self._graph = None
        self._library = None
        self._policies: dict | None = None
        self._flat = None

    # -- what the agents need, loaded once --------------------------------------
    def _skills(self):
        if self._graph is None:
            from mcagent.graph.schema import load_graph
            from mcagent.skills.library import skill_library

            path = pathlib.Path(self.settings.graph)
            if not path.exists():
                raise UserError(f"{path}: no skill graph there (pass --graph)")
            self._graph = load_graph(path, world="crafter")
            self._library = skill_library(path)
        return self._graph, self._library

    def _hierarchical(self, agent: str, env):
        from mcagent.agent import Agent
        from mcagent.agent_cli import load_policies, skill_costs
        from mcagent.planner import Planner

        graph, library = self._skills()
        if self.settings.skills == "expert":      # the oracle keeps per-episode state
            policies, source = load_policies("expert", library, env, self.settings.checkpoints)
        else:
            if self._policies is None:
                self._policies = load_policies("checkpoints", library, env,
                                               self.settings.checkpoints)
            policies, source = self._policies
        costs = skill_costs(self.settings.skills, self.settings.checkpoints, graph)
        planner = Planner(graph, algorithm="mcagent", costs=costs)
        if agent == "plan4mc":
            planner = ItemTargets(Planner(graph, algorithm="plan4mc", costs=costs),
                                  fallback=planner)
        return Agent(planner, library, policies, source=source)

    def check(self, agents) -> None:
        """Load what `agents` need, so a missing graph or checkpoint is one error up front."""
        from mcagent import worlds

        if any(a in HIERARCHICAL for a in agents):
            self._skills()
            if self.settings.skills != "expert":
                self._hierarchical("mcagent", worlds.make("crafter"))
        if "flat-ppo" in agents:
            self._flat_policy()

    # -- one episode ---------------------------------------------------------------
    def run(self, agent: str, task: str, seed: int, attempt: int = 1) -> dict:
        """Play `task` from `seed` with `agent`; the episode's record (see `RECORD_FORMAT`)."""
        from mcagent import worlds
        from mcagent.worlds.tasks import get_task

        if agent not in AGENTS:
            raise UnknownNameError("agent", agent, AGENTS)
        began = time.perf_counter()
        spec = get_task(task)
        score = spec.target_kind == "achievements"
        with tempfile.TemporaryDirectory(prefix="mcagent-eval-") as stats_dir:
            env = worlds.make("crafter", task=spec, max_steps=self.settings.max_steps,
                              stats_dir=stats_dir if score else None)
            watch = _Watch()
            if agent in HIERARCHICAL:
                played = self._play_hierarchical(agent, env, spec, seed, watch)
            elif agent == "random":
                played = self._play_flat(env, seed, watch, policy=None)
            else:
                played = self._play_flat(env, seed, watch, policy=self._flat_policy())
            stats = None
            if score:
                lines = (pathlib.Path(stats_dir) / "stats.jsonl").read_text().splitlines()
                stats = json.loads(lines[-1]) if lines else None
        achievements = {k: int(v) for k, v in env.player.achievements.items()}
        success = bool(played["success"])
        end = played["end"]
        cause = _cause(success, end)
        record = {
            "format": RECORD_FORMAT, "key": episode_key(agent, task, seed),
            "agent": agent, "task": task, "seed": int(seed),
            "world_seed": watch.world_seed, "success": success, "steps": int(played["steps"]),
            "end": end, "cause": cause,
            "death_by": watch.last_hurt if cause == "death" else None,
            "failed_skill": played.get("failed_skill"),
            "skill_at_end": played.get("skill_at_end"),
            "skills": played.get("skills", {}),
            "skill_ends": played.get("skill_ends", {}),
            "plan_length": played.get("plan_length"),
            "replans": played.get("replans", 0), "interrupts": played.get("interrupts", 0),
            "achievements": achievements,
            "unlocked": sorted(a for a, n in achievements.items() if n > 0),
            "policies": played["policies"],
            "crafter_stats": stats,
            "node": _node_id(), "host": socket.gethostname(), "pid": os.getpid(),
            "attempt": attempt, "wall_s": round(time.perf_counter() - began, 3),
        }
        return record

    def _play_hierarchical(self, agent: str, env, spec, seed: int, watch: "_Watch") -> dict:
        from mcagent.agent import EpisodeLog
        from mcagent.skills.policy import seed_policies

        runner = self._hierarchical(agent, env)
        seed_policies(seed)              # after loading: building a network draws numbers
        runner.on_step = watch.on_step
        log = EpisodeLog()
        result = runner.run(env, spec, seed=seed, log_to=log)
        watch.world_seed = log.events[0].get("world_seed")
        skills: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
        ends: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        failed, current = None, None
        for event in log.events:
            kind = event["event"]
            if kind == "skill_started":
                skills[event["skill"]][0] += 1
                current = event["skill"]
            elif kind == "skill_succeeded":
                skills[event["skill"]][1] += 1
            elif kind == "skill_failed":
                failed = event["skill"]
                ends[event["skill"]][skill_end(event["why"])] += 1
            elif kind == "interrupted" and event.get("skill"):
                ends[event["skill"]]["interrupted"] += 1
        plans = [e for e in log.events if e["event"] == "replanned" and e.get("plan") is not None]
        return {"success": result.success, "steps": result.steps, "end": result.end,
                "failed_skill": failed, "skill_at_end": current,
                "skills": {k: v for k, v in sorted(skills.items())},
                "skill_ends": {k: dict(sorted(v.items())) for k, v in sorted(ends.items())},
                "plan_length": len(plans[0]["plan"]) if plans else None,
                "replans": result.replans, "interrupts": result.interrupts,
                "policies": result.policies}

    def _flat_policy(self):
        if self._flat is None:
            self._flat = FlatPolicy(self.settings.flat_checkpoint)
        return self._flat

    def _play_flat(self, env, seed: int, watch: "_Watch", policy) -> dict:
        from mcagent.skills.policy import seed_policies

        seed_policies(seed)
        obs, info = env.reset(seed=seed)
        watch.world_seed = info.get("world_seed")
        rng = np.random.default_rng(seed)
        done = False
        while not done:
            action = int(rng.integers(env.action_space.n)) if policy is None else policy.act(obs)
            obs, _, terminated, truncated, info = env.step(action)
            watch.on_step(None, action, info, None, ())
            done = terminated or truncated
        end = "success" if info["success"] else "death" if terminated else "step limit"
        return {"success": info["success"], "steps": info["step"], "end": end,
                "policies": "uniform random actions" if policy is None else policy.source}


class FlatPolicy:
    """The flat PPO baseline (`mcagent train flat`): one policy, every action, no planner."""

    def __init__(self, path: str):
        from mcagent.skills.policy import load_policy
        from mcagent.skills.ppo import FLAT
        from mcagent.worlds.rules import crafter_rules

        if not pathlib.Path(path).exists():
            raise UserError(f"{path}: no flat PPO checkpoint (train one with `mcagent train "
                            f"flat`, or leave flat-ppo out of --agents)")
        rules = crafter_rules()
        self.policy = load_policy(path, skills=[FLAT], action_names=rules.actions,
                                  inventory_size=len(rules.items))
        self.skill_id = self.policy.skill_index(FLAT)
        self.source = f"flat PPO {path}"

    def act(self, obs) -> int:
        return int(self.policy.act(obs["image"][None], obs["inventory"][None], self.skill_id)[0])


class ItemTargets:
    """Plan4MC's planner for the agent: it plans for items only, so an achievement target
    becomes the item its skill obtains (`collect_wood`: one more wood than held now).
    Achievements with no such item (defeating a creature, the vitals food, drink and
    energy, placing a station: `stone_nearby` comes from finding stone as well) are
    planned by `fallback` (mcagent's planner)."""

    VITALS = ("health", "food", "drink", "energy")

    def __init__(self, planner, fallback):
        from mcagent.graph.crafter import crafter_truth

        self.planner, self.fallback = planner, fallback
        self.graph, self.rules = planner.graph, planner.rules
        self.items = {a: e["item"] for a, e in crafter_truth().achievements.items()}
        self.max_counts = crafter_truth().max_counts

    def replan(self, target: str, inventory, nearby=None, count: int = 1):
        from mcagent.planner.semantics import is_nearby

        item = self.items.get(target, target if target in self.max_counts else None)
        if item is None or item in self.VITALS or (is_nearby(item) and target in self.items):
            # No item to ask for; a placed station is `*_nearby`, which finding also gives.
            return self.fallback.replan(target, inventory, nearby, count)
        if is_nearby(item):
            return self.planner.replan(item, inventory, nearby, 1)
        want = int(inventory.get(item, 0)) + count if target in self.items else count
        if want > self.max_counts.get(item, 9):
            return self.fallback.replan(target, inventory, nearby, count)
        return self.planner.replan(item, inventory, nearby, want)


class _Watch:
    """What the world says as the episode goes: the last damage's cause."""

    def __init__(self):
        self.last_hurt: str | None = None
        self.world_seed: int | None = None

    def on_step(self, frame, action, info: Mapping, skill, plan) -> None:
        self.last_hurt = damage_cause(info["events"], self.last_hurt)


def _cause(success: bool, end: str) -> str:
    """One word for how an episode ended: success, death, timeout, unreachable or other."""
    if success:
        return "success"
    if end == "death":
        return "death"
    if end == "step limit":
        return "timeout"
    if end.startswith("unreachable"):
        return "unreachable"
    return "other"


def _node_id() -> str:
    """The Ray node this runs on, or `local` outside Ray."""
    try:
        import ray

        if ray.is_initialized():
            return ray.get_runtime_context().get_node_id()
    except ImportError:
        pass
    return "local"
