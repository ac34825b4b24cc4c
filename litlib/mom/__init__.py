"""MoM: Linear Sequence Modeling with Mixture-of-Memories (Du, Sun, Lan, Hu and Cheng, 2025; arXiv:2502.13685).

A MoM layer keeps several independent linear-attention memories and a router that sends each token to its top-k of
them (plus an optional shared memory every token uses). Only routed memories are written -- and, for gated rules,
only they decay -- and the read mixes the routed memories' outputs with the renormalised router weights.

Public API:

* :class:`MoMLayer` (``nn.Module``; rules ``linear | gla | delta | gated_delta``; implementations
  ``recurrent | parallel | chunked | varlen``; :meth:`MoMLayer.step` decodes with per-memory state caching),
  :func:`route`, :func:`load_balance_loss`;
* the stream-level computations :func:`recurrent_form`, :func:`parallel_form` (:func:`parallel_scores`), :func:`chunked_form`,
  :func:`apply_write_mask`;
* the varlen regrouping :func:`regroup`, :func:`streams_varlen` and the packed-segment kernel entry point
  :func:`linear_attention_varlen` (Triton on GPU);
* the MQAR task: :func:`mqar_batch`, :class:`MQARConfig`, :class:`MQARModel`, :func:`train_mqar`, :func:`train_mqar_sweep`;
* references and closed forms in :mod:`litlib.mom.reference`.
"""

from litlib.mom.forms import apply_write_mask, chunked_form, parallel_form, parallel_scores, recurrent_form
from litlib.mom.layer import IMPLS, MoMLayer, MoMOutput, Routing, load_balance_loss, route
from litlib.mom.mqar import MQARConfig, MQARModel, MQARResult, mqar_batch, train_mqar, train_mqar_sweep
from litlib.mom.reference import RULES, recurrent_reference
from litlib.mom.varlen import linear_attention_varlen, regroup, streams_varlen

__all__ = [
    "IMPLS",
    "RULES",
    "MQARConfig",
    "MQARModel",
    "MQARResult",
    "MoMLayer",
    "MoMOutput",
    "Routing",
    "apply_write_mask",
    "chunked_form",
    "linear_attention_varlen",
    "load_balance_loss",
    "mqar_batch",
    "parallel_form",
    "parallel_scores",
    "recurrent_form",
    "recurrent_reference",
    "regroup",
    "route",
    "streams_varlen",
    "train_mqar",
    "train_mqar_sweep",
]
