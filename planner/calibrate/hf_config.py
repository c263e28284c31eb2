"""A model entry for ``models.yaml`` from a Hugging Face ``config.json``, so any model can be planned.

Field names differ between architectures; the first present name wins:

| ours | config.json |
|---|---|
| ``layers`` | ``num_hidden_layers``, ``n_layer``, ``num_layers`` |
| ``hidden_size`` | ``hidden_size``, ``n_embd``, ``d_model`` |
| ``attention_heads`` | ``num_attention_heads``, ``n_head`` |
| ``kv_heads`` | ``num_key_value_heads`` (GQA), 1 when ``multi_query``, else ``attention_heads`` (MHA) |
| ``head_dim`` | ``head_dim`` when it differs from hidden / heads (Gemma, Qwen3): the KV bytes use it |
| ``intermediate_size`` | MoE: ``moe_intermediate_size``; else ``intermediate_size``, ``ffn_hidden_size``, ``n_inner`` |
| ``experts`` | ``num_local_experts``, ``num_experts``, ``n_routed_experts`` (per-token: ``num_experts_per_tok``) |
| ``dtype_bytes`` | ``torch_dtype`` / ``dtype``: bfloat16 / float16 2, float32 4, float8 1 |
| ``mlp`` | ``gated`` for SiLU / SwiGLU / GeGLU (``hidden_act``, or a LLaMA-like ``model_type``), else ``plain`` |

``params_b`` is computed from the architecture (layers x per-layer parameters with every expert, plus the
embedding and, unless tied, the output projection), and the entry's ``source`` says so. KV bytes per token and layer
bytes are then derived by :class:`~planner.profiles.schema.ModelProfile` (GQA-correct), never stored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from planner.errors import SpecError
from planner.paths import display_path
from planner.profiles.schema import ModelProfile

_GATED_TYPES = frozenset(
    {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma", "gemma2", "gemma3",
     "deepseek_v2", "deepseek_v3", "phi3", "olmo", "olmo2", "granite", "internlm2", "yi", "baichuan", "cohere"}
)  # fmt: skip
_DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "half": 2, "float32": 4, "float": 4, "float8_e4m3fn": 1, "float8": 1}


def _first(cfg: dict[str, Any], *names: str) -> Any:
    for n in names:
        if cfg.get(n) is not None:
            return cfg[n]
    return None


def _int(cfg: dict[str, Any], file: str, *names: str, required: bool = True) -> int | None:
    v = _first(cfg, *names)
    if v is None:
        if required:
            raise SpecError.single(file, names[0], "missing (needed to size the model)")
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise SpecError.single(file, names[0], f"must be a positive integer, got {v!r}")
    return v


def model_entry(config: dict[str, Any], name: str, file: str) -> dict[str, Any]:
    """The ``models.yaml`` fields of ``config`` (validated by :class:`ModelProfile`); SpecError on bad input."""
    cfg = dict(config)
    if isinstance(cfg.get("text_config"), dict):  # multimodal wrappers keep the language model here
        cfg = {**cfg, **cfg["text_config"]}
    layers = _int(cfg, file, "num_hidden_layers", "n_layer", "num_layers")
    hidden = _int(cfg, file, "hidden_size", "n_embd", "d_model")
    heads = _int(cfg, file, "num_attention_heads", "n_head")
    assert layers is not None and hidden is not None and heads is not None
    kv = _int(cfg, file, "num_key_value_heads", required=False)
    if kv is None:
        kv = 1 if cfg.get("multi_query") else heads
    head_dim = _int(cfg, file, "head_dim", required=False)
    experts = _int(cfg, file, "num_local_experts", "num_experts", "n_routed_experts", required=False) or 1
    per_tok = _int(cfg, file, "num_experts_per_tok", required=False) or 1
    if experts > 1:
        inter = _int(cfg, file, "moe_intermediate_size", "intermediate_size", "ffn_hidden_size", required=False)
    else:
        inter = _int(cfg, file, "intermediate_size", "ffn_hidden_size", "n_inner", required=False)
    inter = inter or 4 * hidden
    vocab = _int(cfg, file, "vocab_size")
    assert vocab is not None
    dtype = str(_first(cfg, "torch_dtype", "dtype") or "bfloat16").lower().replace("torch.", "")
    if dtype not in _DTYPE_BYTES:
        raise SpecError.single(
            file, "torch_dtype", f"unknown dtype {dtype!r} (known: {', '.join(sorted(_DTYPE_BYTES))})"
        )
    act = str(cfg.get("hidden_act") or cfg.get("hidden_activation") or "").lower()
    gated = act in ("silu", "swiglu", "geglu", "gelu_pytorch_tanh") or str(cfg.get("model_type", "")) in _GATED_TYPES
    entry: dict[str, Any] = {
        "layers": layers,
        "hidden_size": hidden,
        "attention_heads": heads,
        "kv_heads": kv,
        "intermediate_size": inter,
        "vocab_size": vocab,
        "dtype_bytes": _DTYPE_BYTES[dtype],
        "mlp": "gated" if gated else "plain",
    }
    if head_dim is not None and head_dim * heads != hidden:
        entry["head_dim"] = head_dim
    if experts > 1:
        entry["experts"] = experts
        entry["experts_per_token"] = min(per_tok, experts)
    probe = _validated(name, {"params_b": 1.0, "source": "probe", **entry}, file)
    tied = bool(cfg.get("tie_word_embeddings", False))
    params = probe.layer_params * layers + vocab * hidden * (1 if tied else 2)
    entry["params_b"] = round(params / 1e9, 3)
    model_type = cfg.get("model_type", "unknown")
    moe = f", MoE {experts} experts / {entry.get('experts_per_token', 1)} per token" if experts > 1 else ""
    entry["source"] = (
        f"{file} (Hugging Face config.json, model_type {model_type}{moe}; params_b computed from the architecture)"
    )
    _validated(name, entry, file)
    return entry


def _validated(name: str, entry: dict[str, Any], file: str) -> ModelProfile:
    try:
        return ModelProfile.model_validate({"name": name, **entry})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise SpecError.single(file, ".".join(str(p) for p in err["loc"]) or name, err["msg"]) from None


def add_model(config_path: Path, name: str, profiles: Path) -> tuple[Path, dict[str, Any]]:
    """Add (or replace) model ``name`` in ``profiles/models.yaml`` from ``config_path``; the directory is created."""
    file = display_path(config_path)
    if not config_path.is_file():
        raise SpecError.single(file, "", "config.json not found")
    try:
        config = json.loads(config_path.read_text())
    except json.JSONDecodeError as exc:
        raise SpecError.single(file, "", f"invalid JSON: {exc.msg}", exc.lineno) from None
    if not isinstance(config, dict):
        raise SpecError.single(file, "", "config.json must be a JSON object")
    entry = model_entry(config, name, file)
    tail = str(config.get("_name_or_path") or "").rstrip("/").split("/")[-1]
    if tail and tail.lower() != name.lower():
        entry = {"aliases": [tail], **entry}
    profiles.mkdir(parents=True, exist_ok=True)
    target = profiles / "models.yaml"
    doc: dict[str, Any] = {}
    if target.exists():
        loaded = yaml.safe_load(target.read_text())
        if loaded is not None and not isinstance(loaded, dict):
            raise SpecError.single(display_path(target), "", "a catalogue must be a mapping of entry name -> fields")
        doc = loaded or {}
    doc[name] = entry
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(yaml.safe_dump(doc, sort_keys=False))
    os.replace(tmp, target)
    return target, entry
