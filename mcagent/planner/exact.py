"""Exact planning by A* over inventories: the cheapest plan within bounds, or proof that none exists.

Too slow for the agent's every step on long tasks (seconds to a minute for
Plan4MC's hardest), it serves three purposes: the fallback when the fast
planner gets stuck, a yardstick for its plans (the benchmark's optimality
column), and the property tests' check that "unreachable" is true.

States are inventories (and, for a skill goal, how often that skill has run);
edges are skills under the graph's rules (`semantics.Rules`); an edge costs
one skill, or its expected steps when costs are given. The heuristic is a
bill of materials from the state: for every item the goal needs, the fewest
runs of its producer that cover what the goal and those runs consume,
counting only items whose one producer makes nothing else (so each of those
runs is unavoidable) and taking the others as free. It never overestimates,
so A* returns an optimal plan. Finding skills clearing `*_nearby` items and
stations placed again are left out of the heuristic: they only add runs.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from mcagent.graph.schema import Skill
from mcagent.planner.analysis import relevant_skills
from mcagent.planner.semantics import Goal, Rules, needs


@dataclasses.dataclass(frozen=True)
class ExactResult:
    plan: list[str] | None  # an optimal plan, or None
    exhausted: bool  # True: the search finished, so no plan None means none exists within bounds
    states: int  # inventories expanded
    informed: bool  # whether the heuristic counted anything (else uniform-cost search)


class _Bill:
    """The bill-of-materials lower bound on the cost still to pay from an inventory."""

    def __init__(self, rules: Rules, goal: Goal, skills: Sequence[str],
                 cost_of: Callable[[str], float]):
        graph = rules.graph
        self.goal, self.cost_of = goal, cost_of
        makers: dict[str, list[Skill]] = {}
        for name in skills:
            for item in graph[name].obtain:
                makers.setdefault(item, []).append(graph[name])
        # Counted: items with one producer that makes nothing else. Its runs are
        # unavoidable; other items are taken as free, which only lowers the bound.
        # The goal skill's own runs are counted apart, never as a producer's.
        producer = {item: found[0] for item, found in makers.items()
                    if len(found) == 1 and len(found[0].obtain) == 1
                    and not (goal.kind == "skill" and found[0].name == goal.name)}
        self.informed = bool(producer)
        self.producer = producer
        # A held tool that a better one may stand in for: its producer is not unavoidable.
        self.optional_hold = {i for i in rules.items if rules.tiers.better(i)}
        roots = list(needs(graph[goal.name])) if goal.kind == "skill" else [goal.name]
        order: list[str] = []
        seen: set[str] = set()

        def visit(item: str) -> None:  # post-order: inputs before their consumers
            if item in seen:
                return
            seen.add(item)
            skill = producer.get(item)
            for child in needs(skill) if skill is not None else ():
                visit(child)
            order.append(item)

        for root in roots:
            visit(root)
        self.order = order[::-1]  # consumers first, so their demand is known
        self.goal_skill = graph[goal.name] if goal.kind == "skill" else None

    def __call__(self, inventory: Mapping[str, int], runs: int) -> float:
        consumed: Counter = Counter()
        held: Counter = Counter()
        total = 0.0
        if self.goal_skill is not None:
            left = self.goal.count - runs
            if left <= 0:
                return 0.0
            total += left * self.cost_of(self.goal_skill.name)
            self._demand(self.goal_skill, left, consumed, held)
        else:
            held[self.goal.name] = self.goal.count
        for item in self.order:
            skill = self.producer.get(item)
            hold = held[item]
            if item in self.optional_hold and not (self.goal_skill is None
                                                   and item == self.goal.name):
                hold = 0
            # max, not sum: a held item may be spent once its holders are done with it
            deficit = max(consumed[item], hold) - inventory.get(item, 0)
            if deficit <= 0 or skill is None:
                continue
            k = math.ceil(deficit / skill.obtain[item])
            total += k * self.cost_of(skill.name)
            self._demand(skill, k, consumed, held)
        return total

    @staticmethod
    def _demand(skill: Skill, k: int, consumed: Counter, held: Counter) -> None:
        for item, n in skill.consume.items():
            consumed[item] += n * k
        for item, n in needs(skill).items():
            if item not in skill.consume:  # held, not spent (an item both is counted as spent)
                held[item] = max(held[item], n)


def optimal_plan(rules: Rules, inventory: Mapping[str, int], goal: Goal,
                 cost_of: Callable[[str], float] = lambda name: 1.0,
                 max_cost: float = math.inf, max_states: int = 200_000) -> ExactResult:
    """The cheapest plan for `goal` of cost at most `max_cost`, expanding at most `max_states`.

    `exhausted` with no plan proves that no plan of cost at most `max_cost` exists.
    """
    skills = [s.name for s in rules.graph if s.name in relevant_skills(rules.graph, goal)]
    bill = _Bill(rules, goal, skills, cost_of)
    start = {i: n for i, n in inventory.items() if n > 0}
    counts = goal.kind == "skill"
    key0 = (frozenset(start.items()), 0)
    best = {key0: 0.0}
    parent: dict = {key0: None}
    tie = itertools.count()  # equal f: prefer deeper (greater g) states, then first pushed
    frontier = [(bill(start, 0), -0.0, next(tie), key0, start)]
    expanded = 0
    while frontier:
        _, neg_cost, _, key, inv = heapq.heappop(frontier)
        cost = -neg_cost
        if cost > best[key] + 1e-12:
            continue
        runs = key[1]
        if goal.reached(inv, {goal.name: runs}):
            plan = []
            while parent[key] is not None:
                key, name = parent[key]
                plan.append(name)
            return ExactResult(plan[::-1], True, expanded, bill.informed)
        if expanded >= max_states:
            return ExactResult(None, False, expanded, bill.informed)
        expanded += 1
        for name in skills:
            t = rules.step(name, inv)
            if t.after is None:
                continue
            child_runs = runs + (counts and name == goal.name)
            child = (frozenset(t.after.items()), child_runs)
            g = cost + cost_of(name)
            if g >= best.get(child, math.inf) - 1e-12:
                continue
            f = g + bill(t.after, child_runs)
            if f > max_cost + 1e-9:
                continue
            best[child] = g
            parent[child] = (key, name)
            heapq.heappush(frontier, (f, -g, next(tie), child, t.after))
    return ExactResult(None, True, expanded, bill.informed)
