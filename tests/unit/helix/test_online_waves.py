"""The online prediction's decode batch is a wave (planner/helix/online.py), checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from planner.helix.online import WaveLaw, _node_state


def test_wave_law_by_hand() -> None:
    """32 requests decoding through a node: 32 / 32^0.2 = 16 tokens a wave off a ring, all 32 on a ring (one wave a
    cycle) while they fit in one iteration (cap 128), the law again when they do not (256 / 256^0.2 = 84.4)."""
    law = WaveLaw(1.0, 0.2, frozenset({"ring"}))
    n = np.array([32.0, 256.0])
    assert law.wave("chain", n, 128.0) == pytest.approx([16.0, 256.0 / 256.0**0.2])
    assert law.wave("ring", n, 128.0) == pytest.approx([32.0, 256.0 / 256.0**0.2])
    assert law.wave("chain", np.array([0.0]), 128.0) == pytest.approx([0.0])


def test_a_wave_sets_the_decode_batch_when_arrivals_spread_out_would_give_less() -> None:
    """One node, one layer, decode iteration 10 ms + 1 ms a token. 100 tokens/s arriving spread out would fill an
    iteration of 11.1 ms with 1.11 tokens; a wave of 20 fills it with 20 (30 ms); without a wave, as before."""
    grid = np.array([0.0] + [0.010 + 0.001 * d for d in range(1, 129)])
    lam = np.array([[100.0]])
    r = np.array([[0.0]])
    args = (lam, r, np.array([1.0]), [grid], np.array([128.0]), np.array([0.5]))
    spread = _node_state(*args, np.zeros((1, 1)))
    waves = _node_state(*args, np.array([[20.0]]))
    assert spread["batch"][0, 0] == pytest.approx(1.0 / 0.9, rel=1e-6)  # d = 100 (0.010 + 0.001 d)
    assert waves["batch"][0, 0] == pytest.approx(20.0)
    assert waves["dec"][0, 0] == pytest.approx(0.030)
