"""What a graph allows from an inventory: relaxed reachability, why a goal is out of reach, producer choice.

Relaxed reachability forgets counts but keeps the one rule that makes `*_nearby`
items special: a finding skill clears them. It tracks one "context" per
finding skill (what is nearby after it) plus the start, so a skill that needs
two things nearby which only two different finding skills give is seen to be
impossible. It over-approximates what a real plan can do, so "not reachable"
here is a proof that no plan exists.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping

from mcagent.errors import UserError
from mcagent.graph.schema import Skill, SkillGraph
from mcagent.planner.semantics import Goal, Rules, is_nearby, needs

START = ""  # the context before any finding skill has run


class UnreachableError(UserError):
    """No plan exists: the message names the missing base items, conflicts or cycles."""

    def __init__(self, message: str, goal: Goal | None = None,
                 missing: tuple[str, ...] = (), cycles: tuple[tuple[str, ...], ...] = ()):
        super().__init__(message)
        self.goal, self.missing, self.cycles = goal, missing, cycles


class CyclicGraphError(UnreachableError):
    """The goal depends on items that only each other can make."""


class PlanNotFoundError(UserError):
    """The planners gave up within their limits; a plan may still exist."""


@dataclasses.dataclass
class Reach:
    """Relaxed reachability from one inventory."""

    items: set[str]  # non-nearby items some plan might hold
    contexts: dict[str, set[str]]  # finding skill (or START) -> nearby items after it
    skills: set[str]  # skills some plan might run

    def has(self, item: str) -> bool:
        if is_nearby(item):
            return any(item in nearby for nearby in self.contexts.values())
        return item in self.items

    def goal_reachable(self, goal: Goal) -> bool:
        return goal.name in self.skills if goal.kind == "skill" else self.has(goal.name)


def reachability(rules: Rules, inventory: Mapping[str, int]) -> Reach:
    graph, tiers = rules.graph, rules.tiers
    items = {i for i, n in inventory.items() if n > 0 and not is_nearby(i)}
    contexts = {START: {i for i, n in inventory.items() if n > 0 and is_nearby(i)}}
    runnable: set[str] = set()
    spec = [(s, needs(s), [i for i in s.obtain if not is_nearby(i)],
             [i for i in s.obtain if is_nearby(i)]) for s in graph]

    def held(item: str, nearby: set[str]) -> bool:
        if is_nearby(item):
            return item in nearby
        return item in items or any(b in items for b in tiers.better(item))

    # Per context, the skills not yet applied there: effects only grow, so once is enough.
    pending = {START: list(spec)}
    changed = True
    while changed:
        changed = False
        for key in list(pending):
            nearby, left = contexts[key], []
            for entry in pending[key]:
                skill, need, real, near = entry
                if not all(held(i, nearby) for i in need):
                    left.append(entry)
                    continue
                changed = True
                runnable.add(skill.name)
                items.update(real)
                if skill.skill_type != 0:
                    nearby.update(near)
                elif skill.name not in contexts:
                    contexts[skill.name] = set(near)
                    pending[skill.name] = list(spec)
            pending[key] = left
    return Reach(items, contexts, runnable)


def explain_unreachable(rules: Rules, reach: Reach, goal: Goal) -> UnreachableError:
    """Why `goal` is out of reach: base items nobody makes, nearby conflicts, closed cycles."""
    graph = rules.graph
    missing: list[str] = []
    cycles: list[tuple[str, ...]] = []
    conflicts: list[str] = []
    seen: set[str] = set()

    def ok(item: str) -> bool:
        return reach.has(item) or any(reach.has(b) for b in rules.tiers.better(item))

    def item_blocked(item: str, stack: list[str]) -> None:
        if item in stack:
            cycle = tuple(stack[stack.index(item):] + [item])
            if cycle not in cycles:
                cycles.append(cycle)
            return
        if item in seen or ok(item):
            return
        seen.add(item)
        producers = graph.producers(item)
        if not producers and item not in missing:
            missing.append(item)
        for skill in producers:
            skill_blocked(skill, stack + [item])

    def skill_blocked(skill: Skill, stack: list[str]) -> None:
        lacking = [i for i in needs(skill) if not ok(i)]
        for item in lacking:
            item_blocked(item, stack)
        if not lacking:
            near = [i for i in needs(skill) if is_nearby(i)]
            conflicts.append(f"skill {skill.name} needs {' and '.join(near)} at once, but no "
                             "finding skill leaves them all nearby (finding clears *_nearby)")

    if goal.kind == "skill":
        skill_blocked(graph[goal.name], [])
    else:
        item_blocked(goal.name, [])
    parts = []
    if missing:
        parts.append(f"it needs {', '.join(missing)}, which no skill obtains and the "
                     "inventory lacks")
    closed = [c for c in cycles if not missing]
    if closed:
        parts.append("; ".join(f"{' -> '.join(c)} is a cycle: each needs the next and "
                               "nothing else obtains them" for c in closed))
    parts.extend(dict.fromkeys(conflicts))
    if not parts:
        parts.append("no skill sequence reaches it")
    message = f"cannot reach {goal}: " + "; ".join(parts)
    error_type = CyclicGraphError if closed and not missing and not conflicts else UnreachableError
    return error_type(message, goal, tuple(missing), tuple(cycles))


class CountBounds:
    """Upper bounds on how many of each item can be had, and how often a skill can run.

    An item's `total` bound is what is held plus what its producers can add
    over a whole plan, each running as often as its scarcest consumed input
    allows, and never where `reach` says it cannot run or an input it must hold
    can never be held at once (`peak`: a finding skill sets a `*_nearby` count,
    it does not add to it). Computed from below to the least fixed point;
    items still growing after many rounds are taken as unlimited, so a bound is
    never too low: a goal above it is out of reach.
    """

    def __init__(self, rules: Rules, inventory: Mapping[str, int], reach: Reach):
        self.rules, self.reach = rules, reach
        graph = rules.graph
        items = sorted(rules.items)
        self.total = {i: float(inventory.get(i, 0)) for i in items}
        self.peak = dict(self.total)
        self._makers = {i: [s for s in graph.producers(i) if s.name in reach.skills]
                        for i in items}
        unlimited: set[str] = set()
        rounds = 2 * len(items) + 4
        while True:
            for _ in range(rounds):
                changed = self._round(inventory, unlimited)
                if not changed:
                    return
            unlimited |= changed  # still growing: claim no bound (each pass adds one at least)

    def runs(self, skill: Skill) -> float:
        if skill.name not in self.reach.skills:
            return 0
        better = self.rules.tiers.better
        for item, n in needs(skill).items():  # all held at once (a better tool may stand in)
            if self.peak[item] < n and not (item not in skill.consume and better(item)):
                return 0
        most = min((self.total[i] / n for i, n in skill.consume.items() if n > 0),
                   default=math.inf)
        return most if math.isinf(most) else math.floor(most)

    def _round(self, inventory: Mapping[str, int], unlimited: set[str]) -> set[str]:
        changed = set()
        for item, makers in self._makers.items():
            if item in unlimited:
                total = peak = math.inf
            else:
                total = peak = float(inventory.get(item, 0))
                for skill in makers:
                    gain = skill.obtain[item] - skill.consume.get(item, 0)
                    if gain <= 0:  # spends as much as it makes: adds nothing
                        continue
                    if skill.skill_type == 0 and is_nearby(item):
                        total = math.inf  # found again and again; at once, what one finding gives
                        peak = max(peak, float(gain))
                    else:
                        more = gain * self.runs(skill)
                        total, peak = total + more, peak + more
            if (total, peak) != (self.total[item], self.peak[item]):
                self.total[item], self.peak[item] = total, peak
                changed.add(item)
        return changed


def relevant_skills(graph: SkillGraph, goal: Goal) -> set[str]:
    """Skills that could matter for `goal`: those obtaining anything it depends on, transitively."""
    wanted: set[str] = set()
    skills: set[str] = set()
    todo = [goal.name] if goal.kind == "item" else []
    if goal.kind == "skill":
        skills.add(goal.name)
        todo.extend(needs(graph[goal.name]))
    while todo:
        item = todo.pop()
        if item in wanted:
            continue
        wanted.add(item)
        for skill in graph.producers(item):
            if skill.name not in skills:
                skills.add(skill.name)
                todo.extend(needs(skill))
    return skills


@dataclasses.dataclass(frozen=True)
class Choice:
    """For each item, the producer to use, and the estimated cost of one more unit."""

    producer: Mapping[str, Skill]
    unit_cost: Mapping[str, float]


def choose_producers(rules: Rules, reach: Reach, inventory: Mapping[str, int],
                     cost_of: Callable[[str], float]) -> Choice:
    """Cheapest producer per item by an additive estimate, counting held tools as free.

    The estimate spreads a skill's cost and inputs over what it yields, so a recipe
    giving 4 planks costs a quarter of a log per plank. Ties go to the first
    producer in file order.
    """
    graph = rules.graph

    def free(item: str) -> bool:
        return inventory.get(item, 0) > 0 or any(inventory.get(b, 0) > 0
                                                 for b in rules.tiers.better(item))

    cost = {item: math.inf for item in rules.items}
    producer: dict[str, Skill] = {}
    skills = [s for s in graph if s.name in reach.skills]
    for _ in range(len(cost) + 2):
        changed = False
        for skill in skills:
            need = needs(skill)
            spent = cost_of(skill.name) + sum(n * cost[i] for i, n in skill.consume.items())
            held = sum(0.0 if free(i) else cost[i] for i in need if i not in skill.consume)
            if math.isinf(spent) or math.isinf(held):
                continue
            for item, n in skill.obtain.items():
                value = spent / n + held
                if value < cost[item] * (1 - 1e-9) - 1e-12:
                    cost[item], producer[item] = value, skill
                    changed = True
        if not changed:
            break
    return Choice(producer, cost)
