"""Per-node decode batches and token residence of one ``plan simulate --offline`` run, next to the prediction.

Instruments the simulator's engine from outside (its methods wrapped in this process only; ``planner/sim`` is not
changed) and records, for every node, inside the measured window: iterations, the token-weighted mean decode batch
(the batch a decode token rides in), the share of decode tokens that ride with a prompt, and the mean residence of a
decode token (delivered at the node -> its iteration ends). Printed next to what the predictor assumes for the node.
With ``--buckets``, also the run minute by minute (warm-up included): the token-weighted decode batch over all nodes
and the decode tokens processed per second summed over the nodes (a token crossing h hops counts h times), which
shows how the cluster fills and when its waves merge.

    .venv/bin/python scripts/helix_sim_nodes.py PLAN.json [--buckets]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any


def instrument(plan_path: Path, duration_s: float = 600.0) -> dict[str, dict[str, float]]:
    """Simulate ``plan_path`` offline and return per-node batch and residence figures (node name -> figures)."""
    from planner.sim import engine as eng
    from planner.sim.run import SimOptions, simulate

    arrived: dict[tuple[int, int, int], float] = {}
    acc: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    minutes: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])  # minute -> sum d^2, sum d (decode tokens)
    names: dict[int, str] = {}
    orig_deliver, orig_done = eng.Engine._deliver, eng.Engine._done

    def deliver(self: Any, target: int, items: list[tuple[int, int]]) -> None:
        if target != self.sink:
            for rid, hop in items:
                arrived[(target, rid, hop)] = self.now
        orig_deliver(self, target, items)

    def done(self: Any, node: int) -> None:
        batch = self.batch[node]
        m = minutes[int(self.now // 60.0)]
        d_all = sum(1 for _, _, p in batch if not p)
        m[0] += d_all * d_all
        m[1] += d_all
        if self.cfg.warmup_s <= self.now < self.cfg.end_s:
            d = sum(1 for _, _, p in batch if not p)
            prompts = sum(1 for _, _, p in batch if p)
            a = acc[node]
            names[node] = self.topo.nodes[node].name
            a["iterations"] += 1
            a["decode_tokens"] += d
            a["d2"] += d * d
            a["prompt_iterations"] += prompts > 0
            a["riders"] += d if prompts else 0
            a["busy"] += self.now - self.batch_start[node]
            for rid, hop, p in batch:
                t = arrived.pop((node, rid, hop), None)
                if not p and t is not None:
                    a["residence"] += self.now - t
                    a["wait"] += self.batch_start[node] - t
        else:
            for rid, hop, _ in batch:
                arrived.pop((node, rid, hop), None)
        orig_done(self, node)

    eng.Engine._deliver, eng.Engine._done = deliver, done  # type: ignore[method-assign]
    try:
        run = simulate([plan_path], SimOptions(offline=True, latency="auto", duration_s=duration_s))
    finally:
        eng.Engine._deliver, eng.Engine._done = orig_deliver, orig_done  # type: ignore[method-assign]
    out: dict[str, dict[str, float]] = {}
    for i, a in acc.items():
        d = a["decode_tokens"]
        out[names[i]] = {
            "iterations": a["iterations"],
            "decode_tok_s": d / duration_s,
            "batch": a["d2"] / d if d else 0.0,
            "mean_batch": d / a["iterations"] if a["iterations"] else 0.0,
            "iter_s": a["iterations"] / duration_s,
            "rider_share": a["riders"] / d if d else 0.0,
            "prompt_iter_share": a["prompt_iterations"] / a["iterations"] if a["iterations"] else 0.0,
            "busy_share": a["busy"] / duration_s,
            "residence_ms": 1e3 * a["residence"] / d if d else 0.0,
            "wait_ms": 1e3 * a["wait"] / d if d else 0.0,
        }
    out["_total"] = {"decode_tok_s": run.document.placements[0].decode_throughput_tok_s}
    for minute, (d2, d) in sorted(minutes.items()):
        out[f"_minute {minute}"] = {"batch": d2 / d if d else 0.0, "token_hops_s": d / 60.0}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("plans", nargs="+", type=Path)
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--buckets", action="store_true", help="also print the run minute by minute")
    args = ap.parse_args()
    from planner.helix.served import DEFAULT_TRACE, ServedModel, predict_plan_block, trace_workload
    from planner.profiles.db import ProfileDB

    db = ProfileDB.load(None)
    for path in args.plans:
        plan = json.loads(path.read_text())
        model = ServedModel(db, db.model(plan["plan"]["model"]), trace_workload(DEFAULT_TRACE))
        debug: dict[str, Any] = {}
        model.debug = debug
        pred = predict_plan_block(plan["plan"], model)
        sim = instrument(path)
        if args.json:
            sys.stdout.write(json.dumps({"plan": str(path), "sim": sim, "pred": debug}, default=float) + "\n")
            continue
        total = sim.pop("_total")["decode_tok_s"]
        minutes = {name: sim.pop(name) for name in [n for n in sim if n.startswith("_minute ")]}
        sys.stdout.write(f"{path}: decode predicted {pred.decode_tok_s:.1f}, simulated {total:.1f}\n")
        sys.stdout.write(
            "node | gpu | layers | join | requests N_i | sim tok/s | sim iterations/s | sim batch (token-weighted) | "
            "pred batch | sim riders | sim busy | sim wait ms | sim residence ms | pred residence ms\n"
        )
        gpus = {n["name"]: (n["gpu"], n["layer_end"] - n["layer_start"]) for n in plan["plan"]["nodes"]}
        for name in sorted(sim, key=lambda n: (gpus[n][0], n)):
            s, p = sim[name], debug.get("nodes", {}).get(name, {})
            cells = [
                name,
                gpus[name][0],
                str(gpus[name][1]),
                "join" if p.get("join") else "",
                f"{p.get('in_flight', 0.0):.0f}",
                f"{s['decode_tok_s']:.0f}",
                f"{s['iter_s']:.1f}",
                f"{s['batch']:.1f}",
                f"{p.get('batch', 0.0):.1f}",
                f"{s['rider_share']:.2f}",
                f"{s['busy_share']:.2f}",
                f"{s['wait_ms']:.1f}",
                f"{s['residence_ms']:.1f}",
                f"{p.get('residence_ms', 0.0):.1f}",
            ]
            sys.stdout.write(" | ".join(cells) + "\n")
        if args.buckets:
            sys.stdout.write("minute from (s) | token-weighted decode batch | decode token-hops/s\n")
            for name, fig in sorted(minutes.items(), key=lambda kv: int(kv[0].split()[1])):
                start = 60 * int(name.split()[1])
                sys.stdout.write(f"{start} | {fig['batch']:.1f} | {fig['token_hops_s']:.0f}\n")


if __name__ == "__main__":
    main()
