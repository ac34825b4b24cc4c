"""Rarely-switching GP optimisation with an exact unique-point posterior.

Implements, for the book chapter ``gp-few-unique``, the ideas of D. Calandriello, L. Carratino, A. Lazaric,
M. Valko and L. Rosasco, *Scaling Gaussian Process Optimization by Evaluating a Few Unique Candidates Multiple
Times*, ICML 2022 (arXiv:2201.12909):

* the exact GP posterior computed from the ``q`` unique evaluated points, their counts and summed feedback
  (:func:`unique_point_posterior`, :class:`UniquePointGP`), against the full-history baseline
  (:class:`ExactGP`);
* GP-UCB and GP-EI that update every step (:func:`run_per_step`) and their rarely-switching versions, which
  evaluate one candidate ``B_h`` times per epoch (:func:`run_mini`). The epoch rule
  (:func:`epoch_length`, "repeat until the variance-shrink ratio exceeds ``C``") is the book's reconstruction,
  adapted from the authors' batched BBKB rule; the names "mini-GP-UCB/EI" are the book's;
* a PyTorch version for large candidate sets (:func:`run_mini_torch`), which streams the candidates through the
  posterior and the acquisition in chunks (:func:`streamed_argmax`).

Example:
    >>> from litlib.gp_few_unique import make_synthetic_problem, run_mini
    >>> problem = make_synthetic_problem(0, n_candidates=100)
    >>> result = run_mini(problem, 200, ratio_threshold=2.0, seed=0)
    >>> result.n_epochs < 200
    True
"""

from __future__ import annotations

from litlib.gp_few_unique.acquisition import epoch_length, expected_improvement, theoretical_beta, ucb
from litlib.gp_few_unique.large import run_mini_torch, streamed_argmax
from litlib.gp_few_unique.optimize import METHODS, RunResult, noise_rng, optimize, run_mini, run_per_step
from litlib.gp_few_unique.posterior import ExactGP, UniquePointGP, unique_point_posterior
from litlib.gp_few_unique.problem import FiniteProblem, make_synthetic_problem, rbf_kernel

__all__ = [
    "METHODS",
    "ExactGP",
    "FiniteProblem",
    "RunResult",
    "UniquePointGP",
    "epoch_length",
    "expected_improvement",
    "make_synthetic_problem",
    "noise_rng",
    "optimize",
    "rbf_kernel",
    "run_mini",
    "run_mini_torch",
    "run_per_step",
    "streamed_argmax",
    "theoretical_beta",
    "ucb",
    "unique_point_posterior",
]
