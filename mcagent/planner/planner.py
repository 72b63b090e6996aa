"""Plans as records, and the planner's entry points: plan a goal, re-plan from where the agent is.

`Planner` holds a graph, its rules (with tool tiers) and optional skill costs;
`Planner.plan(target, inventory)` returns a `Plan` whose steps carry the
inventory after each skill and its expected cost. The agent calls
`Planner.replan(target, inventory, nearby)` after every skill, successful or
not, with the inventory it then has and what it observes or believes is
nearby (`semantics.nearby_after`): `Plan.first` is the next skill to run.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping

from mcagent.errors import UnknownNameError, UserError
from mcagent.graph.schema import SKILL_TYPES, SkillGraph
from mcagent.planner.analysis import (
    CountBounds, PlanNotFoundError, Reach, UnreachableError, choose_producers, explain_unreachable,
    reachability)
from mcagent.planner.costs import SkillCosts
from mcagent.planner.plan4mc import plan4mc_search
from mcagent.planner.exact import optimal_plan
from mcagent.planner.search import _Context, constructive_plan
from mcagent.planner.semantics import (
    Goal, Rules, Tiers, check_inventory, is_nearby, needs, resolve_goal, verify_plan, world_tiers)

ALGORITHMS = {
    "mcagent": "bill of materials + station-keeping schedule: short plans in milliseconds, "
               "cost-aware",
    "plan4mc": "Plan4MC's depth-first post-order search (the baseline)",
    "optimal": "A* over inventories: the cheapest plan, seconds to a minute on long tasks",
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
    """Plans on one graph with one algorithm, tool tiers and optional skill costs.

    `tiers` default to the graph's world's (`semantics.world_tiers`: Minecraft
    has them, Crafter does not); pass `NO_TIERS` for the rules as written.
    `max_states` bounds the exact search (`exact.py`) that is the `optimal`
    algorithm and backs the `mcagent` one where its schedule gets stuck.
    """

    def __init__(self, graph: SkillGraph, algorithm: str = "mcagent",
                 costs: SkillCosts | None = None, tiers: Tiers | None = None,
                 max_states: int = 200_000):
        if algorithm not in ALGORITHMS:
            raise UnknownNameError("algorithm", algorithm, ALGORITHMS)
        if costs is not None:
            costs.check(graph)
        self.graph, self.algorithm, self.costs = graph, algorithm, costs
        self.rules = Rules(graph, world_tiers(graph.world) if tiers is None else tiers)
        self.max_states = max_states

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
        skills = {"plan4mc": self._plan4mc, "mcagent": self._mcagent,
                  "optimal": self._optimal}[self.algorithm](goal, start)
        verdict = verify_plan(self.rules, skills, start, goal)
        if not verdict.valid and self.algorithm != "plan4mc":
            raise AssertionError(f"{self.algorithm} planner produced an invalid plan: "
                                 f"{verdict.message}")
        return Plan(goal, start, self._steps(skills, start), self.algorithm,
                    self.costs is not None, (time.perf_counter() - began) * 1000,
                    verdict.valid, "" if verdict.valid else verdict.message)

    def replan(self, target: str, inventory: Mapping[str, int],
               nearby: Iterable[str] | None = None, count: int = 1) -> Plan:
        """The plan from where the agent is now; `Plan.first` is the skill to run next.

        The agent calls this after every skill, successful or not. `inventory` is
        what the world reports (items no skill mentions are ignored); `nearby`,
        when given, is the set of `*_nearby` items the agent observes or believes
        (see `semantics.nearby_after`) and replaces any in `inventory`. For a
        skill target, the agent stops once that skill has succeeded `count` times
        and asks for the remaining count.
        """
        state = dict(inventory)
        if nearby is not None:
            state = {i: n for i, n in state.items() if not is_nearby(i)}
            for item in nearby:
                if not is_nearby(item):
                    raise UserError(f"nearby: {item!r} is not a *_nearby item")
                state[item] = 1
        return self.plan(target, state, count, strict=False)

    def _reach(self, goal: Goal, start: dict[str, int]) -> Reach:
        """What the graph allows from `start`; raises, naming why, if the goal is not in it."""
        reach = reachability(self.rules, start)
        if not reach.goal_reachable(goal):
            raise explain_unreachable(self.rules, reach, goal)
        bounds = CountBounds(self.rules, start, reach)
        if goal.kind == "item":
            most = bounds.peak[goal.name]
        else:
            most = bounds.runs(self.graph[goal.name])
        if most < goal.count:
            # Reachability ignores counts; these bounds do not. Say which inputs are scarce.
            skills = self.graph.producers(goal.name) if goal.kind == "item" else [
                self.graph[goal.name]]
            scarce = sorted({f"{i} (at most {bounds.peak[i]:g} at once)" for s in skills
                             for i in needs(s) if bounds.peak[i] < math.inf})
            why = f"; it is made from {', '.join(scarce)}" if scarce else ""
            raise UnreachableError(f"cannot reach {goal}: at most {most:g} can be had{why}",
                                   goal)
        return reach

    def _plan4mc(self, goal: Goal, start: dict[str, int]) -> list[str]:
        if goal.kind == "skill":
            raise UserError("the plan4mc algorithm plans for items only; "
                            f"{goal.name!r} is a skill (use --algorithm mcagent)")
        self._reach(goal, start)  # also keeps the recursion off closed cycles
        skills, lacking = plan4mc_search(self.graph, goal.name, start, goal.count)
        if lacking:
            items = ", ".join(f"{i} x{n}" for i, n in lacking.items())
            raise UnreachableError(f"cannot reach {goal}: plan4mc's search lacks {items}",
                                   goal, tuple(lacking))
        return skills

    def _mcagent(self, goal: Goal, start: dict[str, int]) -> list[str]:
        if goal.reached(start, {}):
            return []
        reach = self._reach(goal, start)
        choice = choose_producers(self.rules, reach, start, self.cost_of)
        skills = constructive_plan(_Context(self.rules, choice, goal, self.cost_of), start)
        return skills if skills is not None else self._exact(goal, start)

    def _optimal(self, goal: Goal, start: dict[str, int]) -> list[str]:
        self._reach(goal, start)
        return self._exact(goal, start)

    def _exact(self, goal: Goal, start: dict[str, int]) -> list[str]:
        found = optimal_plan(self.rules, start, goal, self.cost_of, max_states=self.max_states)
        if found.plan is not None:
            return found.plan
        if found.exhausted:
            raise UnreachableError(f"cannot reach {goal}: no sequence of skills gets there "
                                   "(the counts it needs cannot all be had)", goal)
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
