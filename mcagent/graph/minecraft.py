"""Minecraft 1.11.2's ground truth: minecraft-data's recipes and harvest tools, plus mcagent's extra rules.

Ways, in Plan4MC's vocabulary (item names are minecraft-data's, metadata ignored):
- craft: a recipe; it requires `crafting_table_nearby` when it does not fit
  the inventory's 2x2 grid;
- mine: a diggable block gives its drops, requiring one of its harvest tools
  (one way per tool); `<block>_nearby` or `<drop>_nearby` may be consumed or
  required, or the skill finds the block itself;
- smelt: input plus one fuel, requiring `furnace_nearby` (data/minecraft_extra.yaml);
- kill / use on a mob or block (data/minecraft_extra.yaml);
- place: a block item becomes `<block>_nearby`; find: `<block or mob>_nearby`
  for mobs and for the blocks no recipe makes (a crafted block, a table,
  planks, is only near once placed, and mining it needs it placed).
"""

from __future__ import annotations

import functools
import json
import math
import pathlib
from collections import Counter

import yaml

from mcagent.errors import UserError
from mcagent.graph.schema import NEARBY_SUFFIX
from mcagent.graph.truth import Truth, Way, known

DATA_DIR = pathlib.Path(__file__).parent / "data"
MCDATA_DIR = DATA_DIR / "minecraft-data-1.11.2"
EXTRA_PATH = DATA_DIR / "minecraft_extra.yaml"
EXTRA_FORMAT = "mcagent-minecraft-extra/1"
TABLE = "crafting_table_nearby"
FURNACE = "furnace_nearby"


def nearby(thing: str) -> str:
    return f"{thing}{NEARBY_SUFFIX}"


def _load(name: str):
    return json.loads((MCDATA_DIR / name).read_text())


def _ingredient_id(entry) -> int | None:
    if entry is None:
        return None
    if isinstance(entry, dict):
        return entry["id"]
    return int(entry)


def _recipe_ways(names: dict[int, str]) -> list[Way]:
    ways: list[Way] = []
    seen: set[tuple] = set()
    variants: Counter = Counter()
    for recipes in _load("recipes.json").values():
        for recipe in recipes:
            result = names[recipe["result"]["id"]]
            count = int(recipe["result"].get("count", 1))
            if "inShape" in recipe:
                rows = recipe["inShape"]
                cells = [_ingredient_id(c) for row in rows for c in row]
                fits = len(rows) <= 2 and max(len(r) for r in rows) <= 2
            else:
                cells = [_ingredient_id(c) for c in recipe["ingredients"]]
                fits = len(cells) <= 4
            consume = Counter(names[c] for c in cells if c is not None)
            obtain = {result: (count, count)}
            for row in recipe.get("outShape") or []:  # containers handed back (cake's buckets)
                for cell in row:
                    if _ingredient_id(cell) is not None:
                        back = names[_ingredient_id(cell)]
                        lo = obtain.get(back, (0, 0))[0] + 1
                        obtain[back] = (lo, lo)
            require = {} if fits else {TABLE: 1}
            key = (result, tuple(sorted(consume.items())), tuple(sorted(require)), count)
            if key in seen:  # variants differing only in metadata (oak or birch planks)
                continue
            seen.add(key)
            variants[result] += 1
            ways.append(Way(f"craft:{result}#{variants[result]}", 2, consume=dict(consume), require=require, obtain=obtain,
                            source="minecraft-data 1.11 recipes.json"))
    return ways


def _tier(tool: str) -> tuple[int, str]:
    order = ("wooden", "stone", "iron", "diamond", "golden")
    material = tool.split("_")[0]
    return (order.index(material) if material in order else len(order), tool)


def _block_ways(names: dict[int, str], crafted: set[str]) -> list[Way]:
    """Mining ways; a block that recipes make (planks, a hopper) must have been placed first."""
    ways = []
    block_names = {b["id"]: b["name"] for b in _load("blocks.json")}
    for block in _load("blocks.json"):
        if block["name"] == "air" or not block.get("diggable") or not block.get("drops"):
            continue
        obtain: dict[str, tuple[int, int]] = {}
        for drop in block["drops"]:
            # a few drops name a block id with no item of its own (the bed block): use its name
            item = names.get(_ingredient_id(drop["drop"])) or block_names[_ingredient_id(drop["drop"])]
            lo = math.floor(drop.get("minCount", 1))
            hi = max(lo, math.ceil(drop.get("maxCount", drop.get("minCount", 1))))
            obtain[item] = (lo, hi)
        optional = {nearby(block["name"])} | {nearby(i) for i in obtain}
        tools = sorted((names[int(t)] for t in (block.get("harvestTools") or {})), key=_tier)
        placed = {nearby(block["name"]): 1} if block["name"] in crafted else {}
        for tool in tools or [None]:
            ways.append(Way(f"mine:{block['name']}" + (f"@{tool}" if tool else ""), 1,
                            consume=placed, require={tool: 1} if tool else {}, obtain=obtain,
                            nearby=frozenset() if placed else frozenset(optional),
                            source="minecraft-data 1.11 blocks.json"))
    return ways


@functools.lru_cache(maxsize=None)
def minecraft_truth() -> Truth:
    items = _load("items.json")
    names = {i["id"]: i["name"] for i in items}
    blocks = {b["name"] for b in _load("blocks.json")}
    mobs = {e["name"] for e in _load("entities.json")}
    version = _load("version.json")
    extra = yaml.safe_load(EXTRA_PATH.read_text())
    if extra.get("format") != EXTRA_FORMAT:
        raise UserError(f"{EXTRA_PATH}: expected format {EXTRA_FORMAT!r}, got {extra.get('format')!r}")
    item_names = set(names.values())
    vocabulary = frozenset(item_names | {nearby(t) for t in blocks | mobs})

    ways = _recipe_ways(names)
    for rule in extra["smelting"]:
        known([rule["input"], rule["output"]], item_names, "Minecraft item (smelting)")
        for fuel, smelts in extra["fuels"].items():
            consume = Counter({rule["input"]: 1})
            consume[fuel] += math.ceil(1 / smelts)
            ways.append(Way(f"smelt:{rule['input']}->{rule['output']}@{fuel}", 2, consume=dict(consume),
                            require={FURNACE: 1}, obtain={rule["output"]: (1, 1)},
                            source=f"{EXTRA_PATH.name} smelting"))
    crafted = {r for w in ways for r in w.obtain}  # recipe and furnace results
    ways += _block_ways(names, crafted - {"stone"})  # stone is smelted, and natural too
    for mob, drops in extra["mob_drops"].items():
        known([mob], mobs, "Minecraft mob")
        known(drops, item_names, f"Minecraft item (drops of {mob})")
        ways.append(Way(f"kill:{mob}", 1, obtain={i: tuple(r) for i, r in drops.items()},
                        nearby=frozenset({nearby(mob)}), source=f"{EXTRA_PATH.name} mob_drops"))
    for rule in extra["interactions"]:
        known([*(rule.get("consume") or {}), *(rule.get("require") or {}), *rule["obtain"]],
              item_names, f"Minecraft item ({rule['name']})")
        ways.append(Way(f"use:{rule['name']}", 1, consume=rule.get("consume") or {},
                        require=rule.get("require") or {},
                        obtain={i: tuple(r) for i, r in rule["obtain"].items()},
                        nearby=frozenset({nearby(rule["target"])}),
                        source=f"{EXTRA_PATH.name} interactions"))
    # placing comes before finding: a missing crafting_table_nearby is to be placed
    ways += [Way(f"place:{b}", 1, consume={b: 1}, obtain={nearby(b): (1, 1)},
                 source="a block item placed") for b in sorted(blocks & item_names)]
    ways += [Way(f"find:{t}", 0, obtain={nearby(t): (1, 1)}, source="finding skill")
             for t in sorted((blocks - crafted) | {"stone"} | mobs)]
    stack = {i["name"]: int(i["stackSize"]) for i in items}
    return Truth(world="minecraft", ways=tuple(ways), items=vocabulary, initial={},
                 max_counts={name: 64 for name in stack},
                 source=(f"Minecraft {version['minecraft_version']}: {version['package']} "
                         f"{version['package_version']} (recipes, blocks, items, entities) "
                         f"+ mcagent/graph/data/{EXTRA_PATH.name}"))
