"""``plan diff``'s per-solver layouts come from the plan-block contracts; they must say what the diff always said.

The expected table below is the hand-written layout ``planner/diff.py`` carried before the contracts existed: which
list of each plan block is a collection, how its elements are keyed, why a change to a field matters, which
collections the one-line summary names, and what is never diffed.
"""

from __future__ import annotations

from planner.contract_base import Keyed
from planner.contracts import CONTRACTS
from planner.diff import Reason
from planner.diff.layouts import Collection, layouts_of, normalise_block, scalar_reasons, summary_order

NODE_REASONS = {
    "layer_start": Reason.layer_move,
    "layer_end": Reason.layer_move,
    "layers": Reason.layer_move,
    "tp_tok_s": Reason.throughput,
    "inflow_tok_s": Reason.flow,
    "gpu": Reason.hardware,
    "profile_gpu": Reason.hardware,
    "gpus_per_node": Reason.hardware,
}
EDGE_REASONS = {
    "flow_tok_s": Reason.flow,
    "capacity_tok_s": Reason.link,
    "bandwidth_bytes_s": Reason.link,
    "latency_s": Reason.link,
}
DYNAMO_POOL_REASONS = {
    "instances": Reason.resized,
    "tp": Reason.parallelism,
    "freq_mhz": Reason.frequency,
    "load_rps": Reason.load,
    "energy_wh": Reason.energy,
}


def shape(c: Collection | None) -> object:
    if c is None:
        return None
    return (c.label, c.keys, dict(c.reasons), {k: shape(v) for k, v in c.children.items()}, c.plural_label)


def test_helix_layout() -> None:
    assert {k: shape(v) for k, v in layouts_of("helix").items()} == {
        "nodes": ("node", ("{name}",), NODE_REASONS, {}, "nodes"),
        "edges": ("edge", ("{src}->{dst}",), EDGE_REASONS, {}, "edges"),
        "routes": ("route", ("{from}->{to}",), {"weight": Reason.routing}, {}, "routes"),
        "baselines": ("baseline", ("{name}",), {"throughput_tok_s": Reason.throughput}, {}, "baselines"),
    }
    assert list(layouts_of("helix")) == ["nodes", "edges", "routes", "baselines"]  # the diff's display order
    assert summary_order("helix") == ("node", "edge")


def test_splitwise_layout() -> None:
    assert {k: shape(v) for k, v in layouts_of("splitwise").items()} == {
        "pools": (
            "pool",
            ("{role}", "{role}:{machine}"),
            {"count": Reason.resized, "machine": Reason.hardware},
            {},
            "pools",
        ),
        "designs": ("design", ("{design}", "{name}", "{design}:{objective}"), {}, {}, "designs"),
        "slos": ("slo", ("{name}",), {"value": Reason.slo, "margin": Reason.slo, "limit": Reason.slo}, {}, "SLOs"),
        "ledger": None,  # an audit trail of the search, never diffed
    }
    assert summary_order("splitwise") == ("pool",)
    assert dict(scalar_reasons("splitwise")) == {"design": Reason.design}


def test_dynamo_layout() -> None:
    pools = ("pool", ("{class}",), DYNAMO_POOL_REASONS, {}, "pools")
    assert {k: shape(v) for k, v in layouts_of("dynamo").items()} == {
        "epochs": ("epoch", ("{start}",), {}, {"pools": pools}, "epochs"),
    }
    assert summary_order("dynamo") == ("epoch", "pool")


def test_every_reason_named_in_a_contract_exists() -> None:
    """A typo in a contract's reason name would otherwise only fail when that kind is first diffed."""
    for kind in CONTRACTS:
        layouts_of.cache_clear()
        assert layouts_of(kind) is not None


def test_grouped_mapping_is_flattened_as_its_contract_says() -> None:
    meta = next(m for m in CONTRACTS["helix"].model_fields["routing"].metadata if isinstance(m, Keyed))
    assert (meta.grouped_by, meta.flat) == ("from", "routes")
    block = {"routing": {"source": [{"to": "a", "weight": 1.0}], "a": [{"to": "sink", "weight": 1.0}]}}
    assert normalise_block("helix", block) == {
        "routes": [{"from": "source", "to": "a", "weight": 1.0}, {"from": "a", "to": "sink", "weight": 1.0}]
    }
