"""NVIDIA Dynamo's SLA planner arithmetic (throughput-based loop), for comparison with the DynamoLLM formulation.

An unrelated product with a similar name (reference section 10 [N]): every ``adjustment_interval`` it sizes
disaggregated prefill and decode replicas with closed-form ceilings, no MILP, no clock knob::

    prefill_load     = requests * isl / interval * min(1, prefill_correction)          tokens/s
    prefill_replicas = ceil(prefill_load / prefill_tput_per_gpu / gpus_per_prefill_engine)
    decode_replicas  = ceil(requests * osl / interval / decode_tput_per_gpu / gpus_per_decode_engine)

both at least ``min_endpoints`` (documented default 1). Reference worked case T6 is tested exactly.
"""

from __future__ import annotations

import math

#: Slack for ceilings of quotients that are whole numbers up to rounding (3.0000000000000004 -> 3).
_EPS = 1e-9


def prefill_replicas(
    requests: float,
    interval_s: float,
    isl_tokens: float,
    prefill_tok_s_per_gpu: float,
    gpus_per_engine: int,
    prefill_correction: float = 1.0,
    min_endpoints: int = 1,
) -> int:
    """Prefill replicas for the next interval (correction = actual / expected TTFT, capped at 1)."""
    load_tok_s = requests * isl_tokens / interval_s * min(1.0, prefill_correction)
    return max(min_endpoints, math.ceil(load_tok_s / prefill_tok_s_per_gpu / gpus_per_engine - _EPS))


def decode_replicas(
    requests: float,
    interval_s: float,
    osl_tokens: float,
    decode_tok_s_per_gpu: float,
    gpus_per_engine: int,
    min_endpoints: int = 1,
) -> int:
    """Decode replicas for the next interval (throughput per GPU already read at the corrected ITL target)."""
    load_tok_s = requests * osl_tokens / interval_s
    return max(min_endpoints, math.ceil(load_tok_s / decode_tok_s_per_gpu / gpus_per_engine - _EPS))
