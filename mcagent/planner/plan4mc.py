"""Plan4MC's skill search, as its paper and code describe it: the baseline for `--algorithm plan4mc`.

A depth-first walk from the target that emits skills in post-order, counting
items in a working copy of the inventory. For each skill it satisfies the
skill's consumed items, then its required items, then every `*_nearby` item
last; each missing one is made by recursion, one producer run at a time,
keeping any surplus. After a finding skill every `*_nearby` item is set to
zero. It never looks ahead, so it makes a new crafting table or furnace
whenever a finding skill has walked away from the last one.

Written from that description (not from Plan4MC's code); on Plan4MC's graph and
40 tasks it gives plans of exactly the lengths Plan4MC's own code gives.
Plan4MC's producer of an item is the skill named after it; on other graphs this
falls back to the first skill in file order that obtains it.
"""

from __future__ import annotations

from collections.abc import Mapping

from mcagent.graph.schema import Skill, SkillGraph
from mcagent.planner.semantics import is_nearby

# Plan lengths measured with Plan4MC's own skill_search on its graph and 40 tasks
# (shared/plan4mc/README.md): the total, and the examples given there.
PUBLISHED_TOTAL = 1308
PUBLISHED_LENGTHS = {
    "craft_stick": 4, "craft_wooden_pickaxe": 13, "get_furnace_nearby_with_logs": 28,
    "craft_iron_ingot_with_stone_pickaxe": 43, "craft_iron_pickaxe_with_stone_pickaxe": 104,
    "craft_hopper_with_stone_pickaxe": 176, "harvest_diamond_with_stone_pickaxe": 105,
}


def _producer(graph: SkillGraph, item: str) -> Skill | None:
    named = graph.skills.get(item)
    if named is not None and item in named.obtain:
        return named
    producers = graph.producers(item)
    return producers[0] if producers else None


def plan4mc_search(graph: SkillGraph, target: str, inventory: Mapping[str, int],
                   count: int = 1) -> tuple[list[str], dict[str, int]]:
    """Plan4MC's plan for `count` of `target`: the skills in order, and the base items it lacks."""
    held = {item: n for item, n in inventory.items()}
    plan: list[str] = []
    lacking: dict[str, int] = {}

    def solve(item: str, wanted: int) -> None:
        """Run one batch of `item`'s producer, after solving its inputs."""
        if held.get(item, 0) >= wanted:
            return
        skill = _producer(graph, item)
        if skill is None:
            lacking[item] = lacking.get(item, 0) + wanted
            return
        inputs = [(i, n, True) for i, n in skill.consume.items()]
        inputs += [(i, n, False) for i, n in skill.require.items()]
        inputs = ([x for x in inputs if not is_nearby(x[0])]
                  + [x for x in inputs if is_nearby(x[0])])
        for need, n, spent in inputs:
            acquire(need, n, spent)
        plan.append(skill.name)

    def acquire(item: str, n: int, spent: bool) -> None:
        """Make sure `n` of `item` is there for one skill; take it off if the skill spends it."""
        have = held.get(item, 0)
        if have >= n:
            if spent:
                held[item] = have - n
            return
        short = n - have
        if spent:
            held[item] = 0
        while short > 0:
            solve(item, n)
            producer = _producer(graph, item)
            if producer is not None and producer.skill_type == 0:
                for other in held:
                    if is_nearby(other):
                        held[other] = 0
            if producer is None:
                short -= n
                if not spent:
                    held[item] = held.get(item, 0) + n
                continue
            for got, k in producer.obtain.items():
                if got != item or not spent:
                    held[got] = held.get(got, 0) + k
                elif short < k:  # a spent item: only the surplus stays
                    held[got] = held.get(got, 0) + k - short
            short -= producer.obtain[item]

    acquire(target, count, spent=False)
    return plan, lacking
