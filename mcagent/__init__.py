"""mcagent: a hierarchical skill-planning agent for Minecraft-like worlds."""

__version__ = "0.1.0"
