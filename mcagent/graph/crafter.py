"""Crafter's skill graph, extracted from crafter's own rules (data.yaml) and a small data file.

Crafter's `data.yaml` says what `do` collects from each material, what each
`place_*` and `make_*` action spends, and what must be near. The achievements
that live in crafter's code (eat_cow, eat_plant, defeat_*, wake_up) and the
creatures that world generation places are in `data/crafter_extra.yaml`, with
the mapping from each of the 22 achievements to a skill and an item.
"""

from __future__ import annotations

import functools
import hashlib
import pathlib

import yaml

from mcagent.errors import UserError
from mcagent.graph.check import Target
from mcagent.graph.schema import NEARBY_SUFFIX, SkillGraph
from mcagent.graph.truth import Truth, Way, closure, graph_from_ways, known

EXTRA_PATH = pathlib.Path(__file__).parent / "data" / "crafter_extra.yaml"
EXTRA_FORMAT = "mcagent-crafter-extra/1"
# Materials that world generation lays out, so a finding skill can look for them.
NATURAL = ("water", "grass", "stone", "path", "sand", "tree", "lava", "coal", "iron", "diamond")


def _sha256(path: str) -> str:
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def nearby(thing: str) -> str:
    return f"{thing}{NEARBY_SUFFIX}"


@functools.lru_cache(maxsize=None)
def crafter_extra(path: str = str(EXTRA_PATH)) -> dict:
    data = yaml.safe_load(pathlib.Path(path).read_text())
    if data.get("format") != EXTRA_FORMAT:
        raise UserError(f"{path}: expected format {EXTRA_FORMAT!r}, got {data.get('format')!r}")
    return data


@functools.lru_cache(maxsize=None)
def crafter_truth() -> Truth:
    """Every way Crafter's rules offer, as `Way`s named by mcagent's skill names."""
    from mcagent.worlds.rules import crafter_rules

    rules = crafter_rules()
    extra = crafter_extra()
    creatures = tuple(extra["creatures"])
    placed = tuple(rules.place)
    vocabulary = frozenset([*rules.items, *(nearby(t) for t in
                                            (*rules.materials, *creatures, *placed))])
    data_yaml = f"crafter {extra['crafter_version']} data.yaml"
    ways: list[Way] = []
    for thing in (*(m for m in rules.collect if m in NATURAL), *creatures,
                  *(m for m in NATURAL if m not in rules.collect)):
        ways.append(Way(f"find_{thing}", 0, obtain={nearby(thing): (1, 1)},
                        source="finding skill (mcagent convention)"))
    for material, rule in rules.collect.items():
        # the achievement (and so the skill) is named after what is received
        for item, count in rule.receive.items():
            held = {nearby(material): 1}
            stays = rule.leaves == material
            ways.append(Way(f"collect_{item}", 1,
                            consume={} if stays else held,
                            require={**rule.require, **(held if stays else {})},
                            obtain={item: (count, count)},
                            source=f"{data_yaml} collect.{material}"))
    walkable = set(rules.walkable)
    for name, rule in rules.place.items():
        # a cell the player could stand on is always at hand; anything narrower must be found
        where = set(rule.where)
        need = {} if walkable <= where else {nearby(m): 1 for m in sorted(where)}
        if len(need) > 1:
            raise UserError(f"{rules.source}: place.{name} can go on {sorted(where)}; mcagent's "
                            "graph can only say one *_nearby item is needed")
        ways.append(Way(f"place_{name}", 1, consume=dict(rule.uses), require=need,
                        obtain={nearby(name): (1, 1)}, source=f"{data_yaml} place.{name}"))
    for name, rule in rules.make.items():
        ways.append(Way(f"make_{name}", 2, consume=dict(rule.uses),
                        require={nearby(station): 1 for station in rule.nearby},
                        obtain={name: (rule.gives, rule.gives)}, source=f"{data_yaml} make.{name}"))
    for name, raw in extra["skills"].items():
        ways.append(Way(name, int(raw["skill_type"]), consume=raw.get("consume") or {},
                        require=raw.get("require") or {},
                        obtain={k: (v, v) for k, v in (raw.get("obtain") or {}).items()},
                        source=f"{EXTRA_PATH.name} (from crafter's objects.py)"))
    for way in ways:
        known([*way.inputs, *way.obtain], vocabulary, f"Crafter item (in {way.name})")

    achievements = extra["achievements"]
    missing = set(rules.achievements) ^ set(achievements)
    if missing:
        raise UserError(f"{EXTRA_PATH}: achievements must match crafter's 22 exactly; "
                        f"differs in {sorted(missing)}")
    names = {w.name: w for w in ways}
    for achievement, entry in achievements.items():
        way = names.get(entry["skill"])
        if way is None:
            raise UserError(f"{EXTRA_PATH}: achievement {achievement!r} maps to unknown skill "
                            f"{entry['skill']!r}")
        if entry["item"] is not None and entry["item"] not in way.obtain:
            raise UserError(f"{EXTRA_PATH}: achievement {achievement!r}: skill {way.name!r} "
                            f"does not obtain {entry['item']!r}")
    max_counts = {item: info.max for item, info in rules.items.items()}
    return Truth(world="crafter", ways=tuple(ways), items=vocabulary,
                 initial={item: info.initial for item, info in rules.items.items() if info.initial},
                 max_counts=max_counts,
                 source=f"crafter {extra['crafter_version']} data.yaml (sha256 {_sha256(rules.source)[:12]})"
                        f" + mcagent/graph/data/{EXTRA_PATH.name}",
                 achievements=achievements, default_targets=tuple(rules.achievements))


def achievement_targets(truth: Truth | None = None) -> list[Target]:
    truth = truth or crafter_truth()
    return truth.resolve_targets(truth.default_targets)


def crafter_graph() -> SkillGraph:
    """The graph of every skill needed for all 22 achievements: finding skills first, as in Plan4MC."""
    truth = crafter_truth()
    ways = closure(truth, achievement_targets(truth))
    order = {w.name: i for i, w in enumerate(truth.ways)}  # file order follows the truth's
    ways.sort(key=lambda w: order[w.name])
    provenance = {"source": "rules", "rules": truth.source,
                  "extracted_by": "mcagent graph extract --world crafter",
                  "targets": list(truth.default_targets)}
    return graph_from_ways(ways, "crafter", provenance)
