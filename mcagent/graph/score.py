"""Score a skill graph against a world's ground truth: per skill, per edge, and the differences.

An edge is one item of a skill's `consume`, `require` or `obtain`. Each skill
is matched to the way of the game that fits it best (among the ways that
obtain what it obtains, or share its name); its edges are then right or wrong
as items, and right or wrong as counts (an obtained count is right within the
game's range, a drop of 1-3 beef accepts 1, 2 or 3). Ways that the graph
needs for its targets but has no skill for count as missing: their edges lower
the recall. `equip` is not scored: the game does not say what is held in hand.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from mcagent.graph.check import Target
from mcagent.graph.schema import Skill, SkillGraph
from mcagent.graph.truth import Truth, Way, closure

FIELDS = ("consume", "require", "obtain")


@dataclasses.dataclass
class SkillScore:
    skill: str
    way: str | None
    fields_right: dict[str, bool]
    type_right: bool
    graph_edges: int = 0
    truth_edges: int = 0
    items_right: int = 0
    counts_right: int = 0
    differences: list[str] = dataclasses.field(default_factory=list)

    @property
    def right(self) -> bool:
        return self.way is not None and all(self.fields_right.values())

    def _badness(self) -> tuple:
        wrong = (self.graph_edges - self.items_right) + (self.truth_edges - self.items_right)
        return (-(self.items_right + self.counts_right - wrong), not self.type_right)


@dataclasses.dataclass
class Score:
    graph: str
    truth: str
    targets: list[str]
    skills: list[SkillScore]
    missing: list[Way]

    @property
    def graph_edges(self) -> int:
        return sum(s.graph_edges for s in self.skills)

    @property
    def truth_edges(self) -> int:
        return sum(s.truth_edges for s in self.skills) + sum(_mandatory_edges(w) for w in self.missing)

    @property
    def items_right(self) -> int:
        return sum(s.items_right for s in self.skills)

    @property
    def counts_right(self) -> int:
        return sum(s.counts_right for s in self.skills)

    @staticmethod
    def _ratio(a: int, b: int) -> float:
        return a / b if b else 0.0  # a graph with no edges gets nothing right, not a perfect score

    @property
    def precision(self) -> float:
        return self._ratio(self.items_right, self.graph_edges)

    @property
    def recall(self) -> float:
        return self._ratio(self.items_right, self.truth_edges)

    @property
    def count_precision(self) -> float:
        return self._ratio(self.counts_right, self.graph_edges)

    @property
    def count_recall(self) -> float:
        return self._ratio(self.counts_right, self.truth_edges)

    @property
    def perfect(self) -> bool:
        return (not self.missing and all(s.right and s.type_right for s in self.skills)
                and self.counts_right == self.graph_edges == self.truth_edges)

    def to_dict(self) -> dict:
        return {"graph": self.graph, "truth": self.truth, "targets": self.targets,
                "skills": len(self.skills), "skills_right": sum(s.right for s in self.skills),
                "missing_skills": [w.name for w in self.missing],
                "edges": {"graph": self.graph_edges, "truth": self.truth_edges,
                          "items_right": self.items_right, "counts_right": self.counts_right},
                "precision": round(self.precision, 4), "recall": round(self.recall, 4),
                "count_precision": round(self.count_precision, 4),
                "count_recall": round(self.count_recall, 4), "perfect": self.perfect,
                "per_skill": [dataclasses.asdict(s) for s in self.skills]}

    def format(self, per_skill: bool = True) -> str:
        mark = {True: "ok", False: "--"}
        lines = [f"graph  {self.graph}", f"truth  {self.truth}",
                 f"skills {len(self.skills)} scored, {sum(s.right for s in self.skills)} right "
                 f"(consume, require and obtain: items and counts), {len(self.missing)} missing",
                 f"edges  {self.graph_edges} in graph, {self.truth_edges} in truth",
                 f"items  precision {self.precision:.3f}  recall {self.recall:.3f}  "
                 f"({self.items_right} right)",
                 f"counts precision {self.count_precision:.3f}  recall {self.count_recall:.3f}  "
                 f"({self.counts_right} right)",
                 f"perfect {'yes' if self.perfect else 'no'}"]
        if per_skill:
            width = max([len(s.skill) for s in self.skills] + [5])
            lines += ["", f"{'skill':{width}}  cons req  obt type  matched way"]
            for s in self.skills:
                f = s.fields_right
                lines.append(f"{s.skill:{width}}  {mark[f['consume']]:4} {mark[f['require']]:4} "
                             f"{mark[f['obtain']]:4} {mark[s.type_right]:4} {s.way or '(none)'}")
        differences = [f"{s.skill}: {d}" for s in self.skills for d in s.differences]
        differences += [f"missing skill: nothing in the graph does {w.name} "
                        f"({_describe(w)})" for w in self.missing]
        lines += ["", f"differences ({len(differences)})" + (":" if differences else "")]
        lines += [f"  {d}" for d in differences]
        return "\n".join(lines)


def _mandatory_edges(way: Way) -> int:
    return len(way.consume) + len(way.require) + sum(1 for lo, _ in way.obtain.values() if lo >= 1)


def _describe(way: Way) -> str:
    parts = []
    for field in ("consume", "require"):
        if getattr(way, field):
            parts.append(f"{field} " + ", ".join(f"{i} {n}" for i, n in getattr(way, field).items()))
    if way.obtain:
        parts.append("obtain " + ", ".join(f"{i} {lo}" if lo == hi else f"{i} {lo}-{hi}"
                                           for i, (lo, hi) in way.obtain.items()))
    return "; ".join(parts) or "needs and obtains nothing"


def compare(skill: Skill, way: Way) -> SkillScore:
    """How `skill` differs from one way of the game."""
    s = SkillScore(skill.name, way.name, {f: True for f in FIELDS}, skill.skill_type == way.skill_type)
    if not s.type_right:
        s.differences.append(f"skill_type {skill.skill_type}, the game's way is {way.skill_type}")

    def wrong(field: str, text: str) -> None:
        s.fields_right[field] = False
        s.differences.append(f"{field} {text}")

    for field, other in (("consume", "require"), ("require", "consume")):
        truth, elsewhere, given = getattr(way, field), getattr(way, other), getattr(skill, field)
        for item, n in given.items():
            s.graph_edges += 1
            if item in truth:
                s.items_right += 1
                if n == truth[item]:
                    s.counts_right += 1
                else:
                    wrong(field, f"{item}: {n}, the game says {truth[item]}")
            elif item in way.nearby:
                s.items_right += 1
                s.truth_edges += 1  # an optional edge, present
                if n == 1:
                    s.counts_right += 1
                else:
                    wrong(field, f"{item}: {n}, a *_nearby count is 1")
            elif item in elsewhere:
                wrong(field, f"{item}: the game {'consumes' if other == 'consume' else 'only requires'} it")
            else:
                wrong(field, f"{item}: the game does not need it")
        for item, n in truth.items():
            s.truth_edges += 1
            if item not in given:
                wrong(field, f"{item} {n}: missing")
    for item, n in skill.obtain.items():
        s.graph_edges += 1
        if item not in way.obtain:
            wrong("obtain", f"{item}: the game does not give it this way")
            continue
        lo, hi = way.obtain[item]
        s.items_right += 1
        if lo < 1:
            s.truth_edges += 1  # a drop that may not come, listed
        if max(lo, 1) <= n <= hi:
            s.counts_right += 1
        else:
            wrong("obtain", f"{item}: {n}, the game gives {lo if lo == hi else f'{lo}-{hi}'}")
    for item, (lo, hi) in way.obtain.items():
        if lo >= 1:
            s.truth_edges += 1
            if item not in skill.obtain:
                wrong("obtain", f"{item} {lo}: missing")
    return s


def score_skill(skill: Skill, truth: Truth) -> SkillScore:
    """The best match of `skill` among the game's ways that share its name or what it obtains."""
    candidates: dict[str, Way] = {}
    named = truth.way(skill.name)
    if named is not None:
        candidates[named.name] = named
    for item in skill.obtain:
        for way in truth.ways_for(item):
            candidates.setdefault(way.name, way)
    if not candidates:
        s = SkillScore(skill.name, None, {f: False for f in FIELDS}, False,  # nothing to be right about
                       graph_edges=sum(len(getattr(skill, f)) for f in FIELDS))
        if skill.obtain:
            why = f"nothing in {truth.world} obtains {', '.join(skill.obtain)}"
        else:
            why = f"it obtains nothing, and {truth.world} has no way of that name"
        s.differences.append(f"no way of the game matches it: {why}")
        return s
    scored = [compare(skill, way) for way in candidates.values()]
    return min(scored, key=lambda s: (s._badness(), s.way != skill.name))


def default_targets(graph: SkillGraph, truth: Truth) -> list[Target]:
    """The graph's own targets if its provenance lists them, else the world's achievements, else what it obtains."""
    names = graph.provenance.get("targets")
    if names:
        return truth.resolve_targets(names)
    if truth.default_targets:
        return truth.resolve_targets(truth.default_targets)
    return [Target("item", item) for skill in graph for item in skill.obtain]


def score_graph(graph: SkillGraph, truth: Truth, targets: Iterable[Target] | None = None,
                name: str = "<graph>") -> Score:
    skills = [score_skill(skill, truth) for skill in graph]
    targets = list(targets) if targets is not None else default_targets(graph, truth)
    matched: dict[str, Way] = {}
    for skill, s in zip(graph, skills):
        if s.way is None:
            continue
        for item in skill.obtain:
            matched.setdefault(item, truth.way(s.way))
    matched_names = {s.way for s in skills}
    needed = closure(truth, targets, chosen=lambda item: matched.get(item) or truth.preferred_way(item))
    missing = [w for w in needed if w.name not in matched_names]
    return Score(name, truth.source, [str(t) for t in targets], skills, missing)
