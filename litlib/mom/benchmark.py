"""Throughput of a MoM layer against causal softmax attention of the same width, forward + backward."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional

from litlib.bench import compare
from litlib.mom.layer import MoMLayer

__all__ = ["SoftmaxAttention", "throughput_table"]


class SoftmaxAttention(nn.Module):
    """Causal multi-head softmax attention (``scaled_dot_product_attention``): the quadratic baseline."""

    def __init__(self, d_model: int, num_heads: int = 1, d_head: int | None = None) -> None:
        super().__init__()
        d_head = d_model // num_heads if d_head is None else d_head
        self.num_heads, self.d_head = num_heads, d_head
        self.qkv = nn.Linear(d_model, 3 * num_heads * d_head, bias=False)
        self.o_proj = nn.Linear(num_heads * d_head, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (B, T, D) -> (B, T, D)``."""
        B, T, _ = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.num_heads, self.d_head).permute(2, 0, 3, 1, 4)
        o = functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(o.transpose(1, 2).reshape(B, T, -1))


def _fwd_bwd(
    layer: nn.Module, x: torch.Tensor, call: Callable[[torch.Tensor], torch.Tensor]
) -> Callable[[], None]:
    def run() -> None:
        layer.zero_grad(set_to_none=True)
        call(x).sum().backward()

    return run


def throughput_table(
    lengths: list[int],
    *,
    d_model: int = 64,
    batch: int = 1,
    mom: MoMLayer | None = None,
    repeats: int = 3,
    device: torch.device | None = None,
) -> list[dict[str, float]]:
    """Tokens/s of forward + backward for a MoM layer and softmax attention at each length, timed interleaved.

    Returns:
        one row per length: ``{"T", "mom_tok_s", "softmax_tok_s", "ratio"}`` with ``ratio`` = MoM over softmax
        throughput (measured in the same run).
    """
    dev = torch.device("cpu") if device is None else device
    layer = (
        mom
        if mom is not None
        else MoMLayer(d_model, 4, 2, d_k=16, d_v=d_model, impl="chunked", chunk_size=64)
    ).to(dev)
    attn = SoftmaxAttention(d_model).to(dev)
    rows = []
    for T in lengths:
        x = torch.randn(batch, T, d_model, device=dev)
        res = compare(
            {
                "mom": _fwd_bwd(layer, x, lambda t: layer(t).output),
                "softmax": _fwd_bwd(attn, x, attn),
            },
            baseline="softmax",
            repeats=repeats,
            device=dev,
        )
        tokens = batch * T
        rows.append(
            {
                "T": float(T),
                "mom_tok_s": tokens / res["mom"]["seconds"],
                "softmax_tok_s": tokens / res["softmax"]["seconds"],
                "ratio": res["mom"]["speedup"],
            }
        )
    return rows
