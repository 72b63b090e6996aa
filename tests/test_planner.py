"""The planner: the graph's semantics, the verifier, Plan4MC's baseline, mcagent's plans, re-planning, errors, CLI."""

from __future__ import annotations

import json
import pathlib

import pytest
import yaml

from mcagent.cli import main
from mcagent.errors import UnknownNameError, UserError
from mcagent.graph.schema import Skill, SkillGraph, load_graph
from mcagent.planner import (
    NO_TIERS, CyclicGraphError, Planner, SkillCost, SkillCosts, Tiers, UnreachableError,
    load_costs, load_tiers, nearby_after, save_costs, verify_plan)
from mcagent.planner.plan4mc import PUBLISHED_LENGTHS, PUBLISHED_TOTAL
from mcagent.planner.semantics import Goal, Rules, SkillCannotRun, world_tiers
from mcagent.worlds.tasks import get_suite

ROOT = pathlib.Path(__file__).resolve().parents[1]
PLAN4MC = ROOT / "skill_graph" / "plan4mc" / "skills.yaml"
CRAFTER = ROOT / "skill_graph" / "crafter.yaml"
CRAFTER_EXTRA = ROOT / "mcagent" / "graph" / "data" / "crafter_extra.yaml"


@pytest.fixture(scope="module")
def plan4mc_graph():
    return load_graph(PLAN4MC)


@pytest.fixture(scope="module")
def crafter_graph():
    return load_graph(CRAFTER)


def plan4mc_tasks():
    return get_suite("plan4mc").tasks


# --- semantics ------------------------------------------------------------------------------

def test_a_skill_needs_its_inputs_and_yields_its_outputs(plan4mc_graph):
    rules = Rules(plan4mc_graph, NO_TIERS)
    assert rules.missing("planks", {}) == {"log": 1}
    assert rules.apply("planks", {"log": 2}) == {"log": 1, "planks": 4}
    assert rules.missing("wooden_pickaxe", {"planks": 3, "stick": 2}) == {
        "crafting_table_nearby": 1}
    after = rules.apply("wooden_pickaxe", {"planks": 3, "stick": 2, "crafting_table_nearby": 1})
    assert after == {"crafting_table_nearby": 1, "wooden_pickaxe": 1}  # required: kept
    with pytest.raises(SkillCannotRun, match="log"):
        rules.apply("planks", {})


def test_a_finding_skill_clears_everything_nearby(plan4mc_graph):
    rules = Rules(plan4mc_graph, NO_TIERS)
    inv = {"crafting_table_nearby": 1, "furnace_nearby": 1, "log": 1}
    assert rules.apply("cobblestone_nearby", inv) == {"log": 1, "cobblestone_nearby": 1}
    assert rules.apply("planks", inv)["crafting_table_nearby"] == 1  # crafting keeps them


def test_an_item_consumed_and_required_is_needed_in_both_counts():
    graph = SkillGraph({"s": Skill("s", 2, consume={"a": 1}, require={"a": 1}, obtain={"b": 1})})
    rules = Rules(graph)
    assert rules.missing("s", {"a": 1}) == {"a": 1}
    assert rules.apply("s", {"a": 2}) == {"a": 1, "b": 1}


def test_a_better_tool_stands_in_only_where_tiers_are_declared(plan4mc_graph):
    inv = {"cobblestone_nearby": 1, "stone_pickaxe": 1}
    assert not Rules(plan4mc_graph, NO_TIERS).can_run("cobblestone", inv)
    tiered = Rules(plan4mc_graph, world_tiers("minecraft"))
    step = tiered.step("cobblestone", inv)
    assert step.ok and step.substitutes == {"wooden_pickaxe": "stone_pickaxe"}
    assert step.after == {"stone_pickaxe": 1, "cobblestone": 1}  # the tool is kept
    assert not tiered.can_run("iron_ore", {"wooden_pickaxe": 1})  # never a lesser one
    assert world_tiers("crafter") == NO_TIERS  # Crafter asks for the exact tool


def test_tiers_files_are_checked(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("format: mcagent-tool-tiers/1\ntiers: [[a, b], [b, c]]\n")
    with pytest.raises(UserError, match="appears twice"):
        load_tiers(path)
    path.write_text("tiers: [[a, b]]\n")
    with pytest.raises(UserError, match="format"):
        load_tiers(path)
    assert Tiers((("a", "b", "c"),)).better("a") == ("b", "c")


def test_the_verifier_names_the_first_broken_step(plan4mc_graph):
    rules = Rules(plan4mc_graph, NO_TIERS)
    goal = Goal("item", "stick")
    ok = verify_plan(rules, ["log_nearby", "log", "planks", "stick"], {}, goal)
    assert ok.valid and ok.final["stick"] == 4
    bad = verify_plan(rules, ["log_nearby", "planks", "stick"], {}, goal)
    assert not bad.valid and bad.failed_step == 1 and bad.missing == {"log": 1}
    assert "step 2: planks cannot run, missing log x1" in bad.message
    short = verify_plan(rules, ["log_nearby", "log"], {}, goal)
    assert not short.valid and short.failed_step is None and "does not reach" in short.message


def test_nearby_belief_after_success_and_failure(plan4mc_graph):
    rules = Rules(plan4mc_graph, NO_TIERS)
    near = {"crafting_table_nearby"}
    assert nearby_after(rules, "log_nearby", near, succeeded=True) == {"log_nearby"}
    assert nearby_after(rules, "log_nearby", near, succeeded=False) == set()
    assert nearby_after(rules, "planks", near, succeeded=False) == near
    assert nearby_after(rules, "furnace_nearby", near, succeeded=True) == {
        "crafting_table_nearby", "furnace_nearby"}


# --- Plan4MC's baseline --------------------------------------------------------------------

def test_plan4mc_baseline_reproduces_the_published_lengths(plan4mc_graph):
    planner = Planner(plan4mc_graph, "plan4mc", tiers=NO_TIERS)
    lengths = {}
    for task in plan4mc_tasks():
        plan = planner.plan(task.target, task.initial_inventory, task.count)
        assert plan.valid, (task.name, plan.problem)
        lengths[task.name] = len(plan)
    assert len(lengths) == 40
    assert sum(lengths.values()) == PUBLISHED_TOTAL
    assert {k: lengths[k] for k in PUBLISHED_LENGTHS} == PUBLISHED_LENGTHS


def test_plan4mc_baseline_remakes_stations(plan4mc_graph):
    plan = Planner(plan4mc_graph, "plan4mc").plan("iron_pickaxe", {"stone_pickaxe": 1})
    assert plan.counts["furnace_nearby"] == 3  # one furnace per ingot


# --- mcagent's planner ---------------------------------------------------------------------

@pytest.mark.parametrize("tiers, total", [(NO_TIERS, 912), (None, 798)])
def test_mcagent_plans_the_40_tasks_validly_and_short(plan4mc_graph, tiers, total):
    ours = Planner(plan4mc_graph, tiers=tiers)
    baseline = Planner(plan4mc_graph, "plan4mc", tiers=NO_TIERS)
    lengths = []
    for task in plan4mc_tasks():
        plan = ours.plan(task.target, task.initial_inventory, task.count)
        assert verify_plan(ours.rules, plan.skills, plan.start, plan.goal).valid
        assert len(plan) <= len(baseline.plan(task.target, task.initial_inventory)), task.name
        lengths.append(len(plan))
    assert sum(lengths) == total


def test_mcagent_keeps_stations_and_batches(plan4mc_graph):
    plan = Planner(plan4mc_graph).plan("iron_pickaxe", {"stone_pickaxe": 1})
    assert len(plan) == 49
    assert plan.counts["crafting_table_nearby"] == 1 and plan.counts["furnace_nearby"] == 1
    assert plan.counts["planks"] == 2 and plan.counts["stick"] == 1
    assert any(s.substitutes == {"wooden_pickaxe": "stone_pickaxe"} for s in plan.steps)
    # Gathering comes before the stations: no finding skill after the first placement.
    first_station = plan.skills.index("crafting_table_nearby")
    assert not any(plan4mc_graph[s].skill_type == 0 for s in plan.skills[first_station:])


def test_a_search_goes_before_a_station_only_when_the_station_serves_again(crafter_graph):
    planner = Planner(crafter_graph)
    # The table goes down by the stone: both pickaxes are made at it.
    assert planner.plan("stone_pickaxe", {"wood": 5}).skills == (
        "find_stone", "place_table", "make_wood_pickaxe", "collect_stone", "make_stone_pickaxe")
    # Nothing after the iron pickaxe needs the table or the furnace: the pickaxe is made
    # first, the diamond searched for after it (not the search, then the stations).
    held = {"wood": 3, "stone": 4, "coal": 1, "iron": 1, "wood_pickaxe": 1, "stone_pickaxe": 1}
    assert planner.plan("diamond", held).skills == (
        "place_table", "place_furnace", "make_iron_pickaxe", "find_diamond", "collect_diamond")


def test_mcagent_plans_are_optimal_where_checked(plan4mc_graph, crafter_graph):
    for graph, target, inventory in ((plan4mc_graph, "iron_ingot", {"stone_pickaxe": 1}),
                                     (plan4mc_graph, "torch", {"log": 10}),
                                     (crafter_graph, "make_stone_pickaxe", {}),
                                     (crafter_graph, "collect_iron", {})):
        fast = Planner(graph).plan(target, inventory)
        exact = Planner(graph, "optimal").plan(target, inventory)
        assert len(fast) == len(exact), target


def test_every_crafter_achievement_has_a_verified_plan(crafter_graph):
    achievements = yaml.safe_load(CRAFTER_EXTRA.read_text())["achievements"]
    assert len(achievements) == 22
    planner = Planner(crafter_graph)
    lengths = {}
    for name, entry in achievements.items():
        plan = planner.plan(entry["skill"])
        runs = {s: plan.skills.count(s) for s in plan.skills}
        assert plan.valid and plan.goal.reached(plan.steps[-1].after, runs), name
        assert verify_plan(planner.rules, plan.skills, {}, plan.goal).valid
        lengths[name] = len(plan)
    assert lengths["collect_diamond"] == 36 and lengths["place_table"] == 5
    assert sum(lengths.values()) == 234


def test_a_variant_crafter_graph_plans_too():
    graph = load_graph(ROOT / "tests" / "data" / "crafter_like.yaml", world="crafter")
    planner = Planner(graph)
    for target in ("collect_diamond", "make_iron_sword", "eat_plant", "place_stone"):
        assert planner.plan(target).valid


def test_plans_for_a_count_batch_their_skills(plan4mc_graph):
    plan = Planner(plan4mc_graph).plan("stick", {}, count=8)
    assert plan.counts["stick"] == 2 and plan.counts["planks"] == 1


def test_costs_change_the_plan_to_the_cheaper_one(tmp_path):
    graph = SkillGraph({
        "dig": Skill("dig", 1, obtain={"ore": 1}),
        "buy": Skill("buy", 1, obtain={"gem": 1}),
        "cut": Skill("cut", 2, consume={"ore": 1}, obtain={"gem": 1}),
    }, world="test")
    assert Planner(graph).plan("gem").skills == ("buy",)
    costs = SkillCosts({"buy": SkillCost(100, 0.5), "dig": SkillCost(5, 1.0),
                        "cut": SkillCost(2, 0.8)}, world="test")
    plan = Planner(graph, costs=costs).plan("gem")
    assert plan.skills == ("dig", "cut") and plan.costed
    assert plan.expected_steps == pytest.approx(5 + 2 / 0.8)
    path = tmp_path / "costs.yaml"
    save_costs(costs, path)
    assert load_costs(path, graph).expected_steps("buy") == 200
    path.write_text("format: mcagent-skill-costs/1\nskills: {fly: {steps: 3}}\n")
    with pytest.raises(UnknownNameError, match="fly"):
        load_costs(path, graph)


# --- re-planning -----------------------------------------------------------------------------

def test_replanning_midway_gives_the_rest_of_the_plan(plan4mc_graph):
    planner = Planner(plan4mc_graph)
    plan = planner.plan("wooden_pickaxe", {})
    middle = 7
    rest = planner.replan("wooden_pickaxe", plan.steps[middle - 1].after)
    assert len(rest) == len(plan) - middle
    assert rest.first.skill == plan.steps[middle].skill
    assert planner.replan("wooden_pickaxe", plan.steps[-1].after).first is None


def test_replanning_after_a_failure_and_with_observed_nearby(plan4mc_graph):
    planner = Planner(plan4mc_graph, tiers=NO_TIERS)
    inv = {"planks": 3, "stick": 2, "crafting_table_nearby": 1, "health": 20}  # health: ignored
    assert planner.replan("wooden_pickaxe", inv).skills == ("wooden_pickaxe",)
    # A finding skill that failed left the table behind: the agent no longer sees it.
    lost = planner.replan("wooden_pickaxe", inv, nearby=set())
    assert lost.skills[-1] == "wooden_pickaxe" and "crafting_table_nearby" in lost.skills
    with pytest.raises(UserError, match="not a \\*_nearby item"):
        planner.replan("wooden_pickaxe", inv, nearby={"planks"})


# --- bad input -------------------------------------------------------------------------------

def test_an_unknown_target_suggests_near_names(plan4mc_graph):
    with pytest.raises(UnknownNameError, match="Did you mean iron_pickaxe"):
        Planner(plan4mc_graph).plan("iron_pikaxe")


def test_an_unreachable_target_names_the_missing_base_items(plan4mc_graph):
    with pytest.raises(UnreachableError, match="diamond_sword, which no skill obtains") as err:
        Planner(plan4mc_graph).plan("beef")
    assert err.value.missing == ("diamond_sword",)


def test_a_cycle_is_reported_as_one():
    graph = SkillGraph({"egg": Skill("egg", 1, consume={"chicken": 1}, obtain={"egg": 1}),
                        "chicken": Skill("chicken", 1, consume={"egg": 1},
                                         obtain={"chicken": 1})})
    with pytest.raises(CyclicGraphError, match="chicken -> egg -> chicken is a cycle"):
        Planner(graph).plan("chicken")
    assert len(Planner(graph).plan("chicken", {"egg": 1})) == 1  # a way in: fine


def test_counts_that_can_never_be_had_are_unreachable():
    graph = SkillGraph({"s": Skill("s", 1, consume={"a": 1}, obtain={"b": 1})})
    with pytest.raises(UnreachableError, match="at most 2 can be had"):
        Planner(graph).plan("b", {"a": 2}, count=3)


@pytest.mark.parametrize("inventory, message", [
    ({"log": -1}, "cannot be negative"), ({"logs": 1}, "Did you mean log"),
    ({"log": 1.5}, "must be an integer")])
def test_bad_inventories_are_refused(plan4mc_graph, inventory, message):
    with pytest.raises(UserError, match=message):
        Planner(plan4mc_graph).plan("stick", inventory)


def test_plan4mc_plans_items_only(crafter_graph):
    with pytest.raises(UserError, match="items only"):
        Planner(crafter_graph, "plan4mc").plan("collect_wood")


# --- the command -----------------------------------------------------------------------------

def test_cli_prints_the_plan_step_by_step(capsys):
    code = main(["plan", "iron_ingot", "--graph", str(PLAN4MC), "--inventory",
                 "stone_pickaxe=1"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("plan for iron_ingot x1 (mcagent): 30 skills")
    assert " 30. iron_ingot" in out and "(stone_pickaxe for wooden_pickaxe)" in out
    assert "counts: " in out


def test_cli_json_and_costs(capsys, tmp_path):
    costs = tmp_path / "costs.yaml"
    save_costs(SkillCosts({"find_tree": SkillCost(30, 0.5)}, world="crafter"), costs)
    code = main(["plan", "place_table", "--graph", str(CRAFTER), "--costs", str(costs),
                 "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["valid"] and data["length"] == 5
    assert data["expected_steps"] == 2 * 60 + 3
    assert [s["skill"] for s in data["steps"]][-1] == "place_table"


@pytest.mark.parametrize("argv, message", [
    (["iron_pikaxe"], "unknown target 'iron_pikaxe'. Did you mean iron_pickaxe"),
    (["beef"], "cannot reach beef x1: it needs diamond_sword"),
    (["stick", "--inventory", "log=-2"], "counts cannot be negative"),
    (["stick", "--inventory", "log=two"], "the count must be an integer"),
    (["stick", "--inventory", "logg=2"], "unknown inventory item 'logg'"),
])
def test_cli_errors_are_one_line(capsys, argv, message):
    code = main(["plan", *argv, "--graph", str(PLAN4MC)])
    err = capsys.readouterr().err
    assert code == 2 and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
