"""The chapter's noise sweep: every algorithm on the drifting-Zipf workload, with discard and phase bits
flipped at
several rates, recorded as one flat row per (seed, flip mode, flip probability)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from litlib.paging.belady import belady
from litlib.paging.core import (
    FLIP_MODES,
    FlipMode,
    drifting_zipf,
    flip_bits,
    k_phases,
    phase_truth,
    prediction_errors,
)
from litlib.paging.policies import combined, simulate

SWEEP_ALGORITHMS: tuple[str, ...] = (
    "ftp_det",
    "ftp_rand",
    "combined_det",
    "combined_rand",
    "phase_det",
    "phase_rand",
    "naive_random",
    "lru",
    "marking",
)
"""Algorithms :func:`noise_sweep` runs; the ones that do not read bits are run once per seed."""


@dataclass
class SweepRow:
    """One run of the sweep: costs of every algorithm on one (seed, mode, p)."""

    seed: int
    mode: str
    p: float
    opt: int
    eta0: int
    eta1: int
    phase_eta: int
    sum_c: int
    costs: dict[str, int] = field(default_factory=dict)
    switches: dict[str, int] = field(default_factory=dict)


def noise_sweep(
    seeds: Iterable[int],
    ps: Sequence[float],
    modes: Sequence[FlipMode] = ("both",),
    T: int = 20_000,
    n_pages: int = 200,
    k: int = 10,
    algorithms: Sequence[str] = SWEEP_ALGORITHMS,
    factor: float = 2.0,
) -> list[SweepRow]:
    """Run ``algorithms`` on ``drifting_zipf(T, n_pages, rng=seed)`` for every seed, flip mode and
    probability.

    Discard bits are FitF's truth flipped by :func:`flip_bits`; phase bits (for ``phase_*``) are the true
    phase
    bits flipped the same way. Randomized algorithms get a seed derived from ``(seed, mode, p)``.

    Raises:
        ValueError: on an unknown algorithm or flip mode.
    """
    unknown = set(algorithms) - set(SWEEP_ALGORITHMS)
    if unknown:
        raise ValueError(f"algorithms must be among {SWEEP_ALGORITHMS}; got {sorted(unknown)}")
    if any(m not in FLIP_MODES for m in modes):
        raise ValueError(f"modes must be among {FLIP_MODES}; got {list(modes)}")
    rows: list[SweepRow] = []
    for seed in seeds:
        req = drifting_zipf(T, n_pages, rng=seed)
        opt = belady(req, k)
        truth_phase = phase_truth(req, k)
        sum_c = int(k_phases(req, k).new_pages.sum())
        blind = {a: simulate(a, req, k, seed=seed) for a in ("lru", "marking") if a in algorithms}
        for m_idx, mode in enumerate(modes):
            for p_idx, p in enumerate(ps):
                rng = np.random.default_rng([seed, m_idx, p_idx])
                bits = flip_bits(opt.discard, p, rng, mode)
                phase_bits = flip_bits(truth_phase, p, rng, mode)
                eta0, eta1 = prediction_errors(bits, opt.discard)
                row = SweepRow(
                    seed,
                    mode,
                    float(p),
                    opt.faults,
                    eta0,
                    eta1,
                    int((phase_bits != truth_phase).sum()),
                    sum_c,
                )
                run_seed = int(rng.integers(2**31))
                for a in algorithms:
                    if a in blind:
                        row.costs[a] = blind[a]
                    elif a.startswith("combined"):
                        res = combined(
                            req, bits, k, randomized=a.endswith("rand"), factor=factor, seed=run_seed
                        )
                        row.costs[a], row.switches[a] = res.faults, res.switches
                    elif a.startswith("phase"):
                        row.costs[a] = simulate(a, req, k, phase_bits, seed=run_seed)
                    else:
                        row.costs[a] = simulate(a, req, k, bits, seed=run_seed)
                rows.append(row)
    return rows
