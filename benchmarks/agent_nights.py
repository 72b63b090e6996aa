"""How the hierarchical agent's episodes fare in the first night, and the morning after.

Plays one task with the shipped skill set (or the oracle's), on seeds never used in
training, in this process, and sorts the episodes still running when the light first
falls to the shelter's dusk level (step 139 of Crafter's 300-step day) by whether the
agent walled itself in that night (`build_shelter` succeeded) and whether it lived to
the morning (step 290). For each group it prints the health held at dusk, how many held
too little for the shelter (3 stone, a wood pickaxe), the skill running at dusk and the
damage taken in the night; then how the episodes alive at step 290 ended. Run from the
repository root:

    python benchmarks/agent_nights.py [--task make_iron_pickaxe] [--episodes 150]
        [--first-seed 2000000000] [--skills checkpoints|expert]
"""

from __future__ import annotations

import argparse
import collections
import statistics
import time

DUSK_STEP = 139      # the light falls below Survival.dusk (0.6) here on the first day
MORNING_STEP = 290   # and is back above the level the agent leaves its shelter at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="make_iron_pickaxe")
    parser.add_argument("--episodes", type=int, default=150)
    parser.add_argument("--first-seed", type=int, default=2 * 10**9)
    parser.add_argument("--skills", default="checkpoints", choices=["checkpoints", "expert"])
    parser.add_argument("--checkpoints", default="checkpoints/skills")
    args = parser.parse_args()

    from mcagent import worlds
    from mcagent.agent import Agent, EpisodeLog, Survival
    from mcagent.agent_cli import load_policies, skill_costs
    from mcagent.graph.schema import load_graph
    from mcagent.planner import Planner
    from mcagent.skills.library import skill_library
    from mcagent.skills.policy import seed_policies

    graph = load_graph("skill_graph/crafter.yaml", world="crafter")
    library = skill_library("skill_graph/crafter.yaml")
    env = worlds.make("crafter", task=args.task)
    policies, source = load_policies(args.skills, library, env, args.checkpoints)
    planner = Planner(graph, costs=skill_costs(args.skills, args.checkpoints, graph))
    shelter = library["build_shelter"]
    state: dict = {}

    def on_step(frame, action, info, skill, plan):
        step = info["step"]
        if step == DUSK_STEP:
            state["dusk"] = (dict(info["inventory"]), skill)
        for event in info["events"]:
            if event.startswith("hurt:"):
                state["last_hurt"] = event[5:]
                if DUSK_STEP <= step <= MORNING_STEP:
                    state.setdefault("night_hurts", collections.Counter())[event[5:]] += 1

    agent = Agent(planner, library, policies, source=source, survival=Survival(), on_step=on_step)
    began = time.perf_counter()
    before_dusk = collections.Counter()
    groups: dict[str, list] = collections.defaultdict(list)
    mornings = collections.Counter()
    morning_deaths = collections.Counter()
    for seed in range(args.first_seed, args.first_seed + args.episodes):
        seed_policies(seed)
        state.clear()
        log = EpisodeLog()
        result = agent.run(env, env.task, seed=seed, log_to=log)
        if "dusk" not in state:
            before_dusk[result.end] += 1
            continue
        built = any(e["event"] == "skill_succeeded" and e["skill"] == "build_shelter"
                    and DUSK_STEP - 40 <= e["step"] <= MORNING_STEP for e in log.events)
        lived = result.steps > MORNING_STEP or result.end != "death"
        inventory, skill = state["dusk"]
        groups[("walled in" if built else "no shelter", "lived" if lived else "died")].append(
            (inventory, skill, state.get("night_hurts", collections.Counter())))
        if result.steps > MORNING_STEP:
            mornings[result.end] += 1
            if result.end == "death":
                morning_deaths[state.get("last_hurt")] += 1

    print(f"{args.task}, {args.skills} skills, {args.episodes} episodes from seed "
          f"{args.first_seed} ({time.perf_counter() - began:.0f} s)")
    print(f"ended before dusk (step {DUSK_STEP}): {dict(before_dusk)}")
    for (walled, fate), rows in sorted(groups.items()):
        hurts = collections.Counter()
        for _, _, h in rows:
            hurts.update(h)
        short = sum(not shelter.holds_start(inv) for inv, _, _ in rows)
        skills = collections.Counter(skill for _, skill, _ in rows).most_common(3)
        print(f"{walled:10s} / {fate:5s} {len(rows):4d}  health at dusk "
              f"{statistics.mean(inv['health'] for inv, _, _ in rows):.1f}, "
              f"{short} without the shelter's stone and pickaxe; running at dusk: "
              + ", ".join(f"{s} {n}" for s, n in skills)
              + "; damage in the night per episode: "
              + ", ".join(f"{k} {v / len(rows):.1f}" for k, v in hurts.most_common(3)))
    print(f"alive at step {MORNING_STEP}: {sum(mornings.values())}, then {dict(mornings)}; "
          f"the deaths by {dict(morning_deaths.most_common())}")


if __name__ == "__main__":
    main()
