"""Rendering of ``plan profiles list`` and ``plan profiles show``."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from planner.errors import UsageError, did_you_mean
from planner.profiles.db import ProfileDB
from planner.report_data import fmt_num


def render_profile_list(db: ProfileDB, console: Console) -> None:
    t = Table(title="GPUs", title_justify="left")
    cols = ("vram_gb", "bf16_tflops", "fp8_tflops", "hbm_gb_s", "tdp_w", "price_usd_h", "nic_gbps")
    for c in ("name", *cols):
        t.add_column(c, justify="left" if c == "name" else "right")
    for name in sorted(db.gpus):
        g = db.gpus[name]
        # fp8_tflops is unset on GPUs without FP8 tensor cores: shown as "-" (fmt_num(None))
        values = (getattr(g, c) for c in cols)
        t.add_row(name, *(fmt_num(None if v is None else float(v)) for v in values))
    console.print(t)
    m = Table(title="Models", title_justify="left")
    for c in ("name", "layers", "hidden", "heads/kv", "params_b", "kv_bytes_per_token"):
        m.add_column(c, justify="left" if c == "name" else "right")
    for name in sorted(db.models):
        p = db.models[name]
        m.add_row(
            name,
            str(p.layers),
            str(p.hidden_size),
            f"{p.attention_heads}/{p.kv_heads}",
            fmt_num(p.params_b),
            fmt_num(p.kv_bytes_per_token),
        )
    console.print(m)
    for cat, entries in sorted(db.catalogs.items()):
        console.print(Text.assemble("catalogue ", (cat, "bold"), f": {', '.join(sorted(entries))}"))
    tt = Table(title="Tables", title_justify="left")
    tt.add_column("table")
    tt.add_column("rows", justify="right")
    tt.add_column("provenance")
    tt.add_column("description", overflow="fold")
    for name in sorted(db.table_files):
        df = db.table(name)
        prov = ", ".join(sorted(set(df["provenance"])))
        tt.add_row(name, str(len(df)), prov, db.table_meta[name].description)
    console.print(tt)
    for c in db.conflicts:
        console.print(Text.assemble(("override:", "yellow"), f" {c}"))


def profile_entry(db: ProfileDB, name: str) -> dict[str, Any]:
    """Everything known about ``name`` (GPU, model, catalogue entry or table) as plain data."""
    gpu = db.resolve_gpu(name)
    if gpu is not None:
        return {"kind": "gpu", **db.gpus[gpu].model_dump()}
    model = db.resolve_model(name)
    if model is not None:
        p = db.models[model]
        return {
            "kind": "model",
            **p.model_dump(),
            "derived": {
                "head_dim": p.head_dim,
                "kv_bytes_per_token": p.kv_bytes_per_token,
                "activation_bytes_per_token": p.activation_bytes_per_token,
                "layer_weight_bytes": p.layer_weight_bytes,
                "weight_bytes": p.weight_bytes,
                "flops_per_token": p.flops_per_token(),
            },
        }
    if db.has_table(name):
        df = db.table(name)
        meta = db.table_meta[name]
        return {
            "kind": "table",
            "name": name,
            "description": meta.description,
            "keys": list(meta.keys),
            "units": meta.units,
            "rows": len(df),
            "provenance": sorted(set(df["provenance"])),
            "files": [str(p) for p in db.table_files[name]],
            "head": df.head(20).to_dict(orient="records"),
        }
    for cat, entries in db.catalogs.items():
        if name in entries:
            return {"kind": f"{cat} entry", "name": name, **entries[name]}
    known = set(db.gpus) | set(db.models) | set(db.table_files)
    for entries in db.catalogs.values():
        known |= set(entries)
    raise UsageError(f"unknown profile '{name}'{did_you_mean(name, known)}")


def render_profile_entry(entry: dict[str, Any], console: Console) -> None:
    t = Table(title=f"{entry.get('kind')} {entry.get('name', '')}", title_justify="left")
    t.add_column("field")
    t.add_column("value", overflow="fold")
    for k, v in entry.items():
        if k in ("head",):
            continue
        if isinstance(v, dict):
            for k2, v2 in v.items():
                t.add_row(f"{k}.{k2}", fmt_num(v2))
        else:
            t.add_row(k, fmt_num(v) if not isinstance(v, (list, tuple)) else ", ".join(map(str, v)))
    console.print(t)
    if "head" in entry and entry["head"]:
        h = Table(title="first rows", title_justify="left")
        cols = list(entry["head"][0])
        for c in cols:
            h.add_column(c)
        for row in entry["head"]:
            h.add_row(*(fmt_num(row[c]) for c in cols))
        console.print(h)
