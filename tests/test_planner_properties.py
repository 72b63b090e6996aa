"""Property tests of the planners on random skill graphs and inventories (hypothesis).

- every plan the mcagent planner returns passes the verifier;
- when it says a target is unreachable, an exhaustive search under the same
  rules finds no plan within a bound;
- the exact planner's plans are as short as that exhaustive search's.
"""

from __future__ import annotations

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mcagent.graph.schema import Skill, SkillGraph
from mcagent.planner import Planner, PlanNotFoundError, UnreachableError, verify_plan
from mcagent.planner.semantics import Goal, Tiers

ITEMS = ["a", "b", "c", "d", "e"]
NEARBY = ["x_nearby", "y_nearby"]
BOUND = 7  # the exhaustive search looks this many skills deep


def _counts(draw, pool, max_items, max_count):
    chosen = draw(st.lists(st.sampled_from(pool), max_size=max_items, unique=True))
    return {item: draw(st.integers(1, max_count)) for item in chosen}


@st.composite
def graphs(draw) -> SkillGraph:
    skills = {}
    for i, near in enumerate(NEARBY[:draw(st.integers(0, 2))]):
        skills[f"find_{i}"] = Skill(f"find_{i}", 0, obtain={near: 1})
    for i in range(draw(st.integers(1, 7))):
        kind = draw(st.sampled_from([1, 2]))
        pool = ITEMS + NEARBY
        consume = _counts(draw, pool, 2, 2)
        require = _counts(draw, pool, 1, 1)
        obtain = _counts(draw, ITEMS + (NEARBY if kind == 1 else []), 2, 3)
        if not obtain:
            obtain = {draw(st.sampled_from(ITEMS)): 1}
        skills[f"s{i}"] = Skill(f"s{i}", kind, consume, require, (), obtain)
    return SkillGraph(skills, world="test")


@st.composite
def layered_graphs(draw) -> SkillGraph:
    """Tech trees: the skill for item i uses items below i, some found nearby; long plans."""
    skills = {"find_x": Skill("find_x", 0, obtain={"x_nearby": 1}),
              "gather": Skill("gather", 1, consume={"x_nearby": 1}, obtain={"a": 1})}
    if draw(st.booleans()):  # a station to place, cleared by every finding
        skills["place"] = Skill("place", 1, consume={"a": draw(st.integers(1, 2))},
                                obtain={"y_nearby": 1})
    for level, item in enumerate(ITEMS[1:], 1):
        below = ITEMS[:level] + (["y_nearby"] if "place" in skills else [])
        consume = _counts(draw, ITEMS[:level], 2, 3) or {ITEMS[level - 1]: 1}
        require = _counts(draw, below, 1, 1)
        skills[f"make_{item}"] = Skill(f"make_{item}", 2, consume, require, (),
                                       {item: draw(st.integers(1, 3))})
    return SkillGraph(skills, world="test")


@st.composite
def problems(draw) -> tuple[SkillGraph, dict[str, int], str]:
    """A graph, a start inventory of its items, and one of its items as the target."""
    graph = draw(st.one_of(graphs(), layered_graphs()))
    items = sorted(graph.items)
    inventory = draw(st.dictionaries(st.sampled_from(items), st.integers(0, 3), max_size=3))
    return graph, inventory, draw(st.sampled_from(items))


def shortest(rules, inventory, goal, bound=BOUND):
    """Breadth-first over inventories under `rules.step` (the verifier's rule): length or None."""
    start = {i: n for i, n in inventory.items() if n}
    if goal.reached(start, {}):
        return 0
    frontier, seen = [start], {frozenset(start.items())}
    for depth in range(1, bound + 1):
        nxt = []
        for inv in frontier:
            for name in rules.graph.skills:
                after = rules.step(name, inv).after
                if after is None or frozenset(after.items()) in seen:
                    continue
                if goal.reached(after, {}):
                    return depth
                seen.add(frozenset(after.items()))
                nxt.append(after)
        frontier = nxt
    return None


SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(problems(), st.integers(1, 2))
def test_mcagent_plans_pass_the_verifier_and_unreachable_is_true(problem, count):
    graph, inventory, target = problem
    planner = Planner(graph, max_states=5_000)
    goal = Goal("item", target, count)
    try:
        plan = planner.plan(target, inventory, count)
    except UnreachableError:
        event("unreachable")
        assert shortest(planner.rules, inventory, goal) is None
        return
    except PlanNotFoundError:
        event("search gave up")
        return  # no claim made
    event("plan of 0 skills" if not plan.steps else "plan of 1-4 skills" if len(plan) < 5
          else "plan of 5+ skills")
    assert verify_plan(planner.rules, plan.skills, plan.start, goal).valid
    assert plan.valid


@SETTINGS
@given(problems())
def test_optimal_plans_are_shortest(problem):
    graph, inventory, target = problem
    planner = Planner(graph, "optimal", max_states=5_000)
    goal = Goal("item", target, 1)
    best = shortest(planner.rules, inventory, goal)
    try:
        plan = planner.plan(target, inventory)
    except UnreachableError:
        assert best is None
        return
    except PlanNotFoundError:
        return
    assert verify_plan(planner.rules, plan.skills, plan.start, goal).valid
    if best is not None:
        assert len(plan) == best


@settings(max_examples=60, deadline=None)
@given(problems())
def test_tiers_only_widen_what_can_run(problem):
    """A plan valid without tiers stays valid with them (a better tool only adds options)."""
    graph, inventory, target = problem
    plain = Planner(graph, max_states=2_000)
    tiered = Planner(graph, tiers=Tiers((("a", "b"), ("c", "d"))), max_states=2_000)
    try:
        plan = plain.plan(target, inventory)
    except (UnreachableError, PlanNotFoundError):
        return
    assert verify_plan(tiered.rules, plan.skills, plan.start, plan.goal).valid
