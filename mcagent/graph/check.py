"""Checks of a skill graph: names, counts, skills that can never run, targets out of reach, cycles.

Every problem names the skill and the field it is in, so that a person (or an
LLM asked to repair its answer) can fix it. Counts are ignored by the
reachability checks: a skill can run again for more of what it obtains.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Collection, Iterable, Mapping

from mcagent.graph.schema import NEARBY_SUFFIX, Skill, SkillGraph

DEFAULT_MAX_COUNT = 64  # one Minecraft stack: more than this in one skill is a mistake
FIELDS = ("consume", "require", "obtain")


@dataclasses.dataclass(frozen=True)
class Target:
    """What a graph must reach: an item to obtain, or a skill (an achievement) to run."""

    kind: str  # "item" or "skill"
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name!r}"


@dataclasses.dataclass(frozen=True)
class Problem:
    skill: str | None
    field: str | None
    message: str
    severity: str = "error"  # "error": the graph is wrong; "warning": worth a look

    def __str__(self) -> str:
        where = []
        if self.skill is not None:
            where.append(f"skill {self.skill!r}")
        if self.field is not None:
            where.append(self.field)
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def _quote(text: str, limit: int = 40) -> str:
    """A name quoted for a message, cut short: an answer's text never travels far."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def reachable(graph: SkillGraph, initial: Mapping[str, int] = {}) -> tuple[set[str], list[Skill]]:
    """Items that can be had from `initial` by running skills, and the skills that can run."""
    have = {item for item, n in initial.items() if n > 0}
    runnable: list[Skill] = []
    pending = list(graph)
    changed = True
    while changed:
        changed = False
        for skill in list(pending):
            if all(item in have for item in skill.inputs):
                runnable.append(skill)
                pending.remove(skill)
                have.update(skill.obtain)
                changed = True
    return have, runnable


def _cycles_without_way_in(graph: SkillGraph, have: set[str]) -> list[list[str]]:
    """Cycles (as skill names) whose items no skill outside the cycle can provide."""
    import networkx as nx  # imported here: no work at import time

    from mcagent.graph.view import to_networkx

    g = to_networkx(graph)
    found = []
    for component in nx.strongly_connected_components(g):
        nodes = sorted(component)
        if len(nodes) == 1 and not g.has_edge(nodes[0], nodes[0]):
            continue
        items = [g.nodes[n]["name"] for n in nodes if g.nodes[n]["kind"] == "item"]
        if any(item in have for item in items):
            continue
        skills = [g.nodes[n]["name"] for n in nodes if g.nodes[n]["kind"] == "skill"]
        found.append(sorted(skills))
    return found


def check_graph(graph: SkillGraph, *, known_items: Collection[str] | None = None,
                max_count: Callable[[str], int] | None = None,
                initial: Mapping[str, int] = {},
                targets: Iterable[Target] = ()) -> list[Problem]:
    """Every problem of `graph`; an empty list means it is sound.

    known_items: the world's item names (None: any name goes).
    max_count: the largest sensible count of an item in one skill (default 64;
        `*_nearby` items say whether a thing is near, so their count is 1).
    initial: what the world gives before any skill runs.
    targets: items or skills the graph must reach from `initial`.
    """
    problems: list[Problem] = []
    limit = max_count or (lambda item: DEFAULT_MAX_COUNT)
    for skill in graph:
        problems.extend(_check_skill(skill, known_items, limit))

    have, runnable = reachable(graph, initial)
    runnable_names = {s.name for s in runnable}
    producers: dict[str, list[str]] = {}
    for skill in graph:
        for item in skill.obtain:
            producers.setdefault(item, []).append(skill.name)
    for skill in graph:
        if skill.name in runnable_names:
            continue
        for field in ("consume", "require"):
            for item in getattr(skill, field):
                if item in have:
                    continue
                if item not in producers:
                    why = "no skill obtains it and the world does not give it"
                else:
                    one = len(producers[item]) == 1
                    why = (f"only {', '.join(producers[item])} obtain{'s' if one else ''} it, "
                           f"and {'it' if one else 'they'} can never run")
                problems.append(Problem(skill.name, field,
                                        f"the skill can never run: it needs {_quote(item)}, but {why}"))
    for cycle in _cycles_without_way_in(graph, have):
        problems.append(Problem(None, None, f"cycle with no way in: skills {', '.join(cycle)} "
                                            "need each other's items and nothing else provides them"))
    for target in targets:
        if target.kind == "skill":
            if target.name not in graph.skills:
                problems.append(Problem(None, None, f"target skill {_quote(target.name)} is missing: "
                                                    "add a skill with exactly that name"))
            elif target.name not in runnable_names:
                problems.append(Problem(target.name, None, "target out of reach: the skill can never run"))
        elif target.name not in have:
            how = ("no skill obtains it" if target.name not in producers
                   else f"{', '.join(producers[target.name])} can never run")
            problems.append(Problem(None, None, f"target item {_quote(target.name)} is out of reach: {how}"))
    return problems


def _check_skill(skill: Skill, known_items: Collection[str] | None,
                 limit: Callable[[str], int]) -> list[Problem]:
    problems = []
    for field in FIELDS:
        for item, count in getattr(skill, field).items():
            if known_items is not None and item not in known_items:
                close = difflib.get_close_matches(item, list(known_items), n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                problems.append(Problem(skill.name, field, f"unknown item {_quote(item)}{hint}"))
            if count < 1:
                problems.append(Problem(skill.name, field,
                                        f"count of {_quote(item)} is {count}; counts are at least 1"))
            else:
                most = 1 if item.endswith(NEARBY_SUFFIX) else limit(item)
                if count > most:
                    problems.append(Problem(skill.name, field,
                                            f"count of {_quote(item)} is {count}, more than the "
                                            f"{most} that makes sense in one skill"))
    for item in skill.equip:
        if item not in skill.consume and item not in skill.require:
            problems.append(Problem(skill.name, "equip",
                                    f"equips {_quote(item)} but neither consumes nor requires it"))
    if not skill.obtain:
        problems.append(Problem(skill.name, "obtain", "obtains nothing", severity="warning"))
    if skill.skill_type == 0 and any(not i.endswith(NEARBY_SUFFIX) for i in skill.obtain):
        problems.append(Problem(skill.name, "obtain",
                                "a finding skill (type 0) should obtain only *_nearby items",
                                severity="warning"))
    return problems


def raise_on_errors(graph: SkillGraph, source: str = "<graph>") -> None:
    """Check `graph` against its world's items and its own targets; one UserError lists every error."""
    from mcagent.errors import UserError
    from mcagent.graph.truths import WORLDS, truth_for

    kwargs: dict = {}
    targets: list[Target] = []
    if graph.world in WORLDS:
        truth = truth_for(graph.world)
        kwargs = truth.check_kwargs()
        targets = truth.resolve_targets(graph.provenance.get("targets") or [])
    found = errors(check_graph(graph, targets=targets, **kwargs))
    if found:
        raise UserError(f"{source}: {len(found)} error(s): " + "; ".join(map(str, found)))
