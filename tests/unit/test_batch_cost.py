"""engine.costs.batch_cost: batch-prediction answers at batch prices."""

from __future__ import annotations

import pytest

from engine.costs import BATCH_PRICE_FACTOR, batch_cost, completion_cost

USAGE = {"prompt_tokens": 1000, "completion_tokens": 200, "prompt_tokens_details": {"cached_tokens": 100}}


def test_without_batch_prices_it_is_the_online_price_times_the_factor():
    info = {"input_cost_per_token": 3e-07, "output_cost_per_token": 2.5e-06, "cache_read_input_token_cost": 7.5e-08}
    online = completion_cost(USAGE, info)
    assert online == pytest.approx(900 * 3e-07 + 100 * 7.5e-08 + 200 * 2.5e-06)
    assert batch_cost(USAGE, info) == pytest.approx(online * BATCH_PRICE_FACTOR) and BATCH_PRICE_FACTOR == 0.5


def test_catalog_batch_prices_win_and_tiers_do_not_apply():
    info = {"input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05, "input_cost_per_token_batches": 1.5e-06,
            "output_cost_per_token_batches": 7.5e-06, "input_cost_per_token_above_200k_tokens": 6e-06}
    usage = {"prompt_tokens": 300_000, "completion_tokens": 10}
    assert batch_cost(usage, info) == pytest.approx(300_000 * 1.5e-06 + 10 * 7.5e-06)


def test_an_unpriced_model_has_no_batch_cost():
    assert batch_cost(USAGE, {}) is None
