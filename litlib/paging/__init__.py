"""Paging with predictions: FtP-Mark, PhaseMark, a robust combiner and their baselines.

Implements the algorithms of the chapter on *Paging with Succinct Predictions* (Antoniadis, Boyar, Eliáš,
Favrholdt, Hoeksma, Larsen, Polak and Simon, ICML 2023). The paper's stated results are the
``(1, k-1, 1)``- and ``(1, 2 H_k, 1)``-competitive bounds for one-bit *discard* predictions and the matching
deterministic lower bound; the algorithms here (FtP-Mark, the follow-the-leader combiner and PhaseMark
for one-bit
*phase* predictions) are the book's reconstructions, built and checked to meet those statements.

Public API:

* :func:`belady` (FitF: ``OPT`` and the ground-truth discard bits), :func:`k_phases`, :func:`phase_truth`;
* :func:`simulate` (any rule of :data:`POLICIES` on one sequence), :func:`lru`, :func:`marking`,
  :func:`ftp_mark`, :func:`phase_mark`, :func:`combined`, :class:`PagingSimulator`;
* :func:`simulate_batch` and :class:`BatchedPager` (many runs at once as tensors, CPU or GPU);
* contrast with next-arrival predictions: :func:`predictive_marker` (Lykouris and Vassilvitskii),
  :func:`follow_predictions`, :func:`next_arrival_predictions`;
* predictions: :func:`flip_bits`, :func:`prediction_errors`; workload: :func:`drifting_zipf`;
* checks: :func:`adversarial_sequence`, :func:`exhaustive_smoothness`, :func:`expected_faults`, :func:`fault_types`, :func:`witness_charges`,
  :func:`phase_exact_optimality`, :func:`randomized_smoothness`; the chapter's sweep: :func:`noise_sweep`.
"""

from litlib.paging.analysis import (
    ExhaustiveResult,
    RandomizedCheck,
    adversarial_sequence,
    exhaustive_smoothness,
    expected_faults,
    fault_types,
    phase_exact_optimality,
    randomized_smoothness,
    witness_charges,
)
from litlib.paging.batched import BatchedPager, simulate_batch
from litlib.paging.belady import BeladyResult, belady, discard_truth, opt_faults
from litlib.paging.core import (
    Phases,
    as_bits,
    as_requests,
    drifting_zipf,
    flip_bits,
    k_phases,
    next_occurrence,
    phase_truth,
    prediction_errors,
)
from litlib.paging.experiments import SWEEP_ALGORITHMS, SweepRow, noise_sweep
from litlib.paging.policies import (
    POLICIES,
    CombinerResult,
    EvictionRule,
    PagingSimulator,
    combined,
    ftp_mark,
    get_rule,
    lru,
    marking,
    phase_mark,
    simulate,
)
from litlib.paging.predictive_marker import follow_predictions, next_arrival_predictions, predictive_marker

__all__ = [
    "POLICIES",
    "SWEEP_ALGORITHMS",
    "BatchedPager",
    "BeladyResult",
    "CombinerResult",
    "EvictionRule",
    "ExhaustiveResult",
    "PagingSimulator",
    "Phases",
    "RandomizedCheck",
    "SweepRow",
    "adversarial_sequence",
    "as_bits",
    "as_requests",
    "belady",
    "combined",
    "discard_truth",
    "drifting_zipf",
    "exhaustive_smoothness",
    "expected_faults",
    "fault_types",
    "flip_bits",
    "follow_predictions",
    "ftp_mark",
    "get_rule",
    "k_phases",
    "lru",
    "marking",
    "next_arrival_predictions",
    "next_occurrence",
    "noise_sweep",
    "opt_faults",
    "phase_exact_optimality",
    "phase_mark",
    "phase_truth",
    "prediction_errors",
    "predictive_marker",
    "randomized_smoothness",
    "simulate",
    "simulate_batch",
    "witness_charges",
]
