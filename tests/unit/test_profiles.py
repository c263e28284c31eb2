from pathlib import Path

import pytest

from planner.errors import ProfileMissingError, SpecError
from planner.profiles.db import ProfileDB

REQUIRED_GPUS = ["A100-40G", "A100-80G", "H100-80G", "H200", "L4", "T4", "V100", "A10G", "L40S"]
REQUIRED_MODELS = [
    "llama1-30b", "llama2-7b", "llama2-13b", "llama2-70b", "llama3.1-8b", "llama3.1-70b", "bloom-176b",
    "mixtral-8x7b",
]  # fmt: skip


def test_catalogue_has_required_entries(profile_db: ProfileDB) -> None:
    for g in REQUIRED_GPUS:
        assert profile_db.resolve_gpu(g) == g
    for m in REQUIRED_MODELS:
        assert profile_db.resolve_model(m) == m


def test_aliases_resolve_case_insensitively(profile_db: ProfileDB) -> None:
    assert profile_db.resolve_gpu("a100") == "A100-40G"
    assert profile_db.resolve_gpu("h100") == "H100-80G"
    assert profile_db.resolve_model("Llama-3.1-70B") == "llama3.1-70b"
    assert profile_db.resolve_gpu("A10O") is None


def test_kv_bytes_are_gqa_correct(profile_db: ProfileDB) -> None:
    # Llama-2 70B: 80 layers x 8 KV heads x 128 dims x 2 (K,V) x 2 bytes = 327,680 B/token (not 2.6 MB as MHA)
    assert profile_db.model("llama2-70b").kv_bytes_per_token == 2 * 80 * 8 * 128 * 2
    # BLOOM-176B is MHA: 2 x 70 x 112 x 128 x 2
    assert profile_db.model("bloom-176b").kv_bytes_per_token == 2 * 70 * 112 * 128 * 2
    assert profile_db.model("llama2-7b").kv_bytes_per_token == 2 * 32 * 32 * 128 * 2


def test_layer_weights_match_parameter_count(profile_db: ProfileDB) -> None:
    for name in ("llama2-70b", "llama2-7b", "llama3.1-8b", "mixtral-8x7b", "bloom-176b"):
        m = profile_db.model(name)
        embed = m.vocab_size * m.hidden_size * (1 if name.startswith("bloom") else 2)
        total = (m.layer_params * m.layers + embed) / 1e9
        assert total == pytest.approx(m.params_b, rel=0.03), name


def test_unknown_lookup_names_close_match(profile_db: ProfileDB) -> None:
    with pytest.raises(ProfileMissingError, match="did you mean 'A100-40G'"):
        profile_db.gpu("A100-40")


def test_user_layer_overrides_and_reports(tmp_path: Path) -> None:
    (tmp_path / "gpus.yaml").write_text(
        "L4:\n  vram_gb: 24\n  bf16_tflops: 121\n  hbm_gb_s: 300\n  tdp_w: 72\n  price_usd_h: 0.5\n"
        "  nic_gbps: 32\n  source: my quote\n"
        "MI300X:\n  vram_gb: 192\n  bf16_tflops: 1307\n  hbm_gb_s: 5300\n  tdp_w: 750\n  price_usd_h: 6\n"
        "  nic_gbps: 400\n  source: AMD datasheet\n"
    )
    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "demo.meta.yaml").write_text("description: demo\nkeys: [gpu]\nunits: {tok_s: tokens/s}\n")
    (tables / "demo.csv").write_text("gpu,tok_s,source\nL4,10,measured:me\nT4,5,synthetic:gen\n")
    db = ProfileDB.load(tmp_path)
    assert db.gpu("L4").price_usd_h == 0.5
    assert db.gpu("MI300X").vram_gb == 192
    assert any("L4" in c for c in db.conflicts)
    df = db.table("demo")
    assert list(df["provenance"]) == ["measured", "synthetic"]


def test_bad_profile_file_is_located(tmp_path: Path) -> None:
    (tmp_path / "gpus.yaml").write_text("X1:\n  vram_gb: -1\n  source: s\n")
    with pytest.raises(SpecError) as exc:
        ProfileDB.load(tmp_path)
    text = "\n".join(exc.value.lines())
    assert "gpus.yaml:2:" in text and "X1.vram_gb" in text


def test_table_source_column_is_required(tmp_path: Path) -> None:
    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "t.meta.yaml").write_text("description: d\nkeys: [a]\n")
    (tables / "t.csv").write_text("a,b,source\n1,2,guessed\n")
    db = ProfileDB.load(tmp_path)
    with pytest.raises(SpecError, match=r"t\.csv:2: source: must start with one of measured"):
        db.table("t")


def test_plans_record_only_the_profile_files_they_read() -> None:
    db = ProfileDB.load()
    names = [f.path.rsplit("/", 1)[-1] for f in db.used_files()]
    assert names == ["gpus.yaml", "models.yaml"]
    db.table("helix_layer_latency")
    names = [f.path.rsplit("/", 1)[-1] for f in db.used_files()]
    assert "helix_layer_latency.csv" in names and "helix_layer_latency.meta.yaml" in names
