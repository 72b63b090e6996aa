"""mcagent's planner: a bill of materials, then a schedule that keeps stations and gathers first.

Two stages, both cheap:

1. **Bill of materials.** From the goal down, in topological order, each item's
   total demand (everything consumed, plus the most any skill requires to hold),
   minus what is held, is made by its cheapest producer in whole batches
   (`ceil(deficit / yield)` runs). Tools are made once; a better tool that is
   held stands in for a lesser one when tiers are declared.
2. **Schedule.** A forward simulation under the graph's rules runs those skills
   in an order that wastes nothing: whatever can run without finding anything
   runs first; a station (a placed `*_nearby` item) is placed only when a
   skill is waiting for it; finding skills run only when nothing else can,
   and those that serve a skill that can then run come first. If the schedule
   discovers that a station was cleared by a finding skill and must be placed
   again, the bill is redone with those extra runs counted from the start, so
   the extra materials are gathered with the rest (a fixed point, a few passes).

Two schedules are tried (finding before placing, and placing before finding
when a waiting skill is one placement away) and the cheapest plan is kept.
Should both get stuck (graphs where the order of finding skills is a puzzle),
a breadth-first search over inventories takes over within bounds.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping

from mcagent.graph.schema import Skill
from mcagent.planner.analysis import Choice
from mcagent.planner.semantics import Goal, Rules, is_nearby, needs

GOAL = "<goal>"


class _Context:
    """Per-call constants: compiled rules, producer choice, orders, skill classes."""

    def __init__(self, rules: Rules, choice: Choice, goal: Goal, cost_of: Callable[[str], float]):
        self.rules, self.choice, self.goal, self.cost_of = rules, choice, goal, cost_of
        graph = rules.graph
        self.skills: dict[str, Skill] = dict(graph.skills)
        self.needs = {name: needs(s) for name, s in self.skills.items()}
        self.finding = {name for name, s in self.skills.items() if s.skill_type == 0}
        self.placing = {name for name, s in self.skills.items()
                        if s.skill_type != 0 and s.obtain and all(map(is_nearby, s.obtain))}
        self.item_order = self._item_order()
        # Depth: the longest chain of chosen producers from the goal down to an item.
        depth = dict.fromkeys(self.item_order, 0)
        for item in self.item_order:
            producer = choice.producer.get(item)
            for child in self.needs[producer.name] if producer is not None else ():
                depth[child] = max(depth[child], depth[item] + 1)
        position = {item: i for i, item in enumerate(self.item_order)}
        file_order = {name: i for i, name in enumerate(self.skills)}

        def rank(name: str) -> tuple:
            made = [i for i in self.skills[name].obtain if i in depth]
            if not made:
                return (1, 0, 0, file_order[name])
            deepest = max(made, key=lambda i: (depth[i], position[i]))
            return (0, -depth[deepest], -position[deepest], file_order[name])

        # Deepest first: gather and craft bottom-up, what is needed earliest first.
        self.by_rank = sorted(self.skills, key=rank)
        self.rank_of = {name: i for i, name in enumerate(self.by_rank)}.__getitem__
        self.finders = [n for n in self.by_rank if n in self.finding]
        self.nearby = frozenset(i for i in rules.items if is_nearby(i))
        self.found = {n: frozenset(i for i in s.obtain if is_nearby(i))
                      for n, s in self.skills.items()}
        self.placers_of: dict[str, list[str]] = {}
        for item in {i for s in self.skills.values() for i in s.obtain if is_nearby(i)}:
            chosen = choice.producer.get(item)
            options = [n for n in self.by_rank if n not in self.finding
                       and item in self.skills[n].obtain]
            if chosen is not None and chosen.name in options:
                options.remove(chosen.name)
                options.insert(0, chosen.name)
            self.placers_of[item] = options

    def _item_order(self) -> list[str]:
        """Items reachable from the goal by chosen producers, every consumer before its inputs."""
        roots = [self.goal.name] if self.goal.kind == "item" else list(
            self.needs[self.goal.name])
        order: list[str] = []
        state: dict[str, int] = {}
        stack = [(item, False) for item in reversed(roots)]
        while stack:
            item, done = stack.pop()
            if done:
                state[item] = 2
                order.append(item)
                continue
            if state.get(item):
                continue
            state[item] = 1
            stack.append((item, True))
            producer = self.choice.producer.get(item)
            if producer is not None:
                for child in reversed(list(self.needs[producer.name])):
                    if not state.get(child):
                        stack.append((child, False))
        order.reverse()
        return order

    def goal_missing(self, inv: Mapping[str, int]) -> dict[str, int]:
        if self.goal.kind == "skill":
            return self.rules.missing(self.goal.name, inv)
        have = inv.get(self.goal.name, 0)
        return {self.goal.name: self.goal.count - have} if have < self.goal.count else {}

    def missing(self, name: str, inv: Mapping[str, int]) -> dict[str, int]:
        return self.goal_missing(inv) if name == GOAL else self.rules.missing(name, inv)


def bill_of_materials(ctx: _Context, inventory: Mapping[str, int], goal_count: int,
                      forced: Mapping[str, int]) -> Counter:
    """How many runs of each skill reach the goal, batching every item's total demand."""
    skills, better = ctx.skills, ctx.rules.tiers.better
    runs: Counter = Counter()
    consumed: Counter = Counter()
    held_need: Counter = Counter()  # the most any skill needs to hold beside what it spends
    held_spent: Counter = Counter()  # what the skills that hold an item spend of it
    stock = Counter({i: n for i, n in inventory.items() if n > 0})

    def add(skill: Skill, k: int) -> None:
        runs[skill.name] += k
        for item, n in skill.consume.items():
            consumed[item] += n * k
        for item, n in ctx.needs[skill.name].items():
            extra = n - skill.consume.get(item, 0)  # held beside what the skill spends
            if extra > 0:
                held_need[item] = max(held_need[item], extra)
                held_spent[item] += skill.consume.get(item, 0) * k

    for name, k in forced.items():
        if k > 0:
            add(skills[name], k)
            for item, n in skills[name].obtain.items():
                stock[item] += n * k
    if ctx.goal.kind == "skill":
        extra = goal_count - runs[ctx.goal.name]
        if extra > 0:
            add(skills[ctx.goal.name], extra)
            for item, n in skills[ctx.goal.name].obtain.items():
                stock[item] += n * extra
    for item in ctx.item_order:
        hold = held_need[item]
        if hold and any(stock[b] - consumed[b] >= hold for b in better(item)):
            hold = 0
        if ctx.goal.kind == "item" and item == ctx.goal.name:
            need = consumed[item] + goal_count  # the goal is held at the end
        else:
            # Holders run first; what they hold beside their spending is spent later by others.
            need = max(consumed[item], held_spent[item] + hold)
        deficit = need - stock[item]
        producer = ctx.choice.producer.get(item)
        if deficit <= 0 or producer is None:
            continue
        k = math.ceil(deficit / producer.obtain[item])
        add(producer, k)
        for other, n in producer.obtain.items():
            stock[other] += n * k
    return runs


def schedule(ctx: _Context, inventory: Mapping[str, int], runs: Counter,
             place_first: bool, max_steps: int) -> list[str] | None:
    """Order the bill's runs under the rules; None when stuck."""
    rules, goal = ctx.rules, ctx.goal
    inv = dict(inventory)
    todo = Counter({n: k for n, k in runs.items() if k > 0})
    plan: list[str] = []
    done: Counter = Counter()
    idle = 0  # steps since the bill last shrank: finding and placing only
    idle_limit = 2 * (len(ctx.finding) + len(ctx.placing)) + 4
    repaired = False
    counts = goal.kind == "skill"
    seen = {(frozenset(inv.items()), 0)}

    def fresh(name: str) -> bool:
        """Runnable, and not back to an inventory already passed through (a loop)."""
        after = rules.step(name, inv).after
        return after is not None and (
            frozenset(after.items()), done[goal.name] + (counts and name == goal.name)) not in seen

    while True:
        if goal.reached(inv, done):
            return plan
        if len(plan) > max_steps or idle > idle_limit:
            return None
        name = _pick(ctx, inv, todo, place_first, fresh)
        if name is None:
            if repaired:
                return None
            # Stuck on something the bill did not foresee: redo it from here.
            repaired = True
            left = goal.count - done[goal.name] if goal.kind == "skill" else goal.count
            todo = bill_of_materials(ctx, inv, left, {})
            continue
        repaired = False
        inv = dict(rules.step(name, inv).after)
        plan.append(name)
        done[name] += 1
        seen.add((frozenset(inv.items()), done[goal.name] if counts else 0))
        if todo[name] > 0 and name not in ctx.finding and name not in ctx.placing:
            idle = 0
        else:
            idle += 1
        if todo[name] > 0:
            todo[name] -= 1


def _pick(ctx: _Context, inv: dict[str, int], todo: Counter, place_first: bool,
          fresh: Callable[[str], bool]) -> str | None:
    """The next skill: run what can run, place or find what a waiting skill needs.

    `fresh(name)`: the skill can run and leads somewhere the schedule has not been.
    """
    nearby, goal = ctx.nearby, ctx.goal
    active = sorted((n for n, k in todo.items() if k > 0), key=ctx.rank_of)
    waiting = [n for n in active if n not in ctx.finding and n not in ctx.placing]
    if goal.kind == "skill" and goal.name not in waiting:
        waiting.append(goal.name)
    for name in waiting:
        if fresh(name):
            return name
    if goal.kind == "item":
        waiting.append(GOAL)
    lacks = {name: ctx.missing(name, inv) for name in waiting}
    # Skills that wait only for something nearby: a placement or a finding skill away.
    close = [name for name in waiting if lacks[name] and nearby.issuperset(lacks[name])]

    def useful_find() -> str | None:
        for finder in ctx.finders:
            found = ctx.found[finder]
            if found and any(not found.isdisjoint(lacks[n]) for n in close) and fresh(finder):
                return finder
        return None

    def placement() -> str | None:
        best = None
        for name in close:
            path = _placements(ctx, inv, name, 3, lacks[name])
            if path and (best is None or len(path) < len(best)):
                best = path
        if best is None:
            return None
        first = _find_first(ctx, inv, waiting, close, lacks, fresh) or best[0]
        return first if fresh(first) else None

    for rule in ((placement, useful_find) if place_first else (useful_find, placement)):
        chosen = rule()
        if chosen is not None:
            return chosen
    # A finding skill some waiting skill needs, or one the bill runs for what it gives.
    wanted = {i for lack in lacks.values() for i in lack if i in nearby}
    for name in active:
        wanted.update(i for i in ctx.needs[name] if i in nearby)
    for finder in ctx.finders:
        if (not wanted.isdisjoint(ctx.found[finder])
                or (todo[finder] > 0 and len(ctx.found[finder]) < len(ctx.skills[finder].obtain))
                ) and fresh(finder):
            return finder
    return None


def _find_first(ctx: _Context, inv: dict[str, int], waiting: list[str], close: list[str],
                lacks: Mapping[str, Mapping[str, int]], fresh: Callable[[str], bool]) -> str | None:
    """A finding skill to run before placing a station, so that the station outlives it.

    Worth it when a waiting skill needs what the finding skill gives plus only
    things the skills now waiting for the station will make, and a skill waiting
    further on needs the station again: then the station serves both, instead of
    being placed, walked away from, and placed again (the table placed by the
    stone serves the wooden and the stone pickaxe). Not when nothing after needs
    the station: the iron pickaxe is made where the table and furnace are, and
    the search for diamonds comes after it (searched for first, the pickaxe waited
    on a long and deadly search: made in 42 of 100 learned collect_diamond episodes
    from seed 1e9, against 62 so).
    Never when something nearby now is still needed.
    """
    if any(i in ctx.nearby and any(i in ctx.needs.get(w, ()) or i in lacks[w] for w in waiting)
           for i in inv):
        return None
    stations = {i for name in close for i in lacks[name]}
    if all(stations.isdisjoint(ctx.needs[name]) for name in waiting
           if name not in close and name != GOAL):
        return None
    enabled = {i for name in close if name != GOAL for i in ctx.skills[name].obtain}
    for finder in ctx.finders:
        found = ctx.found[finder]
        if not found:
            continue
        for name in waiting:
            lack = lacks[name]
            if (name not in close and not found.isdisjoint(lack)
                    and all(i in found or i in enabled or i in ctx.nearby for i in lack)
                    and fresh(finder)):
                return finder
    return None


def _placements(ctx: _Context, inv: dict[str, int], name: str, depth: int,
                lack: Mapping[str, int] | None = None) -> list[str] | None:
    """Placements (no finding) after which `name` can run; None if something else is missing."""
    if lack is None:
        lack = ctx.missing(name, inv)
    if not lack or depth == 0 or not ctx.nearby.issuperset(lack):
        return None
    path: list[str] = []
    cur = inv
    made = ctx.skills[name].obtain if name != GOAL else {}
    for item in lack:
        for placer in ctx.placers_of.get(item, ()):
            if not made.keys().isdisjoint(ctx.skills[placer].consume):
                continue  # placing what the waiting skill makes, to make it again: futile
            if ctx.rules.can_run(placer, cur):
                sub = [placer]
            else:
                sub = _placements(ctx, cur, placer, depth - 1)
                if not sub:
                    continue
                sub = sub + [placer]
            trial: Mapping[str, int] | None = cur
            for step in sub:
                trial = ctx.rules.step(step, trial).after
                if trial is None:
                    break
            if trial is not None:
                path += sub
                cur = trial
                break
        else:
            return None
    return path if not ctx.missing(name, cur) else None


def plan_cost(ctx: _Context, plan: list[str]) -> float:
    return sum(ctx.cost_of(n) for n in plan)


def constructive_plan(ctx: _Context, inventory: Mapping[str, int],
                      max_passes: int = 4) -> list[str] | None:
    """The cheapest plan the two schedules find, each refined to its fixed point; None if stuck."""
    best: list[str] | None = None
    best_key = (math.inf, math.inf)
    bound = 4 * sum(bill_of_materials(ctx, inventory, ctx.goal.count, {}).values()) + 64
    for place_first in (False, True):
        forced: Counter = Counter()
        for _ in range(max_passes):
            runs = bill_of_materials(ctx, inventory, ctx.goal.count, forced)
            plan = schedule(ctx, inventory, runs, place_first, bound)
            if plan is None:
                break
            key = (plan_cost(ctx, plan), len(plan))
            if key < best_key:
                best, best_key = plan, key
            counts = Counter(plan)
            if counts == forced:
                break
            forced = counts
    return best
