"""Evaluation: task suites played by agents over many seeds, results as JSONL, reports.

`episodes` plays one episode of one agent (the hierarchical agent with
mcagent's or Plan4MC's planner, a random agent, a flat PPO agent) and turns it
into a result record; `run` spreads the planned episodes over Ray actors and
appends each result as it ends, so a run resumes; `report` and `score` turn a
results file into tables, plots and Crafter's official score.
"""
