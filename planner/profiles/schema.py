"""Typed rows of the profile database, and the provenance every figure carries.

A profile database is a directory (``profiles/`` ships one) holding:

* ``gpus.yaml`` and ``models.yaml``: catalogues of hardware and model architecture (validated here);
* other ``<name>.yaml`` catalogues a solver needs (e.g. ``machines.yaml``), read as plain mappings;
* ``tables/<name>.csv`` with ``tables/<name>.meta.yaml``: measured, synthetic or analytic tables. Every row has a
  ``source`` column whose prefix says what it rests on (``measured:<citation>``, ``synthetic:<generator>``,
  ``analytic``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Provenance = Literal["measured", "synthetic", "analytic", "roofline", "user"]
PROVENANCES: tuple[Provenance, ...] = ("measured", "synthetic", "analytic", "roofline", "user")


def provenance_of(source: str) -> Provenance:
    """Map a row's ``source`` string (``measured:Helix repo``) to its provenance kind."""
    head = source.split(":", 1)[0].strip().lower()
    for kind in PROVENANCES:
        if head == kind:
            return kind
    raise ValueError(f"source {source!r} must start with one of {', '.join(PROVENANCES)}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class GpuProfile(_Strict):
    """One GPU type. Per-GPU figures; a node multiplies them by its ``gpus_per_node``."""

    name: str = Field(description="canonical GPU type name, e.g. H100-80G")
    aliases: tuple[str, ...] = ()
    vram_gb: float = Field(gt=0, description="memory per GPU, decimal GB")
    bf16_tflops: float = Field(gt=0, description="peak dense bf16/fp16 TFLOP/s per GPU")
    fp8_tflops: float | None = Field(
        default=None,
        gt=0,
        description="peak dense (no sparsity) FP8 tensor TFLOP/s per GPU; unset where the GPU has no FP8 tensor cores",
    )
    hbm_gb_s: float = Field(gt=0, description="memory bandwidth per GPU, GB/s")
    tdp_w: float = Field(gt=0, description="board power limit per GPU, W")
    price_usd_h: float = Field(ge=0, description="list price per GPU-hour, USD")
    nic_gbps: float = Field(gt=0, description="network bandwidth per GPU, Gbit/s")
    sm_clock_mhz_min: float | None = Field(default=None, gt=0)
    sm_clock_mhz_max: float | None = Field(default=None, gt=0)
    source: str = Field(min_length=1, description="where the figures come from")

    @property
    def vram_bytes(self) -> float:
        return self.vram_gb * 1e9

    def uses_fp8(self, dtype_bytes: int) -> bool:
        """Whether a model stored in ``dtype_bytes`` bytes per value runs its GEMMs on this GPU's FP8 tensor cores.

        One-byte weights on a GPU with FP8 tensor cores (Hopper, Ada) do; elsewhere (A100, V100, T4, A10G) the
        runtime upcasts them and the GEMMs run at the BF16/FP16 rate.
        """
        return dtype_bytes == 1 and self.fp8_tflops is not None

    def tensor_tflops(self, dtype_bytes: int) -> float:
        """Peak dense tensor TFLOP/s per GPU for a model of ``dtype_bytes`` bytes per value: the one place the
        analytic models choose between the FP8 and the BF16/FP16 peak (:meth:`uses_fp8`)."""
        if self.uses_fp8(dtype_bytes) and self.fp8_tflops is not None:
            return self.fp8_tflops
        return self.bf16_tflops

    def tensor_peak_name(self, dtype_bytes: int) -> str:
        """``FP8`` or ``BF16``: which peak :meth:`tensor_tflops` uses, for the text that says what an estimate rests
        on."""
        return "FP8" if self.uses_fp8(dtype_bytes) else "BF16"


class ModelProfile(_Strict):
    """One model architecture; derived quantities are computed, not stored, so they cannot disagree."""

    name: str
    aliases: tuple[str, ...] = ()
    layers: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    attention_heads: int = Field(gt=0)
    kv_heads: int = Field(gt=0)
    head_dim_override: int | None = Field(
        default=None, gt=0, alias="head_dim", description="attention head size when it is not hidden / heads"
    )
    intermediate_size: int = Field(gt=0)
    vocab_size: int = Field(gt=0)
    dtype_bytes: int = Field(gt=0, le=8)
    params_b: float = Field(gt=0, description="total parameters, billions")
    mlp: Literal["gated", "plain"] = "gated"
    experts: int = Field(default=1, ge=1)
    experts_per_token: int = Field(default=1, ge=1)
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _check_heads(self) -> ModelProfile:
        if self.head_dim_override is None and self.hidden_size % self.attention_heads:
            raise ValueError("hidden_size must be a multiple of attention_heads (or give head_dim)")
        if self.attention_heads % self.kv_heads:
            raise ValueError("attention_heads must be a multiple of kv_heads")
        if self.experts_per_token > self.experts:
            raise ValueError("experts_per_token cannot exceed experts")
        return self

    @property
    def head_dim(self) -> int:
        if self.head_dim_override is not None:
            return self.head_dim_override
        return self.hidden_size // self.attention_heads

    @property
    def kv_bytes_per_token(self) -> int:
        """KV-cache bytes one token occupies across all layers (GQA-correct: uses kv_heads)."""
        return 2 * self.layers * self.kv_heads * self.head_dim * self.dtype_bytes

    @property
    def activation_bytes_per_token(self) -> int:
        """Bytes of the hidden state passed between pipeline stages for one token."""
        return self.hidden_size * self.dtype_bytes

    def _mlp_params(self) -> int:
        mats = 3 if self.mlp == "gated" else 2
        return mats * self.hidden_size * self.intermediate_size

    def _attn_params(self) -> int:
        kv_dim = self.kv_heads * self.head_dim
        return 2 * self.hidden_size * self.hidden_size + 2 * self.hidden_size * kv_dim

    @property
    def layer_params(self) -> int:
        """Parameters of one transformer layer (all experts for MoE)."""
        return self._attn_params() + self.experts * self._mlp_params()

    @property
    def layer_weight_bytes(self) -> float:
        """Weight bytes of one transformer layer, from the architecture (embeddings excluded)."""
        return float(self.layer_params * self.dtype_bytes)

    @property
    def active_layer_params(self) -> int:
        """Parameters touched per token in one layer (MoE: only the routed experts)."""
        return self._attn_params() + self.experts_per_token * self._mlp_params()

    @property
    def weight_bytes(self) -> float:
        """Bytes of all weights, from the published parameter count."""
        return self.params_b * 1e9 * self.dtype_bytes

    def flops_per_token(self, context_tokens: int = 0) -> float:
        """Forward FLOPs per token over all layers: 2 x active params plus attention over the context."""
        dense = 2.0 * self.active_layer_params * self.layers
        attn = 4.0 * self.layers * self.hidden_size * context_tokens
        return dense + attn


class ColumnRule(_Strict):
    """What one column of a profile table must hold; checked on every row when the table is first read."""

    type: Literal["number", "integer", "text"] = Field(description="number (finite), integer, or non-empty text")
    gt: float | None = Field(default=None, description="values must be greater than this")
    ge: float | None = Field(default=None, description="values must be at least this")
    le: float | None = Field(default=None, description="values must be at most this")

    def describe(self) -> str:
        parts = [f"> {self.gt:g}" if self.gt is not None else "", f">= {self.ge:g}" if self.ge is not None else ""]
        parts.append(f"<= {self.le:g}" if self.le is not None else "")
        bounds = " and ".join(p for p in parts if p)
        return f"{'an integer' if self.type == 'integer' else 'a finite number'}" + (f" {bounds}" if bounds else "")


class TableMeta(_Strict):
    """Sidecar of a profile table: which columns identify a row and what the value columns mean and must hold."""

    description: str
    keys: tuple[str, ...] = Field(min_length=1, description="columns that identify a row; user rows win on these")
    units: dict[str, str] = Field(default_factory=dict, description="column -> unit")
    columns: dict[str, ColumnRule] = Field(
        default_factory=dict,
        description="column -> type and bounds; every listed column is required in every file of the table",
    )
    licence: str | None = None
    replace_groups: tuple[str, ...] | None = Field(
        default=None,
        description="in a layered directory: its rows replace every lower-layer row sharing these columns (a whole "
        "load sweep), not only rows with equal keys",
    )
