"""Oracle skill executor: drives exactly one named skill with the scripted expert's privileged helpers.

PRIVILEGED: it reads Crafter's whole semantic map and the player's position
(`info`), which no learned policy sees. It exists so the hierarchy (planner ->
skills -> re-planning -> survival interrupts) runs end to end in a real world
before a trained skill set ships; every log and report names it `oracle`.
Unlike `ExpertPlayer.act`, it never chooses what to do: it pursues the skill
the agent asks for, with the expert's path search (mining and bridging).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mcagent.recordings.expert import ExpertPlayer
from mcagent.skills.library import GuardedSkill, SkillLibrary

SOURCE = "oracle (privileged: semantic map + path search)"
CREATURES = ("cow", "zombie", "skeleton", "plant")


class OracleSkills:
    """One privileged executor per episode; `runners()` gives each library skill an actor."""

    source = SOURCE

    def __init__(self, library: SkillLibrary, env):
        self.library = library
        self.env = env
        self.player = ExpertPlayer()
        self._last_step = None

    def runners(self) -> dict[str, "OracleRunner"]:
        return {spec.name: OracleRunner(self, spec.name) for spec in self.library}

    def observe(self, obs: Mapping, info: Mapping) -> None:
        step = int(info.get("step", 0))
        if self._last_step is None or step <= self._last_step:   # a new episode
            self.player.reset(self.env, obs, info)
        self._last_step = step
        self.player.t += 1
        self.player._observe(info)

    def action(self, skill: str, obs: Mapping, info: Mapping) -> str | None:
        self.observe(obs, info)
        spec = self.library[skill]
        p = self.player
        if not spec.learned:
            return GuardedSkill(spec).act(info)
        if skill == "wake_up":
            return "noop" if info["sleeping"] else "sleep"
        if skill == "build_shelter":
            # The expert's two-cell pocket: dug into stone or walled with it, sealed inside.
            p.need = "rest"
            step = p._go_to_shelter(info)
            return None if step is None else step[0]
        p.need, p.shelter = None, None
        if spec.kind == "finding":
            step = self._go_to(spec.target, skill) or p._explore(skill)
        elif spec.target in CREATURES:
            step = self._go_to(spec.target, skill)
            if step is None and spec.target == "cow":
                step = p._hunt()
        elif spec.target is not None:
            step = p._use_material(spec.target, skill)
        else:
            step = None
        action = step[0] if step else "noop"
        if action.startswith("move_") and p._would_enter_lava(info, action):
            action = "noop"
        return action

    def _go_to(self, thing: str, skill: str):
        p = self.player
        if thing in CREATURES:
            cells = np.argwhere(p.sem == p.ids[thing])
        else:
            cells = np.argwhere(p.known & (p.material == p.ids[thing]))
        if not len(cells):
            return None
        return p._approach([tuple(int(v) for v in c) for c in cells], skill)


class OracleRunner:
    """The `act(obs, info)` of one skill, shared state with its `OracleSkills`."""

    privileged = True    # it sees the whole map: the agent's memory walks are not for it

    def __init__(self, oracle: OracleSkills, skill: str):
        self.oracle, self.skill = oracle, skill
        self.source = SOURCE

    def act(self, obs: Mapping, info: Mapping) -> str | None:
        return self.oracle.action(self.skill, obs, info)
