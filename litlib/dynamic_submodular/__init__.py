"""Fully dynamic monotone submodular maximisation under a cardinality constraint.

Chapter ``dynamic-submodular`` of the litlib book, after K. Banihashem, L. Biabani, S. Goudarzi,
M. Hajiaghayi, P. Jabbarzade and M. Monemizadeh, *Dynamic Constrained Submodular Optimization with
Polylogarithmic Update Time*, ICML 2023 (arXiv:2305.15192). The paper's level/rebuild rules were not
available to us: :class:`DynamicSubmodular` implements a fully specified algorithm from the same family
(threshold levels over a grid of OPT guesses), whose eager variant provably keeps
``f(S) >= OPT / (2(1 + ε))`` after every update.

Public API:

* :class:`SetFunction`, :class:`CallableFunction`, :class:`CountingOracle`: plug in your own monotone
  submodular function; queries are counted (one per ``f(S)``, one per marginal gain).
* :class:`CoverageFunction`, :func:`random_coverage`, :func:`pack_sets`: a packed-bitset max-coverage oracle.
* :class:`DynamicSubmodular` (``insert``, ``delete``, ``solution``, ``value``), :class:`ThresholdInstance`,
  :func:`guess_grid`.
* baselines :func:`greedy`, :func:`lazy_greedy`, :func:`threshold_greedy`, :func:`recompute_threshold_greedy`,
  :class:`SieveStreaming`.
* ``litlib.dynamic_submodular.reference`` (brute force, bounds) and
  ``litlib.dynamic_submodular.experiments`` (the chapter's workloads).
"""

from litlib.dynamic_submodular.baselines import (
    SieveStreaming,
    greedy,
    lazy_greedy,
    recompute_threshold_greedy,
    threshold_greedy,
)
from litlib.dynamic_submodular.coverage import CoverageFunction, pack_sets, random_coverage
from litlib.dynamic_submodular.dynamic import DynamicSubmodular, LevelState, ThresholdInstance, guess_grid
from litlib.dynamic_submodular.oracle import CallableFunction, CountingOracle, SetFunction

__all__ = [
    "CallableFunction",
    "CountingOracle",
    "CoverageFunction",
    "DynamicSubmodular",
    "LevelState",
    "SetFunction",
    "SieveStreaming",
    "ThresholdInstance",
    "greedy",
    "guess_grid",
    "lazy_greedy",
    "pack_sets",
    "random_coverage",
    "recompute_threshold_greedy",
    "threshold_greedy",
]
