"""A networkx view of a skill graph, for analysis, and a picture of it for people."""

from __future__ import annotations

import pathlib

from mcagent.graph.schema import SKILL_TYPES, SkillGraph

TYPE_COLOURS = {0: "#6aaa64", 1: "#e8a33d", 2: "#4f86c6"}  # finding, manipulation, crafting
ITEM_COLOUR = "#dddddd"


def to_networkx(graph: SkillGraph):
    """A DiGraph with a node per skill (`skill:<name>`) and per item (`item:<name>`).

    Edges run item -> skill for `consume`/`require` (attribute `relation`, `count`)
    and skill -> item for `obtain`. Node attributes: `kind` ("skill"/"item"),
    `name`, and `skill_type` for skills.
    """
    import networkx as nx

    g = nx.DiGraph()
    for item in sorted(graph.items):
        g.add_node(f"item:{item}", kind="item", name=item)
    for skill in graph:
        node = f"skill:{skill.name}"
        g.add_node(node, kind="skill", name=skill.name, skill_type=skill.skill_type)
        for relation in ("consume", "require"):
            for item, count in getattr(skill, relation).items():
                g.add_edge(f"item:{item}", node, relation=relation, count=count)
        for item, count in skill.obtain.items():
            g.add_edge(node, f"item:{item}", relation="obtain", count=count)
    return g


def _layers(g) -> dict[str, int]:
    """Left-to-right depth: a skill one column right of its deepest input, an item right of its first producer."""
    layer: dict[str, int] = {}
    pending = set(g.nodes)
    for node in g.nodes:
        if g.nodes[node]["kind"] == "item" and g.in_degree(node) == 0:
            layer[node] = 0
    while True:
        progress = False
        for node in sorted(pending - set(layer)):
            preds = list(g.predecessors(node))
            if g.nodes[node]["kind"] == "skill":
                if all(p in layer for p in preds):
                    layer[node] = 1 + max((layer[p] for p in preds), default=0)
                    progress = True
            else:
                placed = [layer[p] for p in preds if p in layer]
                if placed:
                    layer[node] = 1 + min(placed)
                    progress = True
        if not progress:
            break
    deepest = max(layer.values(), default=0)
    for node in g.nodes:  # nodes that can never be reached go to the far right
        layer.setdefault(node, deepest + 1)
    return layer


def _ordered(g, layer: dict[str, int]):
    """The same graph with nodes in the order multipartite_layout stacks them: a few barycentre
    sweeps (each column sorted by the mean row of its neighbours) so that fewer edges cross."""
    import networkx as nx

    columns = [sorted(n for n in g if layer[n] == c) for c in range(max(layer.values()) + 1)]
    row = {n: i for column in columns for i, n in enumerate(column)}

    def sweep(indices, neighbours):
        for c in indices:
            def key(n):
                near = [row[m] for m in neighbours(n)]
                return (sum(near) / len(near) if near else row[n], n)
            columns[c].sort(key=key)
            row.update((n, i) for i, n in enumerate(columns[c]))

    both = lambda n: [*g.predecessors(n), *g.successors(n)]  # noqa: E731
    for _ in range(2):
        sweep(range(1, len(columns)), both)
        sweep(range(len(columns) - 2, -1, -1), both)
    ordered = nx.DiGraph()
    ordered.add_nodes_from((n, {**g.nodes[n], "layer": layer[n]}) for column in columns for n in column)
    ordered.add_edges_from(g.edges(data=True))
    return ordered


def draw_graph(graph: SkillGraph, out: str | pathlib.Path, title: str | None = None) -> pathlib.Path:
    """Draw items (grey) and skills (squares coloured by type) left to right in the order they become reachable."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx
    from matplotlib.lines import Line2D

    g = _ordered(to_networkx(graph), _layers(to_networkx(graph)))
    layer = nx.get_node_attributes(g, "layer")
    pos = nx.multipartite_layout(g, subset_key="layer", align="vertical", scale=1.0)
    columns = max(layer.values()) + 1
    tallest = max(sum(1 for v in layer.values() if v == c) for c in range(columns))
    width = max(8.0, 1.15 * columns)
    fig, ax = plt.subplots(figsize=(width, max(6.0, 0.45 * tallest, width / 2.5)))
    styles = {"consume": ("-", "#555555"), "require": ("--", "#999999"), "obtain": ("-", "#2b6cb0")}
    for relation, (style, colour) in styles.items():
        edges = [(u, v) for u, v, r in g.edges(data="relation") if r == relation]
        nx.draw_networkx_edges(g, pos, edgelist=edges, ax=ax, style=style, edge_color=colour,
                               arrows=True, arrowsize=8, width=0.8, node_size=350,
                               connectionstyle="arc3,rad=0.05")
    items = [n for n in g if g.nodes[n]["kind"] == "item"]
    nx.draw_networkx_nodes(g, pos, nodelist=items, node_color=ITEM_COLOUR, node_shape="o",
                           node_size=250, ax=ax)
    for skill_type, colour in TYPE_COLOURS.items():
        nodes = [n for n in g if g.nodes[n].get("skill_type") == skill_type]
        nx.draw_networkx_nodes(g, pos, nodelist=nodes, node_color=colour, node_shape="s",
                               node_size=300, ax=ax)
    nx.draw_networkx_labels(g, pos, labels={n: g.nodes[n]["name"] for n in g}, font_size=7, ax=ax,
                            verticalalignment="bottom")
    legend = [Line2D([], [], marker="s", linestyle="", color=c, label=f"skill: {SKILL_TYPES[t]}")
              for t, c in TYPE_COLOURS.items()]
    legend += [Line2D([], [], marker="o", linestyle="", color=ITEM_COLOUR, label="item"),
               Line2D([], [], color=styles["consume"][1], label="consumes"),
               Line2D([], [], color=styles["require"][1], linestyle="--", label="requires"),
               Line2D([], [], color=styles["obtain"][1], label="obtains")]
    ax.legend(handles=legend, loc="upper left", fontsize=8, frameon=False)
    ax.set_title(title or f"{graph.world} skill graph: {len(graph)} skills, {len(graph.items)} items")
    ax.axis("off")
    fig.tight_layout()
    out = pathlib.Path(out)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
