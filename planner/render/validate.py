"""Rendering of ``plan validate``."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from planner.render.markdown import md_table
from planner.report_data import fmt_num
from planner.spec.summary import SpecSummary


def render_summary(s: SpecSummary, console: Console, markdown: bool = False) -> None:
    rows = [[g, v["nodes"], v["gpus"], v["vram_gb"]] for g, v in s.nodes_by_gpu.items()]
    ready = [[k, "ready" if not v else "missing: " + ", ".join(v)] for k, v in s.solvers.items()]
    if markdown:
        console.file.write(f"## Spec `{s.name}` (model {s.model})\n\n")
        console.file.write(md_table(["gpu", "nodes", "gpus", "vram_gb"], rows) + "\n\n")
        console.file.write(md_table(["solver", "status"], ready) + "\n")
        return
    console.print(Text.assemble("spec ", (str(s.name), "bold"), f": model {s.model}"))
    if not rows:
        console.print("nodes: none (a `nodes:` section is needed by plan helix)")
    t = Table(title="Nodes by GPU type", title_justify="left")
    for c in ("gpu", "nodes", "gpus", "vram_gb"):
        t.add_column(c, justify="left" if c == "gpu" else "right")
    for r in rows:
        t.add_row(*(fmt_num(x) for x in r))
    t.add_row("total", fmt_num(s.node_count), fmt_num(s.gpu_count), fmt_num(s.total_vram_gb), style="bold")
    if rows:
        console.print(t)
    console.print(
        f"regions: {', '.join(s.regions) or '-'}; compute links: {s.compute_links}; "
        f"coordinator links: {s.coordinator_links}"
    )
    t2 = Table(title="Solvers", title_justify="left")
    t2.add_column("solver")
    t2.add_column("status")
    for r in ready:
        t2.add_row(*r)
    console.print(t2)
