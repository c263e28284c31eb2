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


def test_a_convoy_follows_the_prompt_with_the_edges_share_of_the_flow() -> None:
    """Paths a>b>d (3 tok/s) and a>c>d (1 tok/s): a prompt at a goes on to b with 3/4 and to c with 1/4, so a token
    behind it stays in its convoy with those chances; every other edge carries all of its node's outflow."""
    from planner.helix.online import _convoy_stays

    stays = _convoy_stays([(("a", "b", "d"), 3.0), (("a", "c", "d"), 1.0)])
    assert stays == pytest.approx({("a", "b"): 0.75, ("a", "c"): 0.25, ("b", "d"): 1.0, ("c", "d"): 1.0})


def test_a_token_is_caught_behind_long_prompts_more_often() -> None:
    """Prompts of 100 and 1,900 tokens in equal numbers: a token that arrives during a prompt iteration finds a
    1,900-token one 95 % of the time (its iteration is 19 times longer), so the prompt it follows is drawn 5 / 95."""
    from planner.helix.online import _caught_prompt_weights

    assert _caught_prompt_weights(np.array([100.0, 1900.0, 100.0, 1900.0])) == pytest.approx([0.025, 0.475] * 2)
    assert _caught_prompt_weights(np.array([0.0, 0.0])) is None
