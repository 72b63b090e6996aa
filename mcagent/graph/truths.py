"""The ground truths mcagent knows, by world name."""

from __future__ import annotations

from mcagent.errors import UnknownNameError
from mcagent.graph.truth import Truth

WORLDS = ("crafter", "minecraft")


def truth_for(world: str) -> Truth:
    """Crafter's rules, or Minecraft 1.11.2's (minecraft-data + mcagent's extra rules)."""
    if world == "crafter":
        from mcagent.graph.crafter import crafter_truth

        return crafter_truth()
    if world == "minecraft":
        from mcagent.graph.minecraft import minecraft_truth

        return minecraft_truth()
    raise UnknownNameError("world", world, WORLDS)
