r"""Continual release of the maximum of column sums under differential privacy.

Implements the chapter on Jain, Raskhodnikova, Sivakumar & Smith, *The Price of Differential Privacy under
Continual Observation* (ICML 2023, arXiv:2112.00828). The paper proves that releasing the largest of ``d``
running column sums (MaxSum), or its index (SelectSum), at every step of a length-``T`` stream costs a factor
:math:`\tilde\Omega(T^{1/3})` more error than releasing it once. The mechanisms here are the chapter's
concrete instances of the matching upper bounds; their details (and the lower-bound reduction in
:func:`reduction_stream`) are our reconstruction, not the paper's text:

* :func:`binary_tree_max` (M1): a dyadic-tree counter on every column, then max/argmax, error
  :math:`\tilde O(\sqrt d)` (Gaussian noise) or :math:`\tilde O(d)` (Laplace, pure DP), and
  :func:`binary_tree_max_fused`, the same with a fused Triton kernel (noise drawn on the fly) on GPU;
* :func:`sparse_vector_max_sum` (M2) and :func:`sparse_vector_select_sum` (M3): sparse-vector re-release with
  a round cap and zCDP composition, error :math:`\tilde O(T^{1/3})`;
* :class:`OnlineTreeMax` and :class:`OnlineSparseVectorMaxSum`: the same mechanisms one row at a time, for
  streams chosen adaptively;
* :func:`sharded_binary_tree_max`: M1 split by column over a ``torch.distributed`` process group;
* baselines: :func:`batch_max_sum`, :func:`batch_select_sum`, :func:`naive_continual_max_sum`,
  :func:`trivial_max_sum`.

Example:
    >>> from litlib.dp_continual import PrivacyBudget, planted_max_stream, binary_tree_max, max_sums
    >>> x = planted_max_stream(T=256, d=8, seed=0)
    >>> out = binary_tree_max(x, PrivacyBudget(1.0, 1e-6), seed=1)
    >>> out.max_sum.shape
    (256,)
"""

from litlib.dp_continual.baselines import (
    batch_max_sum,
    batch_select_sum,
    max_sum_error,
    naive_continual_max_sum,
    select_sum_error,
    trivial_max_sum,
)
from litlib.dp_continual.online import OnlineSparseVectorMaxSum, OnlineTreeMax
from litlib.dp_continual.privacy import (
    PrivacyBudget,
    composed_epsilon,
    epsilon_to_zcdp,
    gaussian_sigma_classic,
    gaussian_sigma_zcdp,
    per_round_epsilon,
    zcdp_to_epsilon,
)
from litlib.dp_continual.sharded import shard_bounds, shard_seed, sharded_binary_tree_max
from litlib.dp_continual.streams import (
    all_ones_stream,
    check_stream,
    column_sums,
    decode_reduction,
    max_sums,
    planted_max_stream,
    reduction_read_times,
    reduction_stream,
)
from litlib.dp_continual.svt import (
    SVTNoise,
    SVTParameters,
    SVTRelease,
    default_cap,
    max_sum_error_sweep,
    sparse_vector_max_sum,
    sparse_vector_max_sum_from_target,
    sparse_vector_select_sum,
    svt_parameters,
    theta_grid,
)
from litlib.dp_continual.tree import (
    TreeRelease,
    binary_tree_max,
    binary_tree_max_fused,
    prefix_noise,
    sample_node_noise,
    tree_height,
    tree_noise_scale,
)

__all__ = [
    "OnlineSparseVectorMaxSum",
    "OnlineTreeMax",
    "PrivacyBudget",
    "SVTNoise",
    "SVTParameters",
    "SVTRelease",
    "TreeRelease",
    "all_ones_stream",
    "batch_max_sum",
    "batch_select_sum",
    "binary_tree_max",
    "binary_tree_max_fused",
    "check_stream",
    "column_sums",
    "composed_epsilon",
    "decode_reduction",
    "default_cap",
    "epsilon_to_zcdp",
    "gaussian_sigma_classic",
    "gaussian_sigma_zcdp",
    "max_sum_error",
    "max_sum_error_sweep",
    "max_sums",
    "naive_continual_max_sum",
    "per_round_epsilon",
    "planted_max_stream",
    "prefix_noise",
    "reduction_read_times",
    "reduction_stream",
    "sample_node_noise",
    "select_sum_error",
    "shard_bounds",
    "shard_seed",
    "sharded_binary_tree_max",
    "sparse_vector_max_sum",
    "sparse_vector_max_sum_from_target",
    "sparse_vector_select_sum",
    "svt_parameters",
    "theta_grid",
    "tree_height",
    "tree_noise_scale",
    "trivial_max_sum",
    "zcdp_to_epsilon",
]
