"""Admission of one ``plan simulate --offline`` run, pipeline by pipeline: what the served prediction's fill models.

Instruments the simulator's engine from outside (its methods wrapped in this process only; ``planner/sim`` is not
changed) and records inside the measured window (60 s warm-up + 600 s), for every pipeline (the routes' first node):
admissions and their mean prompt, the time-averaged requests in flight, decode tokens/s, and the time-averaged KV
reservation of every node as a share of its admission limit (``hwm x capacity``); for the coordinator: the failed
routes and the node whose KV check failed (its IWRR had no admissible successor), the share of the time the FIFO
holds a request (admission stalled: the feeder waits too), and the feeder's launches and refusals (the bottleneck
layer over ``feed_hwm``). With ``--minutes``, also minute by minute (warm-up included): admissions per pipeline,
failed routes, and at the minute's first route the coordinator's IWRR loads and the requests in flight per pipeline
(a pipeline masked at its first node falls behind in IWRR load while the others fill, then catches up). With
``--duration S`` a longer run (the window is then 60 s + S). With ``--json`` the raw figures.

    .venv/bin/python scripts/helix_sim_admission.py PLAN.json [PLAN.json ...] [--minutes] [--duration 1800] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any


def instrument(plan_path: Path, duration_s: float = 600.0) -> dict[str, Any]:
    """Simulate ``plan_path`` offline and return the admission figures (module docstring)."""
    from planner.sim import engine as eng
    from planner.sim import scheduler as sch
    from planner.sim.run import SimOptions, simulate

    cls, iw_cls = eng.Engine, sch.InterleavedWRR
    orig = (cls._route, cls._drain_pending, cls._feed, cls._finish, cls._collect, cls._new_request)
    o_route, o_drain, o_feed, o_finish, o_collect, o_new = orig
    o_choose = iw_cls.choose
    st: dict[str, Any] = {
        "admitted": defaultdict(int),
        "prompt": defaultdict(float),
        "failed_at": defaultdict(int),
        "failed_first": defaultdict(int),
        "inflight_int": defaultdict(float),
        "decode": defaultdict(int),
        "reserved_int": defaultdict(float),
        "stall_s": 0.0,
        "launched": 0,
        "refused_kv": 0,
        "refused_pending": 0,
        "retries_ok": 0,
        "minutes": defaultdict(lambda: defaultdict(int)),
        "snapshots": {},
    }
    ctx: dict[str, Any] = {"engine": None, "t": 0.0, "inflight": defaultdict(int), "stalled": False, "fail": None}

    def window(e: Any) -> tuple[float, float]:
        return e.cfg.warmup_s, e.cfg.end_s

    def advance(e: Any) -> None:
        """Integrate the state held since the last event up to now (window only)."""
        lo, hi = window(e)
        a, b = max(ctx["t"], lo), min(e.now, hi)
        if b > a:
            dt = b - a
            for first, n in ctx["inflight"].items():
                st["inflight_int"][first] += n * dt
            for i, nd in enumerate(e.topo.nodes):
                lim = e.ledger.hwm * e.ledger.capacity[i]
                if lim > 0:
                    st["reserved_int"][nd.name] += e.ledger.reserved[i] / lim * dt
            if ctx["stalled"]:
                st["stall_s"] += dt
        ctx["t"] = e.now

    def choose(self: Any, workload: float, admissible: Any) -> int | None:
        out = o_choose(self, workload, admissible)
        e = ctx["engine"]
        if out is None and e is not None and ctx["fail"] is None:
            node = next((u for u, w in e.iwrr.items() if w is self), None)
            ctx["fail"] = "source" if node == e.source else e.topo.nodes[node].name
        return out

    def route(self: Any, rid: int) -> bool:
        ctx["engine"] = self
        advance(self)
        ctx["fail"] = None
        ok = o_route(self, rid)
        lo, hi = window(self)
        inside = lo <= self.now < hi
        minute = int(self.now // 60.0)
        if minute not in st["snapshots"]:
            iw = self.iwrr[self.source]
            loads = {self.topo.nodes[t].name: round(x, 1) for t, x in zip(iw.targets, iw.load, strict=True)}
            st["snapshots"][minute] = {"iwrr_load": loads, "in_flight": dict(ctx["inflight"])}
        st["minutes"][minute][self.topo.nodes[self.r_route[rid][0]].name if ok else "failed"] += 1
        if ok:
            first = self.topo.nodes[self.r_route[rid][0]].name
            ctx["inflight"][first] += 1
            if inside:
                st["admitted"][first] += 1
                st["prompt"][first] += self.r_in[rid]
        elif inside:
            st["failed_at"][ctx["fail"]] += 1
        return ok

    def drain(self: Any) -> None:
        advance(self)
        was = bool(self.pending)
        o_drain(self)
        if was and len(self.pending) == 0 and window(self)[0] <= self.now < window(self)[1]:
            st["retries_ok"] += 1
        ctx["stalled"] = bool(self.pending)

    def feed(self: Any) -> None:
        inside = window(self)[0] <= self.now < window(self)[1]
        if self.sampler is not None and self.now < self.cfg.end_s and inside:
            if self.pending:
                st["refused_pending"] += 1
            elif self.ledger.bottleneck_usage() > self.cfg.feed_hwm:
                st["refused_kv"] += 1
        o_feed(self)

    def new_request(self: Any, inp: int, out: int) -> None:
        if window(self)[0] <= self.now < window(self)[1]:
            st["launched"] += 1
        o_new(self, inp, out)

    def finish(self: Any, rid: int) -> None:
        advance(self)
        first = self.topo.nodes[self.r_route[rid][0]].name
        ctx["inflight"][first] -= 1
        o_finish(self, rid)

    def collect(self: Any, items: list[tuple[int, int]]) -> None:
        if window(self)[0] <= self.now < window(self)[1]:
            for rid, _ in items:
                if self.r_gen[rid] > 0:
                    st["decode"][self.topo.nodes[self.r_route[rid][0]].name] += 1
        o_collect(self, items)

    cls._route, cls._drain_pending, cls._feed = route, drain, feed  # type: ignore[method-assign]
    cls._finish, cls._collect, cls._new_request = finish, collect, new_request  # type: ignore[method-assign]
    iw_cls.choose = choose  # type: ignore[method-assign]
    try:
        run = simulate([plan_path], SimOptions(offline=True, latency="auto", duration_s=duration_s))
        e = ctx["engine"]
        if e is not None:
            e.now = e.cfg.end_s
            advance(e)
    finally:
        cls._route, cls._drain_pending, cls._feed, cls._finish, cls._collect, cls._new_request = orig  # type: ignore[method-assign]
        iw_cls.choose = o_choose  # type: ignore[method-assign]
    pipes = sorted(st["admitted"])
    return {
        "decode_tok_s": run.document.placements[0].decode_throughput_tok_s,
        "pipelines": {
            p: {
                "admitted": st["admitted"][p],
                "mean_prompt": st["prompt"][p] / st["admitted"][p] if st["admitted"][p] else 0.0,
                "in_flight": st["inflight_int"][p] / duration_s,
                "decode_tok_s": st["decode"][p] / duration_s,
            }
            for p in pipes
        },
        "reserved_share": {n: v / duration_s for n, v in st["reserved_int"].items()},
        "failed_at": dict(st["failed_at"]),
        "stall_share": st["stall_s"] / duration_s,
        "launched": st["launched"],
        "refused_kv": st["refused_kv"],
        "refused_pending": st["refused_pending"],
        "retries_ok": st["retries_ok"],
        "minutes": {m: {**dict(st["minutes"][m]), **st["snapshots"].get(m, {})} for m in sorted(st["minutes"])},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("plans", nargs="+", type=Path)
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--minutes", action="store_true", help="also print the run minute by minute")
    ap.add_argument("--duration", type=float, default=600.0, help="measured window after the 60 s warm-up (s)")
    args = ap.parse_args()
    from planner.helix.served import DEFAULT_TRACE, ServedModel, predict_plan_block, trace_workload
    from planner.profiles.db import ProfileDB

    db = ProfileDB.load(None)
    for path in args.plans:
        plan = json.loads(path.read_text())
        model = ServedModel(db, db.model(plan["plan"]["model"]), trace_workload(DEFAULT_TRACE))
        pred = predict_plan_block(plan["plan"], model)
        sim = instrument(path, args.duration)
        by_first = {p.nodes[0]: p for p in pred.paths}
        if args.json:
            out = {"plan": str(path), "sim": sim, "pred": {n: vars(p) for n, p in by_first.items()}}
            out["pred_decode_tok_s"] = pred.decode_tok_s
            out["kv_limit"] = pred.kv_limit
            sys.stdout.write(json.dumps(out, default=float) + "\n")
            continue
        sys.stdout.write(
            f"{path}: decode predicted {pred.decode_tok_s:.1f}, simulated {sim['decode_tok_s']:.1f}; "
            f"predicted limit: {pred.kv_limit}\n"
            f"  admission stalled {sim['stall_share']:.1%} of the window; launched {sim['launched']}, feeder "
            f"refused {sim['refused_kv']} (bottleneck layer) and {sim['refused_pending']} (request waiting); failed "
            f"routes by node: {dict(sorted(sim['failed_at'].items()))}; stalls cleared {sim['retries_ok']}\n"
        )
        sys.stdout.write(
            "pipeline | admitted | mean prompt | sim in flight | pred in flight (window) | sim tok/s | pred tok/s\n"
        )
        for first, s in sim["pipelines"].items():
            p = by_first.get(first)
            sys.stdout.write(
                f"{first} | {s['admitted']} | {s['mean_prompt']:.0f} | {s['in_flight']:.1f} | "
                f"{p.in_flight if p else 0.0:.1f} | {s['decode_tok_s']:.1f} | {p.decode_tok_s if p else 0.0:.1f}\n"
            )
        res = sim["reserved_share"]
        sys.stdout.write(
            "reserved / admission limit, time-averaged: "
            + ", ".join(f"{n} {v:.2f}" for n, v in sorted(res.items()) if v > 0)
            + "\n"
        )
        if args.minutes:
            sys.stdout.write("minute from (s) | admissions (and failed routes) | coordinator IWRR loads | in flight\n")
            for minute, row in sim["minutes"].items():
                counts = {k: v for k, v in row.items() if k not in ("iwrr_load", "in_flight")}
                cells = [str(60 * minute), str(dict(sorted(counts.items()))), str(row.get("iwrr_load"))]
                sys.stdout.write(" | ".join([*cells, str(row.get("in_flight"))]) + "\n")


if __name__ == "__main__":
    main()
