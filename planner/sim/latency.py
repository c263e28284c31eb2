"""Per-layer execution time of a batch for the simulator: the shared node performance model.

The model itself lives in :mod:`planner.profiles.nodeperf` (one module, imported by ``plan helix`` and
``plan simulate`` alike; its analytic part in :mod:`planner.profiles.roofline`). Helix models a node's iteration
over a mixed batch as ``layers x (t_prompt(P) + t_decode(D))`` with the measured per-layer times of
``helix_layer_latency``, linear between grid points and never extrapolated (the engine caps batches at the
largest measured sizes); the analytic roofline is used only when asked for (``--latency auto|roofline``) and says so.
"""

from __future__ import annotations

from planner.profiles.nodeperf import TABLE, LayerLatency, load_layer_latency, roofline_layer_latency
from planner.profiles.roofline import RooflineParams

#: Inputs of the analytic per-layer latency (``--latency roofline|auto``): the shared roofline's parameters.
RooflineLatency = RooflineParams

__all__ = ["TABLE", "LayerLatency", "RooflineLatency", "load_layer_latency", "roofline_layer_latency"]
