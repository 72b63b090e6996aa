"""Plans as records, and the planner's entry points: plan a goal, re-plan from where the agent is.

`Planner` holds a graph, its rules (with tool tiers) and optional skill costs;
`Planner.plan(target, inventory)` returns a `Plan` whose steps carry the
inventory after each skill and its expected cost. The agent calls it again
after every skill, successful or not, with the inventory it then has (and what
it believes is nearby, see `semantics.nearby_after`): `Plan.first` is the next
skill to run.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Mapping

from mcagent.errors import UnknownNameError, UserError
from mcagent.graph.schema import SKILL_TYPES, SkillGraph
from mcagent.planner.analysis import (
    PlanNotFoundError, UnreachableError, choose_producers, explain_unreachable, reachability,
    relevant_skills)
from mcagent.planner.costs import SkillCosts
from mcagent.planner.plan4mc import plan4mc_search
from mcagent.planner.search import _Context, breadth_first_plan, constructive_plan
from mcagent.planner.semantics import (
    Goal, Rules, Tiers, check_inventory, resolve_goal, verify_plan)

ALGORITHMS = {
    "mcagent": "bill of materials + station-keeping schedule (shortest plans; cost-aware)",
    "plan4mc": "Plan4MC's depth-first post-order search (baseline)",
}


@dataclasses.dataclass(frozen=True)
class PlanStep:
    skill: str
    kind: str  # finding, manipulation, crafting
    gained: Mapping[str, int]  # what the skill obtains
    after: Mapping[str, int]  # the inventory after it, under the rules
    expected_steps: float  # of this skill: steps / success rate (1 without costs)
    substitutes: Mapping[str, str] = dataclasses.field(default_factory=dict)
    missing: Mapping[str, int] = dataclasses.field(default_factory=dict)  # only in invalid plans

    def to_dict(self) -> dict:
        data = {"skill": self.skill, "kind": self.kind, "gained": dict(self.gained),
                "after": dict(self.after), "expected_steps": self.expected_steps}
        if self.substitutes:
            data["substitutes"] = dict(self.substitutes)
        if self.missing:
            data["missing"] = dict(self.missing)
        return data


@dataclasses.dataclass(frozen=True)
class Plan:
    """The skills to run, in order, from `start` to `goal`, with what each leaves behind."""

    goal: Goal
    start: Mapping[str, int]
    steps: tuple[PlanStep, ...]
    algorithm: str
    costed: bool  # True when expected steps come from measured costs, not one per skill
    planning_ms: float = 0.0
    valid: bool = True  # False only for a baseline plan that breaks the rules
    problem: str = ""  # the verifier's message when not valid

    @property
    def skills(self) -> tuple[str, ...]:
        return tuple(s.skill for s in self.steps)

    @property
    def first(self) -> PlanStep | None:
        """The next skill to run; None when the goal already holds."""
        return self.steps[0] if self.steps else None

    @property
    def expected_steps(self) -> float:
        return sum(s.expected_steps for s in self.steps)

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(self.skills))

    def __len__(self) -> int:
        return len(self.steps)

    def to_dict(self) -> dict:
        return {"goal": {"kind": self.goal.kind, "name": self.goal.name,
                         "count": self.goal.count},
                "start": dict(self.start), "algorithm": self.algorithm,
                "length": len(self), "expected_steps": self.expected_steps,
                "costed": self.costed, "planning_ms": round(self.planning_ms, 3),
                "valid": self.valid, **({"problem": self.problem} if self.problem else {}),
                "counts": self.counts, "steps": [s.to_dict() for s in self.steps]}


class Planner:
    """Plans on one graph with one algorithm, optional tool tiers and skill costs.

    `max_depth` and `max_states` bound the breadth-first search that backs the
    constructive planner on graphs where it gets stuck.
    """

    def __init__(self, graph: SkillGraph, algorithm: str = "mcagent",
                 costs: SkillCosts | None = None, tiers: Tiers | None = None,
                 max_depth: int = 40, max_states: int = 200_000):
        if algorithm not in ALGORITHMS:
            raise UnknownNameError("algorithm", algorithm, ALGORITHMS)
        if tiers is None:  # tiers the graph itself declares, where its format carries them
            declared = getattr(graph, "tiers", None) or ()
            tiers = declared if isinstance(declared, Tiers) else Tiers(
                tuple(tuple(chain) for chain in declared))
        if costs is not None:
            costs.check(graph)
        self.graph, self.algorithm, self.costs = graph, algorithm, costs
        self.rules = Rules(graph, tiers)
        self.max_depth, self.max_states = max_depth, max_states

    def cost_of(self, skill: str) -> float:
        return self.costs.expected_steps(skill) if self.costs is not None else 1.0

    def plan(self, target: str, inventory: Mapping[str, int] | None = None, count: int = 1,
             strict: bool = True) -> Plan:
        """A plan for `count` of `target` (an item, or a skill to run) from `inventory`.

        Raises `UnreachableError` when no plan exists (naming the missing base items,
        nearby conflicts or closed cycles), `PlanNotFoundError` when the search gave
        up within its limits. `strict=False` drops items the graph never mentions.
        """
        began = time.perf_counter()
        goal = resolve_goal(self.rules, target, count)
        start = check_inventory(self.rules, inventory or {}, strict=strict)
        if self.algorithm == "plan4mc":
            skills = self._plan4mc(goal, start)
        else:
            skills = self._mcagent(goal, start)
        verdict = verify_plan(self.rules, skills, start, goal)
        if not verdict.valid and self.algorithm == "mcagent":
            raise AssertionError(f"mcagent planner produced an invalid plan: {verdict.message}")
        return Plan(goal, start, self._steps(skills, start), self.algorithm,
                    self.costs is not None, (time.perf_counter() - began) * 1000,
                    verdict.valid, "" if verdict.valid else verdict.message)

    replan = plan  # the agent's call after every skill: same question, from where it now is

    def _plan4mc(self, goal: Goal, start: dict[str, int]) -> list[str]:
        if goal.kind == "skill":
            raise UserError("the plan4mc algorithm plans for items only; "
                            f"{goal.name!r} is a skill (use --algorithm mcagent)")
        reach = reachability(self.rules, start)
        if not reach.goal_reachable(goal):  # also keeps the recursion off closed cycles
            raise explain_unreachable(self.rules, reach, goal)
        skills, lacking = plan4mc_search(self.graph, goal.name, start, goal.count)
        if lacking:
            items = ", ".join(f"{i} x{n}" for i, n in lacking.items())
            raise UnreachableError(f"cannot reach {goal}: plan4mc's search lacks {items}",
                                   goal, tuple(lacking))
        return skills

    def _mcagent(self, goal: Goal, start: dict[str, int]) -> list[str]:
        if goal.reached(start, {}):
            return []
        reach = reachability(self.rules, start)
        if not reach.goal_reachable(goal):
            raise explain_unreachable(self.rules, reach, goal)
        choice = choose_producers(self.rules, reach, start, self.cost_of)
        ctx = _Context(self.rules, choice, goal, self.cost_of)
        skills = constructive_plan(ctx, start)
        if skills is not None:
            return skills
        useful = relevant_skills(self.graph, goal) & reach.skills
        order = [s.name for s in self.graph if s.name in useful]
        skills, exhausted = breadth_first_plan(self.rules, start, goal, order,
                                               self.max_depth, self.max_states)
        if skills is not None:
            return skills
        if exhausted:
            raise UnreachableError(f"cannot reach {goal}: no plan of at most {self.max_depth} "
                                   "skills exists (the counts it needs cannot all be had)",
                                   goal)
        raise PlanNotFoundError(f"no plan found for {goal} within {self.max_states} "
                                "inventories searched; a plan may still exist")

    def _steps(self, skills: list[str], start: Mapping[str, int]) -> tuple[PlanStep, ...]:
        steps, inv = [], dict(start)
        for name in skills:
            t = self.rules.step(name, inv)
            inv = dict(t.after) if t.after is not None else inv  # a broken step changes nothing
            skill = self.graph[name]
            steps.append(PlanStep(name, SKILL_TYPES[skill.skill_type], dict(skill.obtain),
                                  inv, self.cost_of(name), dict(t.substitutes),
                                  dict(t.missing)))
        return tuple(steps)


def make_plan(graph: SkillGraph, target: str, inventory: Mapping[str, int] | None = None,
              count: int = 1, algorithm: str = "mcagent", costs: SkillCosts | None = None,
              tiers: Tiers | None = None) -> Plan:
    """One plan, in one call (see `Planner` to plan repeatedly on one graph)."""
    return Planner(graph, algorithm, costs, tiers).plan(target, inventory, count)
