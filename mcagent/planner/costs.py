"""Per-skill expected costs (steps, success rate): the file `mcagent skills evaluate` writes.

Format `mcagent-skill-costs/1`, YAML or JSON:

```yaml
format: mcagent-skill-costs/1
world: crafter                     # the world the skills were measured in
graph: skill_graph/crafter.yaml    # optional: the graph the skill names come from
source: "mcagent skills evaluate, 100 trials per skill, checkpoints/crafter-v1"  # provenance
default: {steps: 1, success_rate: 1.0}   # optional: for skills the file does not list
skills:
  find_tree:     {steps: 38.2, success_rate: 0.97, trials: 100}
  collect_wood:  {steps: 4.1,  success_rate: 1.0,  trials: 100}
  place_table:   {steps: 1,    success_rate: 1.0}
```

- `steps`: mean environment steps per attempt of the skill, successful or not (> 0).
- `success_rate`: fraction of attempts that succeed, in (0, 1]. A skill that never
  succeeded has no finite expected cost; write a smoothed rate such as
  (successes + 1) / (trials + 2) to keep it plannable, or leave it out.
- `trials`: optional, how many attempts the figures come from.

A failed attempt is retried, so one successful run of a skill costs, in
expectation, `steps / success_rate` environment steps (a geometric number of
attempts). The planner minimises the sum of that over the plan when costs are
given, and the number of skill runs otherwise. Skills absent from the file cost
`default`; without `default`, they cost one step and never fail.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
from collections.abc import Mapping

import yaml

from mcagent.errors import UnknownNameError, UserError
from mcagent.graph.schema import SkillGraph, read_data_file

COSTS_FORMAT = "mcagent-skill-costs/1"


@dataclasses.dataclass(frozen=True)
class SkillCost:
    """Measured cost of one skill: mean steps per attempt and the rate of success."""

    steps: float
    success_rate: float = 1.0
    trials: int | None = None

    def __post_init__(self):
        if not (isinstance(self.steps, (int, float)) and math.isfinite(self.steps)
                and self.steps > 0):
            raise UserError(f"skill cost: steps must be a finite number > 0, got {self.steps!r}")
        if not (isinstance(self.success_rate, (int, float)) and 0 < self.success_rate <= 1):
            raise UserError(f"skill cost: success_rate must be in (0, 1], got "
                            f"{self.success_rate!r}; for a skill that never succeeded write "
                            "(successes + 1) / (trials + 2) or leave it out")

    @property
    def expected_steps(self) -> float:
        """Expected steps for one successful run, retrying failures."""
        return self.steps / self.success_rate

    def to_dict(self) -> dict:
        data: dict = {"steps": self.steps, "success_rate": self.success_rate}
        if self.trials is not None:
            data["trials"] = self.trials
        return data


UNIT_COST = SkillCost(1, 1.0)


@dataclasses.dataclass(frozen=True)
class SkillCosts:
    """Costs by skill name, a default for the others, and where the figures came from."""

    skills: Mapping[str, SkillCost]
    default: SkillCost = UNIT_COST
    world: str = ""
    source: str = ""
    graph: str = ""

    def expected_steps(self, skill: str) -> float:
        return self.skills.get(skill, self.default).expected_steps

    def check(self, graph: SkillGraph, where: str = "skill costs") -> None:
        """Every costed skill must be one of the graph's (costs for another graph are a mistake)."""
        for name in self.skills:
            if name not in graph.skills:
                raise UnknownNameError(f"skill in {where}", name, graph.skills)

    def to_dict(self) -> dict:
        data: dict = {"format": COSTS_FORMAT, "world": self.world}
        if self.graph:
            data["graph"] = self.graph
        data["source"] = self.source
        data["default"] = self.default.to_dict()
        data["skills"] = {name: cost.to_dict() for name, cost in self.skills.items()}
        return data


def _cost(raw: object, where: str) -> SkillCost:
    if not isinstance(raw, Mapping):
        raise UserError(f"{where}: expected a mapping with steps and success_rate, got {raw!r}")
    unknown = set(raw) - {"steps", "success_rate", "trials"}
    if unknown:
        raise UserError(f"{where}: unknown field(s) {sorted(unknown)}; "
                        "valid: steps, success_rate, trials")
    if "steps" not in raw:
        raise UserError(f"{where}: field 'steps' is missing")
    trials = raw.get("trials")
    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int)
                               or trials < 1):
        raise UserError(f"{where}: trials must be a positive integer, got {trials!r}")
    for key in ("steps", "success_rate"):
        if isinstance(raw.get(key), bool):
            raise UserError(f"{where}: {key} must be a number, got {raw[key]!r}")
    try:
        return SkillCost(raw["steps"], raw.get("success_rate", 1.0), trials)
    except UserError as error:
        raise UserError(f"{where}: {str(error).removeprefix('skill cost: ')}") from None


def costs_from_dict(data: object, source: str = "<costs>") -> SkillCosts:
    if not isinstance(data, Mapping) or data.get("format") != COSTS_FORMAT:
        found = data.get("format") if isinstance(data, Mapping) else type(data).__name__
        raise UserError(f"{source}: expected format {COSTS_FORMAT!r}, got {found!r}")
    unknown = set(data) - {"format", "world", "graph", "source", "default", "skills"}
    if unknown:
        raise UserError(f"{source}: unknown field(s) {sorted(unknown)}")
    skills = data.get("skills") or {}
    if not isinstance(skills, Mapping):
        raise UserError(f"{source}: 'skills' must map skill names to costs")
    default = _cost(data["default"], f"{source}: default") if data.get("default") else UNIT_COST
    return SkillCosts({str(k): _cost(v, f"{source}: skill {k!r}") for k, v in skills.items()},
                      default, str(data.get("world") or ""), str(data.get("source") or ""),
                      str(data.get("graph") or ""))


def load_costs(path: str | pathlib.Path, graph: SkillGraph | None = None) -> SkillCosts:
    """Read a costs file (YAML, or JSON for .json), checked against `graph` when given."""
    path = pathlib.Path(path)
    costs = costs_from_dict(read_data_file(path, "skill costs"), str(path))
    if graph is not None:
        costs.check(graph, str(path))
    return costs


def save_costs(costs: SkillCosts, path: str | pathlib.Path) -> None:
    """Write a costs file (YAML, or JSON for .json) atomically."""
    path = pathlib.Path(path)
    data = costs.to_dict()
    text = (json.dumps(data, indent=1) + "\n" if path.suffix == ".json"
            else yaml.safe_dump(data, sort_keys=False))
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
