"""Restarted Bayesian online change-point detection for non-stationary MDPs.

Implements, for the book chapter ``rbocpd``, the paper *Restarted Bayesian Online Change-point Detection for
Non-Stationary Markov Decision Processes* (Réda Alami, Mohammed Mahfoud and Eric Moulines, CoLLAs 2023, PMLR 232;
arXiv:2304.00232), which builds on the Bernoulli R-BOCPD detector of Alami, Maillard & Féraud (ICML 2020) and on
UCRL2 (Jaksch, Ortner & Auer, JMLR 2010).

The paper's full text was not available to us: the detector's closed form follows the R-BOCPD line of work, and
the weight schedule, the theory threshold and the global restart scope are the book's reconstruction (see the
chapter's opening admonition).

Public API:

* Detectors: :class:`RBOCPD` (streaming), :func:`scan_statistics` and :func:`first_alarm` (batched, for
  false-alarm and delay curves), :func:`theory_threshold`, :func:`delay_approximation`, :class:`AdamsMacKayBOCPD`,
  :func:`piecewise_categorical_streams`.
* Environments: :class:`TabularMDP`, :func:`flipping_chain`, :class:`PiecewiseStationaryMDP`, :func:`optimal_gain`,
  :func:`random_dirichlet_mdp`, :func:`river_swim`.
* Agents: :class:`UCRL2`, :class:`OracleRestartUCRL2`, :class:`ScheduledRestartUCRL2`,
  :class:`SlidingWindowUCRL2`, :class:`RBOCPDUCRL2`, :func:`run_agent`, :func:`extended_value_iteration`,
  :func:`optimistic_transitions`.
* Batched PyTorch simulator (many seeds in lock-step, CPU or GPU): :func:`simulate_batch`,
  :func:`batched_extended_value_iteration`, :class:`BatchResult`.
* References (slow, for tests and the chapter's checks): :mod:`litlib.rbocpd.reference`.
"""

from __future__ import annotations

from litlib.rbocpd.batched import BatchResult, batched_extended_value_iteration, simulate_batch
from litlib.rbocpd.detector import (
    RBOCPD,
    AdamsMacKayBOCPD,
    ScanStatistics,
    delay_approximation,
    first_alarm,
    log_binomial,
    piecewise_categorical_streams,
    scan_statistics,
    theory_threshold,
)
from litlib.rbocpd.mdp import (
    PiecewiseStationaryMDP,
    TabularMDP,
    flipping_chain,
    optimal_gain,
    random_dirichlet_mdp,
    river_swim,
)
from litlib.rbocpd.ucrl import (
    RBOCPDUCRL2,
    UCRL2,
    EVIResult,
    OracleRestartUCRL2,
    RunResult,
    ScheduledRestartUCRL2,
    SlidingWindowUCRL2,
    extended_value_iteration,
    optimistic_transitions,
    run_agent,
)

__all__ = [
    "RBOCPD",
    "RBOCPDUCRL2",
    "UCRL2",
    "AdamsMacKayBOCPD",
    "BatchResult",
    "EVIResult",
    "OracleRestartUCRL2",
    "PiecewiseStationaryMDP",
    "RunResult",
    "ScanStatistics",
    "ScheduledRestartUCRL2",
    "SlidingWindowUCRL2",
    "TabularMDP",
    "batched_extended_value_iteration",
    "delay_approximation",
    "extended_value_iteration",
    "first_alarm",
    "flipping_chain",
    "log_binomial",
    "optimal_gain",
    "optimistic_transitions",
    "piecewise_categorical_streams",
    "random_dirichlet_mdp",
    "river_swim",
    "run_agent",
    "scan_statistics",
    "simulate_batch",
    "theory_threshold",
]
