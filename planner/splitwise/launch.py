"""Launch hints: the serving engines' prefill/decode disaggregation role flags for the chosen pools.

The planner does not deploy anything; it prints, per pool, the command line a user would start on each machine
of that pool, so the plan's counts translate directly into a deployment. Flags as documented by the engines:

* vLLM: ``--kv-transfer-config`` with a KV connector (``NixlConnector``) and ``kv_role`` ``kv_producer`` on
  prefill (prompt) instances and ``kv_consumer`` on decode (token) instances (vLLM ``KVTransferConfig``; its NIXL
  guide also runs both sides as ``kv_both``), behind a prefill/decode proxy.
* SGLang: ``--disaggregation-mode prefill|decode`` with ``--disaggregation-transfer-backend`` (``nixl`` or
  ``mooncake``), and ``sglang_router.launch_router --pd-disaggregation --prefill URL ... --decode URL ...``.

A one-pool (``both``) design runs the ordinary aggregated server. A lent (``mixed``) machine needs no flags of its
own: Splitwise's mixed pool has no counterpart in these engines, so the hint says so.
"""

from __future__ import annotations

import re

from planner.profiles.schema import ModelProfile

_HF = re.compile(r"([A-Za-z0-9][\w.-]*/[\w.-]+)\s+config\.json")


def hf_repo(model: ModelProfile) -> str:
    """The Hugging Face repository named in the model's ``source`` (``bigscience/bloom``), else the model name."""
    m = _HF.search(model.source)
    return m.group(1) if m else model.name


def pool_hints(role: str, model: ModelProfile, tp: int, instances: int) -> dict[str, str]:
    """Per-machine command lines for one pool (``instances`` = model instances in the pool)."""
    repo = hf_repo(model)
    if role == "both":
        return {
            "vllm": f"vllm serve {repo} --tensor-parallel-size {tp}",
            "sglang": f"python -m sglang.launch_server --model-path {repo} --tp {tp}",
            "instances": str(instances),
        }
    if role == "mixed":
        return {"note": "lent machines keep their pool's flags; the engines have no mixed pool (Splitwise IV-B)"}
    kv_role = "kv_producer" if role == "prompt" else "kv_consumer"
    mode = "prefill" if role == "prompt" else "decode"
    return {
        "vllm": (
            f"vllm serve {repo} --tensor-parallel-size {tp} --kv-transfer-config "
            f'\'{{"kv_connector":"NixlConnector","kv_role":"{kv_role}"}}\''
        ),
        "sglang": (
            f"python -m sglang.launch_server --model-path {repo} --tp {tp} --disaggregation-mode {mode} "
            "--disaggregation-transfer-backend nixl"
        ),
        "instances": str(instances),
    }


def router_hint(prompt_instances: int, token_instances: int) -> dict[str, str]:
    """The SGLang router line for the chosen counts (one URL per instance) and the vLLM equivalent."""
    prefill = " ".join(f"--prefill http://prompt-{i}:30000" for i in range(prompt_instances))
    decode = " ".join(f"--decode http://token-{i}:30000" for i in range(token_instances))
    return {
        "sglang": f"python -m sglang_router.launch_router --pd-disaggregation {prefill} {decode}",
        "vllm": (
            f"a prefill/decode proxy in front of {prompt_instances} kv_producer and {token_instances} kv_consumer "
            "instances (vLLM examples/online_serving disaggregated proxy)"
        ),
    }
