"""Skill planning over a skill graph: the graph's semantics, mcagent's planner, Plan4MC's baseline, A*."""

from mcagent.planner.analysis import CyclicGraphError, PlanNotFoundError, UnreachableError
from mcagent.planner.costs import SkillCost, SkillCosts, load_costs, save_costs
from mcagent.planner.exact import optimal_plan
from mcagent.planner.planner import ALGORITHMS, Plan, Planner, PlanStep, make_plan
from mcagent.planner.semantics import (
    NO_TIERS, Goal, Rules, Tiers, Transition, apply_skill, load_tiers, nearby_after, verify_plan,
    world_tiers)

__all__ = ["ALGORITHMS", "CyclicGraphError", "Goal", "NO_TIERS", "Plan", "PlanNotFoundError",
           "PlanStep", "Planner", "Rules", "SkillCost", "SkillCosts", "Tiers", "Transition",
           "UnreachableError", "apply_skill", "load_costs", "load_tiers", "make_plan",
           "nearby_after", "optimal_plan", "save_costs", "verify_plan", "world_tiers"]
