"""The foundations: scale switch, seeding, claims, kernels dispatch, comparison helpers, timing, distributed."""

from __future__ import annotations

import json
import math

import pytest
import torch

from litlib import bench, claims, kernels, runtime, testing
from litlib.distributed import run_local
from litlib.scan import scan_reference


def test_scale_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITLIB_SCALE", "smoke")
    assert runtime.get_scale() == "smoke"
    assert runtime.by_scale(smoke=1, cpu=2, gpu=3) == 1
    assert runtime.by_scale(smoke=1, cpu=2, gpu=3, scale="gpu") == 3
    monkeypatch.setenv("LITLIB_SCALE", "huge")
    with pytest.raises(ValueError, match="LITLIB_SCALE must be one of"):
        runtime.get_scale()
    monkeypatch.delenv("LITLIB_SCALE")
    assert runtime.get_scale() == ("gpu" if torch.cuda.is_available() else "cpu")


def test_seeding_is_reproducible() -> None:
    runtime.seed_everything(3)
    a = torch.randn(4)
    runtime.seed_everything(3)
    assert torch.equal(a, torch.randn(4))
    with pytest.raises(ValueError, match="seed must be >= 0"):
        runtime.seed_everything(-1)
    with pytest.raises(TypeError, match="seed must be an int"):
        runtime.seed_everything(1.5)  # type: ignore[arg-type]


def test_dtype_choice_on_cpu() -> None:
    assert runtime.supports_bf16("cpu")
    assert runtime.low_precision_dtype("cpu") == torch.bfloat16
    assert runtime.get_device("cpu").type == "cpu"


def test_claims_record_and_raise(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITLIB_CLAIMS_DIR", str(tmp_path))
    info = claims.start_chapter("demo")
    assert info["scale"] in runtime.SCALES
    assert claims.claim("small error", 1e-9, 1e-6, "<=", paper="1e-6") == 1e-9
    claims.claim("close", 1.0 + 1e-12, 1.0, "close")
    with pytest.raises(claims.ClaimError, match=r"measured 3, expected >= 5"):
        claims.claim("big enough", 3, 5, ">=")
    with pytest.raises(claims.ClaimError):
        claims.claim("nan never passes", math.nan, 1.0, "<=")
    with pytest.raises(ValueError, match="check must be one of"):
        claims.claim("bad op", 1, 1, "~")
    claims.claim("in range", 0.5, (0.4, 0.6), "in")
    with pytest.raises(claims.ClaimError):
        claims.claim("out of range", 0.7, (0.4, 0.6), "in")
    with pytest.raises(ValueError, match="needs expected"):
        claims.claim("bad range", 0.5, 0.6, "in")
    claims.not_reproduced("665x speed-up", 3.2, paper="665x", reason="2 CPU cores, no GPU")
    with pytest.raises(ValueError, match="reason"):
        claims.not_reproduced("x", 1, paper="y", reason=" ")
    claims.finish_chapter()
    with pytest.raises(ValueError, match="needs a reason"):
        claims.start_chapter("demo2", cpu_budget=180)
    record = json.loads((tmp_path / "demo.json").read_text())
    assert record["budget"] == claims.DEFAULT_BUDGETS[runtime.get_scale()]
    statuses = [c["status"] for c in record["claims"]]
    assert statuses == ["pass", "pass", "fail", "fail", "pass", "fail", "not reproduced"]
    assert record["seconds"] is not None
    assert claims.load_records(tmp_path)[0]["slug"] == "demo"


def test_kernel_mode_resolution() -> None:
    assert kernels.resolve_mode("f", "auto", "cpu") == "torch"
    assert kernels.resolve_mode("f", "torch", "cpu") == "torch"
    # the test suite runs with TRITON_INTERPRET=1 (conftest), so an explicit triton request is honoured on CPU
    assert kernels.resolve_mode("f", "triton", "cpu") == ("triton" if kernels.triton_installed() else "torch")
    with pytest.raises(ValueError, match="mode must be one of"):
        kernels.resolve_mode("f", "fast", "cpu")
    assert [kernels.next_power_of_2(n) for n in (0, 1, 2, 3, 64, 65)] == [1, 1, 2, 4, 64, 128]


def test_error_ratio_and_assert_close() -> None:
    x = torch.ones(100)
    assert testing.error_ratio(x, x) == 0
    assert testing.assert_close("same", x * (1 + 1e-9), x, rtol=1e-8) < 1e-8
    with pytest.raises(AssertionError, match="relative RMS error"):
        testing.assert_close("different", x * 1.1, x, rtol=1e-3)
    with pytest.raises(AssertionError, match="NaN"):
        testing.assert_close("nan", testing.nan_like(x), x)
    with pytest.raises(AssertionError, match="shape"):
        testing.assert_close("shape", x[:3], x)
    # the absolute floor keeps a zero reference meaningful
    assert testing.error_ratio(torch.full((4,), 1e-9), torch.zeros(4), abs_floor=1e-6) == pytest.approx(1e-3)


def test_timing_helpers() -> None:
    t = bench.time_fn(lambda: sum(range(1000)), warmup=1, repeats=3)
    assert t.repeats == 3 and t.low <= t.median <= t.high
    res = bench.compare({"a": lambda: sum(range(100)), "b": lambda: sum(range(100))}, baseline="a", repeats=2)
    assert res["a"]["speedup"] == pytest.approx(1.0)
    assert bench.gbps(2e9, 2.0) == 1.0 and bench.tflops(3e12, 1.5) == 2.0
    with pytest.raises(ValueError, match="repeats"):
        bench.time_fn(lambda: None, repeats=0)
    with pytest.raises(ValueError, match="baseline"):
        bench.compare({"a": lambda: None}, baseline="z")


def _rank_sum(x: float) -> float:
    t = torch.tensor([x * (1 + torch.distributed.get_rank())])
    torch.distributed.all_reduce(t)
    return float(t)


def _sharded_scan(A: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    from litlib.scan.distributed import sequence_parallel_scan

    rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    bounds = [0, 7, 30, A.shape[1]][: world + 1] if world == 3 else [0, 25, A.shape[1]]
    lo, hi = bounds[rank], bounds[rank + 1]
    return sequence_parallel_scan(A[:, lo:hi], b[:, lo:hi])


def test_run_local_collectives() -> None:
    assert run_local(_rank_sum, 2, (1.0,)) == [3.0, 3.0]
    with pytest.raises(ValueError, match="world_size"):
        run_local(_rank_sum, 0)


def test_run_local_reports_rank_errors() -> None:
    with pytest.raises(RuntimeError, match="a rank failed"):
        run_local(_rank_sum, 2, ("not a number",))


@pytest.mark.parametrize("world", [2, 3])
def test_sequence_parallel_scan_matches_reference(world: int) -> None:
    g = torch.Generator().manual_seed(world)
    A = torch.rand(2, 50, 4, generator=g, dtype=torch.float64)
    b = torch.randn(2, 50, 4, generator=g, dtype=torch.float64)
    shards = run_local(_sharded_scan, world, (A, b))
    testing.assert_close("sharded scan", torch.cat(shards, dim=1), scan_reference(A, b), rtol=1e-12)
