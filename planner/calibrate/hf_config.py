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
| ``dtype_bytes`` | FP8 ``quantization_config`` 1 (other methods refused); else ``torch_dtype`` / ``dtype`` (below) |
| ``mlp`` | ``gated`` for SiLU / SwiGLU / GeGLU (``hidden_act``, or a LLaMA-like ``model_type``), else ``plain`` |

``dtype_bytes``: a ``quantization_config`` whose ``quant_method`` is ``fp8``, ``fbgemm_fp8``, or ``compressed-tensors``
with 8-bit float weights gives 1; any other method is refused. Without one, ``torch_dtype``: bfloat16 / float16 2,
float32 4, float8 (every variant: e4m3fn, e5m2, fnuz) 1.

``params_b`` is computed from the architecture (layers x per-layer parameters with every expert, plus the
embedding and, unless tied, the output projection), and the entry's ``source`` says so. KV bytes per token and layer
bytes are then derived by :class:`~planner.profiles.schema.ModelProfile` (GQA-correct), never stored.

A model entry holds one whole number of bytes per value, for the weights, the KV cache and the activations alike: an
FP8 checkpoint (``dtype_bytes: 1``) is sized as served with an FP8 KV cache, and 4-bit weights (AWQ, GPTQ) cannot
be written at all, so they are refused rather than sized as 16-bit. The entry's ``source`` says which field set it.

:func:`add_model` appends the entry to ``models.yaml`` (or rewrites that entry's lines under ``--replace``), so the
user's comments and other entries stay as they were; it never shadows a shipped model, nor replaces an entry of the
user's, unless asked to.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from planner.errors import SpecError, UsageError
from planner.paths import display_path
from planner.profiles.db import ProfileDB
from planner.profiles.schema import ModelProfile

_GATED_TYPES = frozenset(
    {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma", "gemma2", "gemma3",
     "deepseek_v2", "deepseek_v3", "phi3", "olmo", "olmo2", "granite", "internlm2", "yi", "baichuan", "cohere"}
)  # fmt: skip
_DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "half": 2, "float32": 4, "float": 4, "float8": 1, "float8_e4m3fn": 1,
                "float8_e4m3fnuz": 1, "float8_e5m2": 1, "float8_e5m2fnuz": 1}  # fmt: skip
#: ``quantization_config.quant_method`` values whose weights are FP8 (one byte)
_FP8_METHODS = frozenset({"fp8", "fbgemm_fp8"})


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


def _fp8_groups(quant: dict[str, Any]) -> bool:
    """Whether every weight group of a ``compressed-tensors`` config is an 8-bit float (its FP8 checkpoints)."""
    groups = quant.get("config_groups")
    if not isinstance(groups, dict) or not groups:
        return False
    weights = [g.get("weights") if isinstance(g, dict) else None for g in groups.values()]
    return all(isinstance(w, dict) and w.get("num_bits") == 8 and w.get("type") == "float" for w in weights)


def _quantized_bytes(cfg: dict[str, Any], file: str) -> tuple[int, str] | None:
    """Bytes per weight and the note for ``source`` of a quantised checkpoint; None when it states no quantisation.

    Its ``torch_dtype`` is then the dtype of the unquantised parts (``bfloat16``), so reading only that doubled the
    weight bytes of an FP8 model."""
    quant = cfg.get("quantization_config")
    if not quant:
        return None
    where = "quantization_config.quant_method"
    method = str(quant.get("quant_method") or "").lower() if isinstance(quant, dict) else ""
    if method in _FP8_METHODS or (method == "compressed-tensors" and isinstance(quant, dict) and _fp8_groups(quant)):
        return 1, f"FP8 weights ({where} {method}; dtype_bytes 1 sizes the KV cache in FP8 too)"
    raise SpecError.single(
        file, where, f"{method or 'unnamed'!r} quantisation is not supported: a model entry holds whole bytes per "
        "value (FP8 is 1); add the model from its unquantised config, or write its entry by hand"
    )  # fmt: skip


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
    dtype_bytes, dtype_note = _quantized_bytes(cfg, file) or (_DTYPE_BYTES[dtype], f"torch_dtype {dtype}")
    act = str(cfg.get("hidden_act") or cfg.get("hidden_activation") or "").lower()
    gated = act in ("silu", "swiglu", "geglu", "gelu_pytorch_tanh") or str(cfg.get("model_type", "")) in _GATED_TYPES
    entry: dict[str, Any] = {
        "layers": layers,
        "hidden_size": hidden,
        "attention_heads": heads,
        "kv_heads": kv,
        "intermediate_size": inter,
        "vocab_size": vocab,
        "dtype_bytes": dtype_bytes,
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
        f"{file} (Hugging Face config.json, model_type {model_type}{moe}; {dtype_note}; params_b computed from the "
        "architecture)"
    )
    _validated(name, entry, file)
    return entry


def _validated(name: str, entry: dict[str, Any], file: str) -> ModelProfile:
    try:
        return ModelProfile.model_validate({"name": name, **entry})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise SpecError.single(file, ".".join(str(p) for p in err["loc"]) or name, err["msg"]) from None


def check_name(name: str) -> None:
    """A model name is one token: ``/`` would read as a path (``gpu/tp8/model`` keys of calibration.yaml) and
    whitespace cannot be typed back on a command line."""
    if not name or "/" in name or any(c.isspace() for c in name):
        raise UsageError(f"--name {name!r}: a model name must be non-empty, without '/' or whitespace")


def _named(name: str, entries: dict[str, Any]) -> str | None:
    """The key of ``entries`` that ``name`` resolves to (the key or an alias, case-insensitive), as the database
    resolves a model name; None when none does."""
    low = name.lower()
    for key, entry in entries.items():
        aliases = entry.get("aliases") if isinstance(entry, dict) else getattr(entry, "aliases", ())
        if str(key).lower() == low or low in (str(a).lower() for a in aliases or ()):
            return str(key)
    return None


def _refuse_clashes(name: str, shipped: dict[str, Any], user: dict[str, Any], target: Path, replace: bool) -> None:
    """Refuse, unless ``replace``, a name an entry of ``target`` already answers to, then one the shipped database
    does: the new entry would silently overwrite the user's, or shadow the shipped model and drop its aliases."""
    if replace:
        return
    key = _named(name, user)
    if key is not None:
        raise UsageError(
            f"--name {name}: {display_path(target)} already has model {key}; choose another name, or pass --replace "
            "to replace it"
        )
    key = _named(name, shipped)
    if key is not None:
        aliases = shipped[key].aliases
        also = f" (aliases {', '.join(aliases)})" if aliases else ""
        raise UsageError(
            f"--name {name}: the shipped profile database has model {key}{also}; an entry of this name would "
            "shadow it under --profiles and drop its aliases; choose another name, or pass --replace to shadow it"
        )


def _spliced(text: str, name: str, entry_text: str) -> str | None:
    """``text`` with the lines of its top-level entry ``name`` replaced by ``entry_text``, every other line kept
    (comments and blank lines after the entry too); None when it holds no such entry in block style."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    if not isinstance(node, yaml.MappingNode) or node.flow_style:
        return None
    for key, value in node.value:
        if key.value != name or key.start_mark.column:
            continue
        lines = text.splitlines(keepends=True)
        first = key.start_mark.line
        end = value.end_mark.line + (1 if value.end_mark.column else 0)
        while end > first + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
            end -= 1
        return "".join([*lines[:first], entry_text, *lines[end:]])
    return None


def _catalogue_text(text: str, doc: dict[str, Any], name: str, entry: dict[str, Any]) -> str:
    """The new ``models.yaml``: the old text with the entry appended (or its lines replaced), so the user's
    comments and layout stay; re-dumped whole only when the old text is not a plain block mapping (checked by
    reading the result back)."""
    entry_text = yaml.safe_dump({name: entry}, sort_keys=False, width=200)
    wanted = {**doc, name: entry}
    edited = _spliced(text, name, entry_text) if name in doc else text + ("\n" if text and text[-1] != "\n" else "")
    if edited is not None and name not in doc:
        edited += entry_text
    try:
        if edited is not None and yaml.safe_load(edited) == wanted:
            return edited
    except yaml.YAMLError:
        pass
    return yaml.safe_dump(wanted, sort_keys=False, width=200)


def add_model(config_path: Path, name: str, profiles: Path, replace: bool = False) -> tuple[Path, dict[str, Any]]:
    """Add model ``name`` to ``profiles/models.yaml`` from ``config_path``; the directory is created.

    A name the shipped database knows (a model or an alias), or one ``models.yaml`` already has, is refused unless
    ``replace``: the new entry would shadow the shipped model (and its aliases) or silently overwrite the user's."""
    check_name(name)
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
    target = profiles / "models.yaml"
    text = target.read_text() if target.exists() else ""
    loaded = yaml.safe_load(text) if text else None
    if loaded is not None and not isinstance(loaded, dict):
        raise SpecError.single(display_path(target), "", "a catalogue must be a mapping of entry name -> fields")
    doc: dict[str, Any] = loaded or {}
    shipped = ProfileDB.load().models
    _refuse_clashes(name, shipped, doc, target, replace)
    tail = str(config.get("_name_or_path") or "").rstrip("/").split("/")[-1]
    others = {k: v for k, v in doc.items() if k != name}
    if tail and tail.lower() != name.lower() and _named(tail, shipped) is None and _named(tail, others) is None:
        entry = {"aliases": [tail], **entry}  # an alias naming another model would resolve to that model
    profiles.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(_catalogue_text(text, doc, name, entry))
    os.replace(tmp, target)
    return target, entry
