"""Skill policies: the skill library, skill episodes, BC from segments, PPO, evaluation.

Modules load torch and Ray only when used; see mcagent/skills/README.md.
"""

from mcagent.skills.library import DIAMOND_CHAIN, SURVIVAL, SkillLibrary, SkillSpec, skill_library

__all__ = ["DIAMOND_CHAIN", "SURVIVAL", "SkillLibrary", "SkillSpec", "skill_library"]
