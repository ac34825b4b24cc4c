"""Wall-clock of ParaRNN's application modes against the sequential loop (``python -m litlib.pararnn.benchmark``).

Ratios are measured in one run with the contenders interleaved (:func:`litlib.bench.compare`); on CUDA the device
is synchronised around every call. The scan's achieved bandwidth counts one read of ``A`` and ``b`` and one write of
``y`` per Newton iteration.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import torch

from litlib.bench import compare, gbps
from litlib.kernels import triton_usable
from litlib.pararnn.cells import ParaGRUCell
from litlib.pararnn.reference import rnn_sequential
from litlib.scan import linear_scan


def _contenders(
    cell: ParaGRUCell, u: torch.Tensor, backward: bool, with_triton: bool
) -> dict[str, Callable[[], object]]:
    def run(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[], object]:
        if not backward:
            return lambda: fn(u)

        def fwd_bwd() -> None:
            u_ = u.detach().requires_grad_()
            fn(u_).sum().backward()

        return fwd_bwd

    from litlib.pararnn.function import pararnn_apply

    fns: dict[str, Callable[[], object]] = {
        "sequential": run(lambda v: rnn_sequential(cell, v)),
        "parallel (torch scan)": run(lambda v: pararnn_apply(cell, v, 3, 1.0, "torch")),
    }
    if with_triton:
        fns["parallel (triton scan)"] = run(lambda v: pararnn_apply(cell, v, 3, 1.0, "triton"))
        fns["parallel (fused triton)"] = run(lambda v: pararnn_apply(cell, v, 3, 1.0, "fused"))
    return fns


def benchmark(
    lengths: list[int],
    d: int = 64,
    batch: int = 8,
    backward: bool = False,
    device: str | torch.device = "cpu",
    repeats: int = 3,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Time the modes for each sequence length; one row per (length, mode) with seconds and speed-up.

    The Triton mode is included only where Triton compiles (CUDA); under the CPU interpreter it would measure the
    interpreter, not the kernel.
    """
    if not lengths or min(lengths) < 1:
        raise ValueError(f"lengths must be a non-empty list of positive ints; got {lengths}")
    dev = torch.device(device)
    torch.manual_seed(seed)
    cell = ParaGRUCell(d, d).to(dev)
    with_triton = dev.type == "cuda" and triton_usable(dev)
    rows: list[dict[str, Any]] = []
    for L in lengths:
        u = cell.project(torch.randn(batch, L, d, device=dev)).detach()
        with torch.set_grad_enabled(backward):
            res = compare(
                _contenders(cell, u, backward, with_triton), "sequential", repeats=repeats, device=dev
            )
        for name, r in res.items():
            rows.append({"L": L, "mode": name, "seconds": r["seconds"], "speedup": r["speedup"]})
    return rows


def scan_bandwidth(
    L: int, d: int = 1024, batch: int = 16, device: str = "cuda", repeats: int = 20
) -> dict[str, float]:
    """Achieved GB/s of one diagonal scan (read ``A``, ``b``; write ``y``) for the torch and Triton paths."""
    dev = torch.device(device)
    A = torch.rand(batch, L, d, device=dev)
    b = torch.randn(batch, L, d, device=dev)
    n_bytes = 3 * A.numel() * A.element_size()
    fns: dict[str, Callable[[], object]] = {"torch": lambda: linear_scan(A, b, mode="torch")}
    if triton_usable(dev):
        fns["triton"] = lambda: linear_scan(A, b, mode="triton")
    res = compare(fns, "torch", repeats=repeats, device=dev)
    return {name: gbps(n_bytes, r["seconds"]) for name, r in res.items()}


def main(argv: list[str] | None = None) -> None:
    """Print the benchmark table (forward and forward+backward) for the available device."""
    parser = argparse.ArgumentParser(prog="python -m litlib.pararnn.benchmark")
    parser.add_argument("--lengths", type=int, nargs="+", default=None)
    parser.add_argument("--d", type=int, default=None)
    parser.add_argument("--batch", type=int, default=None)
    args = parser.parse_args(argv)
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    lengths = args.lengths or ([2**k for k in range(10, 17, 2)] if cuda else [256, 1024, 4096])
    d = args.d or (256 if cuda else 64)
    batch = args.batch or (16 if cuda else 8)
    print(f"device {torch.cuda.get_device_name(0) if cuda else 'cpu'}, d={d}, batch={batch}, ParaGRU, K=3")
    for backward in (False, True):
        print("forward + backward" if backward else "forward")
        for row in benchmark(lengths, d, batch, backward, device):
            print(
                f"  L={row['L']:>6}  {row['mode']:<24} {row['seconds'] * 1e3:10.2f} ms  x{row['speedup']:.1f}"
            )
    if cuda:
        for L in (4096, 65536):
            print(
                f"scan bandwidth L={L}: "
                + ", ".join(f"{k} {v:.0f} GB/s" for k, v in scan_bandwidth(L).items())
            )


if __name__ == "__main__":
    main()
