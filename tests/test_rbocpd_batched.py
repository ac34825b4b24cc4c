"""The batched PyTorch simulator retraces the NumPy agents step for step (litlib.rbocpd.batched)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from litlib.rbocpd import (
    RBOCPDUCRL2,
    UCRL2,
    OracleRestartUCRL2,
    PiecewiseStationaryMDP,
    ScheduledRestartUCRL2,
    SlidingWindowUCRL2,
    extended_value_iteration,
    flipping_chain,
    run_agent,
)
from litlib.rbocpd.batched import batched_extended_value_iteration, simulate_batch

SEG = 300
CHANGES = [SEG, 2 * SEG, 3 * SEG]
T = 4 * SEG


def chain() -> PiecewiseStationaryMDP:
    return PiecewiseStationaryMDP([flipping_chain(f) for f in (0, 1, 0, 1)], CHANGES)


@pytest.mark.parametrize(
    "method, kwargs, make",
    [
        ("ucrl2", {}, lambda: UCRL2(4, 2, conf_scale=0.3)),
        ("oracle", {}, lambda: OracleRestartUCRL2(4, 2, restart_at=CHANGES, conf_scale=0.3)),
        (
            "scheduled",
            dict(n_changes=3),
            lambda: ScheduledRestartUCRL2(4, 2, n_changes=3, horizon=T, conf_scale=0.3),
        ),
        ("sw", dict(window=170), lambda: SlidingWindowUCRL2(4, 2, window=170, conf_scale=0.3)),
        (
            "rbocpd",
            dict(threshold=math.log(T)),
            lambda: RBOCPDUCRL2(4, 2, threshold=math.log(T), conf_scale=0.3),
        ),
        ("rbocpd", dict(detector_delta=True), lambda: RBOCPDUCRL2(4, 2, detector_delta=True, conf_scale=0.3)),
    ],
)
def test_batched_runs_equal_numpy_runs(method: str, kwargs: dict, make) -> None:  # type: ignore[no-untyped-def]
    env = chain()
    seeds = [3, 0]
    batch = simulate_batch(env, T, seeds, method=method, conf_scale=0.3, **kwargs)
    assert batch.regret.shape == (2, T)
    for i, seed in enumerate(seeds):
        ref = run_agent(env, make(), T, seed=seed)
        np.testing.assert_allclose(batch.regret[i], ref.regret, atol=1e-9)
        assert batch.restart_times[i] == ref.restart_times
    if method == "rbocpd":
        assert all(len(r) >= 3 for r in batch.restart_times), "the flips should be detected"


def test_batched_evi_matches_numpy_evi() -> None:
    rng = np.random.default_rng(0)
    K, S, A = 5, 4, 3
    p_hat = rng.dirichlet(np.ones(S), size=(K, S, A))
    r_tilde = rng.random((K, S, A))
    radius = rng.random((K, S, A))
    acc = np.array([1e-3, 1e-6, 1e-2, 1e-8, 1e-4])
    got = batched_extended_value_iteration(
        torch.tensor(p_hat), torch.tensor(r_tilde), torch.tensor(radius), torch.tensor(acc), 1000
    )
    for k in range(K):
        ref = extended_value_iteration(p_hat[k], r_tilde[k], radius[k], float(acc[k]))
        np.testing.assert_array_equal(got[k].numpy(), ref.policy)


def test_batched_restores_thread_setting_and_rejects_bad_inputs() -> None:
    threads = torch.get_num_threads()
    simulate_batch(chain(), 50, [0], method="ucrl2")
    assert torch.get_num_threads() == threads
    with pytest.raises(ValueError, match="method"):
        simulate_batch(chain(), 10, [0], method="bocpd")
    with pytest.raises(TypeError, match="window"):
        simulate_batch(chain(), 10, [0], method="sw")
    with pytest.raises(TypeError, match="n_changes"):
        simulate_batch(chain(), 10, [0], method="scheduled")
    with pytest.raises(ValueError, match="seeds"):
        simulate_batch(chain(), 10, [], method="ucrl2")
    with pytest.raises(TypeError, match="threshold"):
        simulate_batch(chain(), 10, [0], method="rbocpd")
    with pytest.raises(TypeError, match="env"):
        simulate_batch(object(), 10, [0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="horizon"):
        simulate_batch(chain(), 0, [0], method="ucrl2")
