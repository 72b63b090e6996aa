"""Worlds behind one Gymnasium interface, chosen by name."""

from __future__ import annotations

import gymnasium

from mcagent.errors import UnknownNameError
from mcagent.worlds.tasks import Task, get_suite, get_task, suites

WORLDS = {
    "crafter": "mcagent.worlds.crafter_world:CrafterEnv",
    "minedojo": "mcagent.worlds.minedojo_world:MineDojoEnv",
}
GYM_IDS = {"crafter": "mcagent/Crafter-v0", "minedojo": "mcagent/MineDojo-v0"}


def make(world: str = "crafter", task: Task | str | None = None, **kwargs) -> gymnasium.Env:
    """A world by name, optionally set up for a task (a `Task` or a task name)."""
    if world not in WORLDS:
        raise UnknownNameError("world", world, WORLDS)
    if isinstance(task, str):
        task = get_task(task, world)
    return gymnasium.make(GYM_IDS[world], task=task, disable_env_checker=True, **kwargs).unwrapped


def damage_cause(events, default: str | None = None) -> str | None:
    """What dealt the damage one step's `events` report (Crafter's `hurt:<cause>`), else
    `default` (no damage, or a world that names no cause)."""
    return next((e.split(":", 1)[1] for e in events if e.startswith("hurt:")), default)


def _register() -> None:
    for world, entry_point in WORLDS.items():
        if GYM_IDS[world] not in gymnasium.registry:
            gymnasium.register(GYM_IDS[world], entry_point=entry_point)


_register()

__all__ = ["WORLDS", "Task", "damage_cause", "get_suite", "get_task", "make", "suites"]
