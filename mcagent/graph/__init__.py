"""Skill graphs: what each skill consumes, requires, equips and obtains; checks, ground truth, scores, LLM builds."""

from mcagent.graph.schema import SKILL_TYPES, Skill, SkillGraph, load_graph, save_graph

__all__ = ["SKILL_TYPES", "Skill", "SkillGraph", "load_graph", "save_graph"]
