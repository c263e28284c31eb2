"""The served decode bound: what no placement can serve under the node model (a linear program over node time).

Reported beside every served plan (``metrics.served_upper_bound_tok_s``, ``plan.served.upper_bound_decode_tok_s``)
so that a user sees how far the recommended plan is from what the hardware could serve at all; the search itself
(:mod:`planner.helix.objective`) does not use it.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from planner.helix.instance import HelixInstance
from planner.helix.served import ServedModel


def served_upper_bound(inst: HelixInstance, model: ServedModel) -> float:
    """Decode tokens/s no placement can exceed under the node model (a linear program over the nodes' time).

    Every decode token crosses every layer once, and so does every prompt token; a request brings ``I`` prompt tokens
    for its ``O - 1`` decode tokens (the workload's means), so prompts need ``r = I / (O - 1)`` prompt layer-tokens per
    decode layer-token. A node spends a share ``s`` of its time decoding and the rest on prompts (an iteration over
    ``P`` prompt and ``D`` decode tokens takes ``k (t_pre(P) + t_dec(D))``: the times add). Decoding, it produces
    at most ``1 / c`` layer-tokens/s, ``c = min t_dec(b) / b`` over the batches ``b`` its KV admits (``b``
    sequences of the workload's in-flight length, at the layer count that leaves it the most KV); on prompts at most
    ``1 / e``, ``e = min t_pre(T) / T`` over the prompt batches its table has. The bound is the largest ``D`` with
    ``sum s_j / c_j >= L D`` and ``sum (1 - s_j) / e_j >= r L D``. Waiting, latency (Little's law) and the links
    only lower what a placement serves, so the bound is loose; counting the prompts makes it about 3x tighter than
    decode alone on the shipped specs (single-24: 2,769 against 7,642 decode tokens/s)."""
    wl = model.workload
    decode_cost: list[float] = []
    prompt_cost: list[float] = []
    for node in inst.nodes:
        perf = model.perf(node)
        lat = perf.latency
        costs = []
        for k in range(1, node.max_layers + 1):
            cap = perf.kv_capacity(k)
            b = min(int(model.params.admit_hwm * cap / (k * wl.inflight_tokens)), lat.max_decode_tokens)
            if b > 0:
                costs.append(lat.decode_s[b] / b)  # seconds per layer-token: k layers x t_dec(b) / (k b)
        if not costs:
            continue  # holds no layer with room for a sequence: serves nothing
        decode_cost.append(min(costs))
        tokens = np.arange(1, lat.max_prompt_tokens + 1, dtype=float)
        prompt_cost.append(float(np.min(np.asarray(lat.prompt_s[1:], dtype=float) / tokens)))
    r = wl.input_tokens / max(wl.output_tokens - 1.0, 1.0)
    return time_share_bound(decode_cost, prompt_cost, inst.layers, r)


def time_share_bound(decode_cost: list[float], prompt_cost: list[float], layers: int, r: float) -> float:
    """The largest ``D`` with ``sum s_j / c_j >= L D``, ``sum (1 - s_j) / e_j >= r L D``, ``0 <= s_j <= 1``
    (:func:`served_upper_bound`; ``c``, ``e`` seconds per decode and prompt layer-token, ``L`` layers)."""
    if not decode_cost:
        return 0.0
    n = len(decode_cost)
    # variables s_1..s_n (decode time shares) and D; maximise D
    objective = np.zeros(n + 1)
    objective[-1] = -1.0
    decode_rows = [-1.0 / c for c in decode_cost] + [float(layers)]  # L D - sum s_j / c_j <= 0
    prompt_rows = [1.0 / e for e in prompt_cost] + [layers * r]  # r L D + sum s_j / e_j <= sum 1 / e_j
    res = linprog(
        objective,
        A_ub=[decode_rows, prompt_rows],
        b_ub=[0.0, sum(1.0 / e for e in prompt_cost)],
        bounds=[(0.0, 1.0)] * n + [(0.0, None)],
        method="highs",
    )
    if res.status != 0 or res.x is None:
        return 0.0
    return float(res.x[-1])
