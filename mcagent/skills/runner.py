"""Run skills in a world: learned skills from checkpoints, crafting and placing as guarded actions.

A checkpoint folder (default `checkpoints/skills/`) holds `bc.safetensors`
(one policy for every skill it was cloned on) and `ppo/<skill>.safetensors`
(one per fine-tuned skill). `load_skill_set` picks, per skill, the PPO
checkpoint when there is one and BC otherwise (`source="best"`), or only one
of the two. BC counts for a skill only when its segments held frames of it
(the network has a head for every learned skill, trained or not).

`SearchRunner` runs a finding skill as the agent does: the learned policy
under the agent's memory walks (what `mcagent skills evaluate --as-agent`
measures).
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping

from mcagent.errors import UserError
from mcagent.skills.library import (GuardedSkill, RememberedWalk, SkillLibrary, SkillSpec,
                                    load_settings, memory_step, remember_view, stepped_onto)
from mcagent.skills.policy import SkillPolicy, load_policy, read_checkpoint_config
from mcagent.worlds.rules import crafter_rules

SOURCES = ("best", "bc", "ppo")
DEFAULT_DIR = pathlib.Path("checkpoints") / "skills"


class SkillRunner:
    """One skill's actor: `act(obs, info)` gives an action name, or None when it cannot run."""

    def __init__(self, spec: SkillSpec, policy: SkillPolicy | None = None,
                 checkpoint: str | None = None, greedy: bool = False):
        self.spec = spec
        self.checkpoint = checkpoint
        self.greedy = greedy
        self.guarded = None if spec.learned else GuardedSkill(spec)
        self.policy = policy
        if spec.learned and policy is None:
            raise UserError(f"skill {spec.name} is learned but has no checkpoint")
        self.skill_id = policy.skill_index(spec.name) if policy is not None else None

    def act(self, obs: Mapping, info: Mapping) -> str | None:
        if self.guarded is not None:
            return self.guarded.act(info)
        action = self.policy.act(obs["image"][None], obs["inventory"][None], self.skill_id,
                                 greedy=self.greedy)[0]
        return self.policy.config.action_names[int(action)]


class SearchRunner:
    """A finding skill as the agent's `_run_skill` runs it, for one skill episode: a step
    out of an arrow's way first (`Survival.dodge`); then the way to a target the episode's
    frames have shown (`RememberedWalk.act`); for a target never seen, the memory's
    frontier (`RememberedWalk.explore`, once the policy has run skills.yaml's
    `explore.after` steps); the learned policy when neither has a step; never a step into
    lava. What the agent does beside the skill (shelter at night, fights, meals) is left
    out: `SkillEnv` stands in for it as it does for the policy alone. `reset` before each
    episode."""

    def __init__(self, runner: SkillRunner, semantic_ids: Mapping[str, int],
                 settings: Mapping | None = None):
        from mcagent.agent import Survival     # the agent's layer imports the skills

        if runner.spec.kind != "finding" or runner.policy is None:
            raise UserError(f"skill {runner.spec.name}: only a learned finding skill "
                            "runs under the memory walks")
        self.runner, self.checkpoint = runner, runner.checkpoint
        settings = load_settings() if settings is None else settings
        self.ids = dict(semantic_ids)
        self.walk = RememberedWalk(runner.spec, self.ids, settings=settings)
        explore = settings["explore"]
        self.explore_after: int | None = explore["after"]
        self.prefer: str | None = (explore.get("prefer") or {}).get(runner.spec.name)
        self.view = tuple(settings["view"])
        self.survival = Survival()
        self.counts = {"dodge": 0, "walk": 0, "explore": 0, "policy": 0}
        self.reset()

    def reset(self) -> None:
        self.seen, self.before, self.ran = None, None, 0

    def act(self, obs: Mapping, info: Mapping) -> str:
        self.seen = remember_view(self.seen, info, self.view)
        action, by = self.survival.dodge(info, self.ids, self.walk.walkable, self.before,
                                         self.view), "dodge"
        if action is None:
            action, by = memory_step(self.walk, {**info, "seen": self.seen}, self.ran,
                                     self.explore_after, self.prefer)
        if action is None:
            action = self.runner.act(obs, info)
        if "lava" in self.ids and stepped_onto(info, action) == self.ids["lava"]:
            action = "noop"
        self.counts[by] += 1
        self.before, self.ran = info, self.ran + 1
        return action


def checkpoint_for(skill: str, folder: str | pathlib.Path, source: str = "best") -> pathlib.Path | None:
    """The checkpoint that runs `skill` in `folder`, or None when there is none."""
    if source not in SOURCES:
        raise UserError(f"unknown checkpoint source {source!r}; valid: {', '.join(SOURCES)}")
    folder = pathlib.Path(folder)
    ppo = folder / "ppo" / f"{skill}.safetensors"
    bc = folder / "bc.safetensors"
    if source in ("best", "ppo") and ppo.exists():
        return ppo
    if source in ("best", "bc") and bc.exists():
        config, training = read_checkpoint_config(bc)
        if skill in config.skills and skill in training.get("skills_with_data", config.skills):
            return bc
    return None


def load_skill_set(library: SkillLibrary, folder: str | pathlib.Path = DEFAULT_DIR,
                   source: str = "best", skills=None, greedy: bool = False,
                   strict: bool = False) -> dict[str, SkillRunner]:
    """Runners for the library's skills; learned skills without a checkpoint are left out
    (or, with `strict`, an error naming them and the folder)."""
    rules = crafter_rules()
    cache: dict[pathlib.Path, SkillPolicy] = {}
    runners, missing = {}, []
    for name in skills or library.skills:
        spec = library[name]
        if not spec.learned:
            runners[name] = SkillRunner(spec)
            continue
        path = checkpoint_for(name, folder, source)
        if path is None:
            missing.append(name)
            continue
        if path not in cache:
            cache[path] = load_policy(path, skills=[name], action_names=rules.actions,
                                      inventory_size=len(rules.items))
        runners[name] = SkillRunner(spec, cache[path], str(path), greedy)
    if strict and missing:
        raise UserError(f"{folder}: no {source} checkpoint for skill(s) {missing}")
    return runners

