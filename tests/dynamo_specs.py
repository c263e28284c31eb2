"""The one tiny dynamo spec the dynamo tests share: 6 DGX-H100, a one-hour ramp, the shipped conversation mix."""

from __future__ import annotations

from pathlib import Path

CONV = Path(__file__).resolve().parents[1] / "profiles" / "traces" / "azure_llm_2023_conv.csv"


def tiny_dynamo_spec(name: str = "tiny-dynamo", *, top: str = "", dynamo: str = "") -> str:
    """Spec text; ``top`` adds top-level lines (e.g. ``power: {pue: 1.5}``), ``dynamo`` lines to the section."""
    return f"""\
name: {name}
model: llama2-70b
nodes:
  - {{name: dgx, gpu: H100-80G, gpus_per_node: 8, count: 6}}
workload:
  trace: {CONV}
  load_curve:
    - {{at: "00:00", rps: 1.0}}
    - {{at: "00:30", rps: 3.0}}
slo: {{ttft: 400ms, tbt: 100ms}}
{top}dynamo:
  horizon: 1h
  load_interpolation: linear
{dynamo}"""
