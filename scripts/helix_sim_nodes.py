"""Per-node decode batches and token residence of one ``plan simulate --offline`` run, next to the prediction.

Instruments the simulator's engine from outside (its methods wrapped in this process only; ``planner/sim`` is not
changed) and records, for every node, inside the measured window: iterations, the token-weighted mean decode batch
(the batch a decode token rides in), the share of decode tokens that ride with a prompt, and the mean residence of a
decode token (delivered at the node -> its iteration ends). Printed next to what the predictor assumes for the node.
With ``--buckets``, also the run minute by minute (warm-up included): the token-weighted decode batch over all nodes
and the decode tokens processed per second summed over the nodes (a token crossing h hops counts h times), which
shows how the cluster fills and when its waves merge.

With ``--tokens``, the online run instead (``plan simulate --load F`` at the offered rate of the Agreement table,
``F = 0.6 x predicted prompt + decode tok/s / bound``): what every measured decode token's latency (previous token
at the coordinator -> this one) is made of, averaged over bands of the latency distribution (all, p45-55, p97-99,
p98.5-99.5): link latency + transmission, queueing on a link behind a prompt transfer or behind decode messages,
waiting at a node behind a prompt iteration or a decode-only iteration in progress, its own iterations (decode
part) and what riding with a prompt adds to them; and the share of tokens that waited behind a prompt at least
once. It is what ``planner/helix/online.py`` predicts hop by hop (its docstring, step 4).

With ``--routes``, the same online run by node and by route instead: per node, iterations/s, the mean and the
token-weighted decode batch, busy share and the share busy with prompt iterations (the online decode waves); per
route the simulator chose (IWRR), its share of the measured decode tokens, its requests and their mean prompt, and
the p10 / p50 / p90 / p99 of its tokens' latency.

With ``--rides``, the same online run by how decode items come to share an iteration with a prompt: joined at this
node (at the route's first hop or a later one; the node busy with a prompt iteration, a decode one, or idle when the
token arrived) or riding on in the prompt's message (``planner/helix/online.py``, step 4, models the joining).
``--duration S`` measures any of the online views over a longer window (``plan simulate --duration``).

    .venv/bin/python scripts/helix_sim_nodes.py PLAN.json [--buckets | --tokens | --routes | --rides] [--duration S]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from planner.helix.online import SIM_DURATION_S


def instrument(plan_path: Path, duration_s: float = SIM_DURATION_S) -> dict[str, dict[str, float]]:
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


TOKEN_PARTS = [
    "link_lat_tx",
    "link_q_prompt",
    "link_q_dec",
    "wait_prompt",
    "wait_dec",
    "own_dec",
    "own_prompt_extra",
]


def token_parts(
    plan_path: Path, load: float, duration_s: float = SIM_DURATION_S
) -> tuple[dict[str, list[float]], float, float]:
    """Simulate ``plan_path`` online at ``load`` (``--load``) and return, per measured decode token, its latency
    and its parts (seconds; see the module docstring), and the run's p50 / p99 per-token latency (ms)."""
    from planner.sim import engine as eng
    from planner.sim.run import SimOptions, simulate

    parts: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    arrived: dict[tuple[int, int, int], tuple[float, bool]] = {}
    last_prompt: dict[int, bool] = {}
    rec: dict[str, list[float]] = defaultdict(list)
    cls = eng.Engine
    orig = (cls._send, cls._deliver, cls._start, cls._done, cls._collect)
    o_send, o_deliver, o_start, o_done, o_collect = orig

    def send(self: Any, src: int, dst: int, items: list[tuple[int, int]], nbytes: float, tokens: int) -> None:
        li = self.link_of[(src, dst)]
        link = self.topo.links[li]
        queued = max(self.now, self.link_free[li]) - self.now
        for rid, _ in items:
            if self.r_gen[rid] > 0:
                p = parts[rid]
                p["link_lat_tx"] += nbytes / link.bandwidth_bytes_s + link.latency_s
                p["link_q_prompt" if last_prompt.get(li, False) else "link_q_dec"] += queued
        last_prompt[li] = any(self.r_gen[rid] == 0 for rid, _ in items)
        o_send(self, src, dst, items, nbytes, tokens)

    def deliver(self: Any, target: int, items: list[tuple[int, int]]) -> None:
        if target != self.sink:
            behind_prompt = self.busy[target] and any(p for _, _, p in self.batch[target])
            for rid, hop in items:
                arrived[(target, rid, hop)] = (self.now, behind_prompt)
        o_deliver(self, target, items)

    def start(self: Any, node: int) -> None:
        o_start(self, node)
        if self.busy[node] and self.batch_start[node] == self.now:
            for rid, hop, is_prompt in self.batch[node]:
                a = arrived.pop((node, rid, hop), None)
                if not is_prompt and a is not None:
                    parts[rid]["wait_prompt" if a[1] else "wait_dec"] += self.now - a[0]

    def done(self: Any, node: int) -> None:
        batch = self.batch[node]
        took = self.now - self.batch_start[node]
        decode_only = took
        if any(p for _, _, p in batch) and self.topo.mode == "strict":
            nd = self.topo.nodes[node]
            decode_only = nd.layers * nd.latency.decode_s[sum(1 for _, _, p in batch if not p)]
        for rid, _, is_prompt in batch:
            if not is_prompt:
                parts[rid]["own_dec"] += decode_only
                parts[rid]["own_prompt_extra"] += took - decode_only
        o_done(self, node)

    def collect(self: Any, items: list[tuple[int, int]]) -> None:
        if self.cfg.warmup_s <= self.now < self.cfg.end_s:
            for rid, _ in items:
                if self.r_gen[rid] > 0:
                    rec["total"].append(self.now - self.r_last[rid])
                    for key in TOKEN_PARTS:
                        rec[key].append(parts[rid].get(key, 0.0))
        for rid, _ in items:
            parts.pop(rid, None)
        o_collect(self, items)

    cls._send, cls._deliver, cls._start, cls._done, cls._collect = send, deliver, start, done, collect  # type: ignore[method-assign]
    try:
        run = simulate([plan_path], SimOptions(load=load, latency="auto", duration_s=duration_s))
    finally:
        cls._send, cls._deliver, cls._start, cls._done, cls._collect = orig  # type: ignore[method-assign]
    lat = run.document.placements[0].decode_token_latency
    return rec, float(lat.p50_ms or 0.0), float(lat.p99_ms or 0.0)


def print_tokens(
    path: Path, predicted_total_tok_s: float, p50_99: tuple[float, float], duration_s: float = SIM_DURATION_S
) -> None:
    """``--tokens``: the online run's per-token latency parts by band, next to the predicted p50 / p99."""
    from planner.helix.served import ONLINE_LOAD
    from planner.sim.placement import load_placement

    load = ONLINE_LOAD * predicted_total_tok_s / load_placement(path).bound_tok_s  # the simulator's own bound
    rec, p50, p99 = token_parts(path, load, duration_s)
    total = rec["total"]
    order = sorted(range(len(total)), key=total.__getitem__)
    sys.stdout.write(
        f"{path}: --load {load:.4f}, {len(total)} decode tokens; p50 predicted {p50_99[0]:.0f} ms, simulated "
        f"{p50:.0f}; p99 predicted {p50_99[1]:.0f}, simulated {p99:.0f}; tokens that waited behind a prompt: "
        f"{sum(w > 0 for w in rec['wait_prompt']) / max(len(total), 1):.2%}\n"
    )
    sys.stdout.write("band | latency ms | " + " | ".join(f"{k} ms" for k in TOKEN_PARTS) + "\n")
    n = len(order)
    for name, lo, hi in [
        ("all", 0.0, 1.0),
        ("p45-55", 0.45, 0.55),
        ("p97-99", 0.97, 0.99),
        ("p98.5-99.5", 0.985, 0.995),
    ]:
        sel = order[int(lo * n) : max(int(hi * n), int(lo * n) + 1)] if n else []
        if not sel:
            continue
        cells = [name, f"{1e3 * sum(total[i] for i in sel) / len(sel):.1f}"]
        cells += [f"{1e3 * sum(rec[k][i] for i in sel) / len(sel):.1f}" for k in TOKEN_PARTS]
        sys.stdout.write(" | ".join(cells) + "\n")


def print_routes(path: Path, predicted_total_tok_s: float, duration_s: float = SIM_DURATION_S) -> None:
    """``--routes``: the online run's decode batches node by node and its tokens' latency route by route."""
    import numpy as np

    from planner.helix.served import ONLINE_LOAD
    from planner.sim import engine as eng
    from planner.sim.placement import load_placement
    from planner.sim.run import SimOptions, simulate

    load = ONLINE_LOAD * predicted_total_tok_s / load_placement(path).bound_tok_s
    acc: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    tokens: dict[tuple[str, ...], list[float]] = defaultdict(list)
    requests: dict[tuple[str, ...], dict[int, int]] = defaultdict(dict)
    cls = eng.Engine
    o_done, o_collect = cls._done, cls._collect

    def done(self: Any, node: int) -> None:
        if self.cfg.warmup_s <= self.now < self.cfg.end_s:
            batch = self.batch[node]
            d = sum(1 for _, _, p in batch if not p)
            took = self.now - self.batch_start[node]
            a = acc[self.topo.nodes[node].name]
            a["iterations"] += 1
            a["d"] += d
            a["d2"] += d * d
            a["busy"] += took
            a["prompt_busy"] += took if any(p for _, _, p in batch) else 0.0
        o_done(self, node)

    def collect(self: Any, items: list[tuple[int, int]]) -> None:
        if self.cfg.warmup_s <= self.now < self.cfg.end_s:
            for rid, _ in items:
                if self.r_gen[rid] > 0:
                    route = tuple(self.topo.nodes[n].name for n in self.r_route[rid])
                    tokens[route].append(self.now - self.r_last[rid])
                    requests[route][rid] = self.r_in[rid]
        o_collect(self, items)

    cls._done, cls._collect = done, collect  # type: ignore[method-assign]
    try:
        run = simulate([path], SimOptions(load=load, latency="auto", duration_s=duration_s))
    finally:
        cls._done, cls._collect = o_done, o_collect  # type: ignore[method-assign]
    lat = run.document.placements[0].decode_token_latency
    n_tok = sum(len(v) for v in tokens.values())
    sys.stdout.write(
        f"{path}: --load {load:.4f}, {n_tok} decode tokens, p50 {float(lat.p50_ms or 0.0):.0f} ms, "
        f"p99 {float(lat.p99_ms or 0.0):.0f}\n"
    )
    sys.stdout.write(
        "node | iterations/s | mean decode batch | token-weighted decode batch | busy | busy with prompts\n"
    )
    for name, a in sorted(acc.items()):
        it = max(a["iterations"], 1.0)
        sys.stdout.write(
            f"{name} | {a['iterations'] / duration_s:.1f} | {a['d'] / it:.1f} | {a['d2'] / max(a['d'], 1.0):.1f} | "
            f"{a['busy'] / duration_s:.2f} | {a['prompt_busy'] / duration_s:.2f}\n"
        )
    sys.stdout.write("tokens | requests | mean prompt | p10 ms | p50 ms | p90 ms | p99 ms | route\n")
    for route, v in sorted(tokens.items(), key=lambda kv: -len(kv[1])):
        ms = 1e3 * np.asarray(v)
        q = [float(np.percentile(ms, x)) for x in (10, 50, 90, 99)]
        sys.stdout.write(
            f"{len(v) / max(n_tok, 1):.1%} | {len(requests[route])} | {np.mean(list(requests[route].values())):.0f} | "
            + " | ".join(f"{x:.1f}" for x in q)
            + f" | {'>'.join(route)}\n"
        )


def print_rides(path: Path, predicted_total_tok_s: float, duration_s: float = SIM_DURATION_S) -> None:
    """``--rides``: which decode items of the online run share their iteration with a prompt (ride), split by how the
    ride came about: the token came in the prompt's message (it rides on) or joined it at this node, at the route's
    first hop or a later one, and what the node was doing when the token arrived."""
    from collections import Counter

    from planner.helix.served import ONLINE_LOAD
    from planner.sim import engine as eng
    from planner.sim.placement import load_placement
    from planner.sim.run import SimOptions, simulate

    load = ONLINE_LOAD * predicted_total_tok_s / load_placement(path).bound_tok_s
    arrived: dict[tuple[int, int, int], tuple[int, str]] = {}
    messages = [0]
    count: Counter[tuple[str, ...]] = Counter()
    cls = eng.Engine
    o_deliver, o_start = cls._deliver, cls._start

    def deliver(self: Any, target: int, items: list[tuple[int, int]]) -> None:
        if target != self.sink:
            messages[0] += 1
            doing = "idle"
            if self.busy[target]:
                doing = (
                    "during a prompt iteration" if any(p for _, _, p in self.batch[target]) else "during a decode one"
                )
            for rid, hop in items:
                arrived[(target, rid, hop)] = (messages[0], doing)
        o_deliver(self, target, items)

    def start(self: Any, node: int) -> None:
        o_start(self, node)
        if not (self.busy[node] and self.batch_start[node] == self.now):
            return
        batch = self.batch[node]
        seen = {arrived.get((node, r, h), (-1, ""))[0] for r, h, p in batch if p}
        window = self.cfg.warmup_s <= self.now < self.cfg.end_s
        for rid, hop, is_prompt in batch:
            a = arrived.pop((node, rid, hop), None)
            if is_prompt or a is None or not window:
                continue
            count[("all",)] += 1
            if seen:
                how = "rides on (same message)" if a[0] in seen else "joins here"
                count[(how, "first hop" if hop == 0 else "later hop", a[1])] += 1

    cls._deliver, cls._start = deliver, start  # type: ignore[method-assign]
    try:
        simulate([path], SimOptions(load=load, latency="auto", duration_s=duration_s))
    finally:
        cls._deliver, cls._start = o_deliver, o_start  # type: ignore[method-assign]
    total = max(count.pop(("all",), 0), 1)
    sys.stdout.write(f"{path}: --load {load:.4f}, {total} decode items in the window; riding with a prompt:\n")
    sys.stdout.write("share of decode items | how | hop | the node when the token arrived\n")
    for key, n in sorted(count.items(), key=lambda kv: -kv[1]):
        sys.stdout.write(f"{n / total:.2%} | " + " | ".join(key) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("plans", nargs="+", type=Path)
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--buckets", action="store_true", help="also print the run minute by minute")
    ap.add_argument("--tokens", action="store_true", help="the online run's per-token latency parts instead")
    ap.add_argument("--routes", action="store_true", help="the online run's decode batches and routes instead")
    ap.add_argument("--rides", action="store_true", help="the online run's decode items riding with prompts instead")
    ap.add_argument(
        "--duration",
        type=float,
        default=SIM_DURATION_S,
        help="online (--tokens, --routes, --rides): measured window in s after the 60 s warm-up (plan simulate "
        "--duration); the predicted p50 / p99 printed beside stay those of the default 600 s",
    )
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
        if args.tokens:
            p50_99 = (pred.token_latency_p50_ms, pred.token_latency_p99_ms)
            print_tokens(path, pred.total_tok_s, p50_99, args.duration)
            continue
        if args.routes:
            print_routes(path, pred.total_tok_s, args.duration)
            continue
        if args.rides:
            print_rides(path, pred.total_tok_s, args.duration)
            continue
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
