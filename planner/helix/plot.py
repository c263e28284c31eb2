"""``--plot FILE.png``: the layer map (nodes x layers) and the flow graph of a Helix plan (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

from planner.plan import Plan
from planner.render.plots import pyplot, save_png


def plot_plan(plan: Plan, path: Path) -> None:
    """Left: each node's layer range, coloured by node type, opacity by utilisation. Right: the flow graph."""
    plt = pyplot()

    block = plan.plan
    nodes = sorted(block["nodes"], key=lambda n: (n["layer_start"], n["layer_end"], n["name"]))
    types = sorted({n["profile_gpu"] for n in nodes})
    cmap = plt.get_cmap("tab10")
    colour = {t: cmap(i % 10) for i, t in enumerate(types)}
    fig, (ax_map, ax_flow) = plt.subplots(1, 2, figsize=(15, max(4.0, 0.28 * len(nodes) + 1.5)))

    for row, n in enumerate(nodes):
        if n["layers"] <= 0:
            continue
        use = n["inflow_tok_s"] / n["tp_tok_s"] if n["tp_tok_s"] > 0 else 0.0
        ax_map.barh(row, n["layers"], left=n["layer_start"], color=colour[n["profile_gpu"]], alpha=0.25 + 0.75 * use)
    ax_map.set_yticks(range(len(nodes)), [n["name"] for n in nodes], fontsize=7)
    ax_map.invert_yaxis()
    ax_map.set_xlim(0, block["layers"])
    ax_map.set_xlabel("layer")
    ax_map.set_ylabel("node")
    ax_map.set_title("Layer map (opacity = utilisation)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colour[t]) for t in types]
    ax_map.legend(handles, types, fontsize=7, loc="lower right")

    pos: dict[str, tuple[float, float]] = {
        "source": (-2.0, len(nodes) / 2),
        "sink": (block["layers"] + 2.0, len(nodes) / 2),
    }
    for row, n in enumerate(nodes):
        pos[n["name"]] = ((n["layer_start"] + n["layer_end"]) / 2, row)
    peak = max((e["flow_tok_s"] for e in block["edges"]), default=0.0) or 1.0
    for e in block["edges"]:
        if e["flow_tok_s"] <= 0 or e["src"] not in pos or e["dst"] not in pos:
            continue
        (x0, y0), (x1, y1) = pos[e["src"]], pos[e["dst"]]
        ax_flow.plot([x0, x1], [y0, y1], color="tab:blue", linewidth=0.4 + 3.0 * e["flow_tok_s"] / peak, alpha=0.7)
    for name, (x, y) in pos.items():
        ax_flow.scatter([x], [y], s=14, color="black" if name in ("source", "sink") else "tab:orange", zorder=3)
    ax_flow.invert_yaxis()
    ax_flow.set_xlabel("layer (node placed at the middle of its range)")
    ax_flow.set_ylabel("node (same order as the layer map)")
    ax_flow.set_title(f"Flow graph: {plan.metrics.get('throughput_tok_s', 0):,.1f} tokens/s (width = flow)")
    fig.tight_layout()
    save_png(fig, path)
