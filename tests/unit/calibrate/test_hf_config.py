"""add-model: a Hugging Face config.json becomes a models.yaml entry with GQA-correct KV bytes and MoE fields."""

from __future__ import annotations

import json

import pytest

from planner.calibrate.hf_config import add_model, model_entry
from planner.errors import SpecError
from planner.profiles.db import ProfileDB

LLAMA3_8B = {
    "_name_or_path": "meta-llama/Meta-Llama-3-8B", "model_type": "llama", "hidden_act": "silu", "hidden_size": 4096,
    "intermediate_size": 14336, "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
    "tie_word_embeddings": False, "torch_dtype": "bfloat16", "vocab_size": 128256,
}  # fmt: skip
MIXTRAL = {
    "model_type": "mixtral", "hidden_act": "silu", "hidden_size": 4096, "intermediate_size": 14336,
    "num_attention_heads": 32, "num_experts_per_tok": 2, "num_hidden_layers": 32, "num_key_value_heads": 8,
    "num_local_experts": 8, "tie_word_embeddings": False, "torch_dtype": "bfloat16", "vocab_size": 32000,
}  # fmt: skip


def test_llama3_gqa_kv_bytes_and_params(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(LLAMA3_8B))
    target, entry = add_model(cfg, "my-llama3-8b", tmp_path / "prof")
    assert target == tmp_path / "prof" / "models.yaml"
    m = ProfileDB.load(tmp_path / "prof").model("my-llama3-8b")
    assert m.kv_bytes_per_token == 2 * 32 * 8 * 128 * 2  # K and V, 32 layers, 8 KV heads of 128, bf16 = 128 KiB
    assert m.params_b == pytest.approx(8.03, abs=0.01)  # the model card's 8.03B
    assert m.mlp == "gated" and m.experts == 1 and entry["aliases"] == ["Meta-Llama-3-8B"]


def test_mixtral_moe_fields(tmp_path):
    entry = model_entry(MIXTRAL, "mixtral", "config.json")
    assert entry["experts"] == 8 and entry["experts_per_token"] == 2
    assert entry["params_b"] == pytest.approx(46.7, abs=0.05)  # the model card's 46.7B total
    assert "MoE 8 experts / 2 per token" in entry["source"]


def test_explicit_head_dim_sizes_the_kv_cache(tmp_path):
    cfg = {**LLAMA3_8B, "model_type": "gemma", "hidden_size": 3072, "num_attention_heads": 16,
           "num_key_value_heads": 16, "head_dim": 256, "num_hidden_layers": 28}  # fmt: skip
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    add_model(tmp_path / "c.json", "g", tmp_path / "prof")
    m = ProfileDB.load(tmp_path / "prof").model("g")
    assert m.head_dim == 256 and m.kv_bytes_per_token == 2 * 28 * 16 * 256 * 2


def test_adding_twice_keeps_other_models(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(LLAMA3_8B))
    (tmp_path / "b.json").write_text(json.dumps(MIXTRAL))
    add_model(tmp_path / "a.json", "a", tmp_path / "p")
    add_model(tmp_path / "b.json", "b", tmp_path / "p")
    db = ProfileDB.load(tmp_path / "p")
    assert db.model("a").layers == 32 and db.model("b").experts == 8


@pytest.mark.parametrize(
    ("cfg", "expected"),
    [
        ({**LLAMA3_8B, "num_hidden_layers": None}, "c.json: num_hidden_layers: missing"),
        ({**LLAMA3_8B, "hidden_size": -1}, "c.json: hidden_size: must be a positive integer, got -1"),
        ({**LLAMA3_8B, "torch_dtype": "int3"}, "c.json: torch_dtype: unknown dtype 'int3'"),
        ({**LLAMA3_8B, "num_key_value_heads": 5}, "attention_heads must be a multiple of kv_heads"),
    ],
)
def test_bad_configs(tmp_path, cfg, expected):
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    with pytest.raises(SpecError) as exc:
        add_model(tmp_path / "c.json", "x", tmp_path / "p")
    assert expected in exc.value.lines()[0]


def test_fp8_checkpoints_are_one_byte_per_weight():
    """An FP8 checkpoint states bfloat16 (its unquantised parts) and the FP8 weights in quantization_config: read
    alone, torch_dtype doubled the weight bytes."""
    fp8 = {**LLAMA3_8B, "quantization_config": {"quant_method": "fp8", "activation_scheme": "dynamic"}}
    entry = model_entry(fp8, "l3-fp8", "config.json")
    assert entry["dtype_bytes"] == 1 and "FP8 weights (quantization_config.quant_method fp8" in entry["source"]
    weights = {"num_bits": 8, "type": "float", "strategy": "channel"}
    compressed = {"quant_method": "compressed-tensors", "config_groups": {"group_0": {"weights": weights}}}
    assert model_entry({**LLAMA3_8B, "quantization_config": compressed}, "x", "c.json")["dtype_bytes"] == 1
    for dtype in ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz"):
        assert model_entry({**LLAMA3_8B, "torch_dtype": dtype}, "x", "c.json")["dtype_bytes"] == 1
    assert "torch_dtype bfloat16" in model_entry(LLAMA3_8B, "x", "c.json")["source"]


@pytest.mark.parametrize(
    "quant",
    [{"quant_method": "awq", "bits": 4}, {"quant_method": "gptq", "bits": 4},
     {"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": {"num_bits": 4, "type": "int"}}}}],
)  # fmt: skip
def test_other_quantisations_are_refused(quant):
    with pytest.raises(SpecError) as exc:
        model_entry({**LLAMA3_8B, "quantization_config": quant}, "x", "c.json")
    (line,) = exc.value.lines()
    assert line.startswith("c.json: quantization_config.quant_method: ") and "is not supported" in line


def test_an_added_model_is_appended_and_the_file_kept(tmp_path):
    """The user's models.yaml keeps its comments and layout: the entry is appended; under replace, only the lines of
    the replaced entry change."""
    (tmp_path / "c.json").write_text(json.dumps(LLAMA3_8B))
    (tmp_path / "m.json").write_text(json.dumps(MIXTRAL))
    prof = tmp_path / "p"
    prof.mkdir()
    head = "# my models\nfirst:   # by hand\n"
    add_model(tmp_path / "m.json", "tmp", tmp_path / "scratch")
    body = (tmp_path / "scratch" / "models.yaml").read_text().split("\n", 1)[1]
    mine = head + body + "\n# the last one\nlast: {layers: 2, hidden_size: 64, attention_heads: 2, kv_heads: 2, "
    mine += "intermediate_size: 128, vocab_size: 100, dtype_bytes: 2, params_b: 0.001, source: hand}  # flow\n"
    (prof / "models.yaml").write_text(mine)
    add_model(tmp_path / "c.json", "added", prof)
    text = (prof / "models.yaml").read_text()
    assert text.startswith(mine) and ProfileDB.load(prof).model("added").kv_heads == 8
    add_model(tmp_path / "c.json", "first", prof, replace=True)
    replaced = (prof / "models.yaml").read_text()
    assert replaced.startswith("# my models\nfirst:\n") and replaced.endswith(text.split("\n\n# the last one")[-1])
    assert "\n\n# the last one\nlast: {layers: 2" in replaced
    db = ProfileDB.load(prof)
    assert db.model("first").experts == 1 and db.model("last").layers == 2 and db.model("added").layers == 32
