"""ParaRNN: Newton solver vs the sequential loop, hand-derived Jacobians vs jacrev, adjoint gradients vs autograd."""

from __future__ import annotations

import pytest
import torch

from litlib.pararnn import (
    DiagonalLinearRNN,
    NewtonTrace,
    ParaGRUCell,
    ParaLSTMCell,
    ParaRNN,
    ParaRNNLM,
    newton_solve,
    rnn_sequential,
)
from litlib.scan import scan_reference
from litlib.testing import assert_close, nan_like

CELLS = {"gru": ParaGRUCell, "lstm": ParaLSTMCell}


def _cell(kind: str, d_in: int = 6, d: int = 8, seed: int = 0) -> ParaGRUCell | ParaLSTMCell:
    torch.manual_seed(seed)
    return CELLS[kind](d_in, d).double()


def _per_step_error(ref: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    dims = [i for i in range(ref.dim()) if i != 1]
    return (ref - h).abs().amax(dim=dims)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_jacobian_matches_jacrev(kind: str) -> None:
    cell = _cell(kind)
    g = torch.Generator().manual_seed(1)
    h = torch.randn(5, *cell.state_shape, generator=g, dtype=torch.float64)
    u = torch.randn(5, 3, cell.d, generator=g, dtype=torch.float64)
    J = torch.func.vmap(torch.func.jacrev(cell.step))(h, u)  # (5, *state, *state)
    A = cell.jacobian(h, u)
    if kind == "gru":
        expected = torch.diagonal(J, dim1=-2, dim2=-1)
    else:  # J[n, i, a, j, b] = d s_out[i, a] / d s_in[j, b]; blocks are diagonal in the channel (i == j)
        expected = torch.stack(
            [
                torch.stack([torch.diagonal(J[:, :, a, :, b], dim1=1, dim2=2) for b in range(2)], -1)
                for a in range(2)
            ],
            -2,
        )
        off_diag = J.clone()
        for i in range(cell.d):
            off_diag[:, i, :, i, :] = 0
        assert off_diag.abs().max() == 0, "state Jacobian must not couple channels"
    assert_close(f"{kind} Jacobian", A, expected, rtol=1e-13)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
@pytest.mark.parametrize("L", [1, 63, 300])
def test_newton_matches_sequential_loop(kind: str, L: int) -> None:
    cell = _cell(kind, seed=L)
    x = torch.randn(3, L, cell.d_in, dtype=torch.float64)
    u = cell.project(x)
    ref = rnn_sequential(cell, u)
    assert_close("K=8", newton_solve(cell, u, 8), ref, rtol=1e-12)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_first_k_plus_1_states_exact_after_k_iterations(kind: str) -> None:
    cell = _cell(kind, seed=5)
    u = cell.project(torch.randn(2, 40, cell.d_in, dtype=torch.float64) * 2)
    ref = rnn_sequential(cell, u)
    trace = NewtonTrace()
    newton_solve(cell, u, 6, trace=trace)
    for k, h in enumerate(trace.iterates):
        err = _per_step_error(ref, h)
        assert err[: k + 1].max() <= 1e-13, f"k={k}: the first {k + 1} states are not exact"


def test_quadratic_convergence_of_residual() -> None:
    cell = _cell("gru", d_in=8, d=16, seed=2)
    u = cell.project(torch.randn(4, 256, 8, dtype=torch.float64))
    trace = NewtonTrace()
    newton_solve(cell, u, 4, trace=trace)
    r = trace.residual_max
    assert r[3] < 1e-6 and r[4] < 1e-12
    # super-linear: each ratio much smaller than the previous one
    ratios = [r[k + 1] / r[k] for k in range(3)]
    assert ratios[1] < 0.2 * ratios[0] and ratios[2] < 0.2 * ratios[1]


def test_linear_cell_is_exact_after_one_newton_step() -> None:
    """For f affine in h, the Newton step is the exact linear recurrence."""

    class LinearCell(ParaGRUCell):
        def step(self, h_prev: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
            return torch.tanh(u[..., 0, :]) * h_prev + u[..., 1, :]

        def jacobian(self, h_prev: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
            return torch.tanh(u[..., 0, :]).expand_as(h_prev).clone()

    cell = LinearCell(4, 6).double()
    u = cell.project(torch.randn(2, 50, 4, dtype=torch.float64))
    expected = scan_reference(torch.tanh(u[..., 0, :]), u[..., 1, :])
    assert_close("one step", newton_solve(cell, u, 1), expected, rtol=1e-12)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
@pytest.mark.parametrize("mode", ["parallel", "triton"])
def test_adjoint_gradients_match_autograd_through_loop(kind: str, mode: str) -> None:
    torch.manual_seed(7)
    L = 40 if mode == "triton" else 120
    layer = ParaRNN(6, 8, cell=kind, mode="sequential", newton_iters=8).double()
    x = torch.randn(2, L, 6, dtype=torch.float64)
    w = torch.randn(2, L, 8, dtype=torch.float64)

    def grads(m: str) -> list[torch.Tensor]:
        layer.mode = m
        layer.zero_grad()
        xr = x.clone().requires_grad_()
        (layer(xr) * w).sum().backward()
        return [xr.grad, *(p.grad for p in layer.parameters())]

    ref, par = grads("sequential"), grads(mode)
    tol = 1e-10 if mode == "parallel" else 1e-5  # the Triton scan computes in float32
    for i, (g_ref, g) in enumerate(zip(ref, par)):
        assert_close(f"{kind}/{mode} grad {i}", g, g_ref, rtol=tol)


def test_lm_modes_agree_and_train() -> None:
    torch.manual_seed(0)
    lm = ParaRNNLM(vocab=11, d_model=8, layers=2, mode="parallel", newton_iters=6).double()
    tokens = torch.randint(0, 11, (3, 30))
    par = lm(tokens)
    lm.set_mode("sequential")
    assert_close("lm logits", par, lm(tokens), rtol=1e-10)
    lm.set_mode("parallel")
    opt = torch.optim.Adam(lm.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(
            lm(tokens[:, :-1]).reshape(-1, 11), tokens[:, 1:].reshape(-1)
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_diagonal_linear_rnn_is_one_scan() -> None:
    torch.manual_seed(0)
    rnn = DiagonalLinearRNN(3, 5).double()
    x = torch.randn(2, 33, 3, dtype=torch.float64)
    h = rnn(x)
    state = torch.zeros(2, 5, dtype=torch.float64)
    for t in range(33):
        state = torch.sigmoid(rnn.decay(x[:, t])) * state + rnn.inp(x[:, t])
        assert torch.allclose(h[:, t], state, atol=1e-12)


def test_float32_error_grows_like_eps_times_length() -> None:
    torch.manual_seed(3)
    cell = ParaGRUCell(8, 16)
    u = cell.project(torch.randn(2, 1024, 8))
    err = float((newton_solve(cell, u, 4) - rnn_sequential(cell.double(), u.double()).float()).abs().max())
    assert err < 10 * torch.finfo(torch.float32).eps * 1024


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="cell must be one of"):
        ParaRNN(4, 4, cell="rnn")
    with pytest.raises(ValueError, match="heads=3 must divide"):
        ParaRNN(4, 4, heads=3)
    with pytest.raises(ValueError, match="mode must be one of"):
        ParaRNN(4, 4, mode="cuda")
    with pytest.raises(ValueError, match="newton_iters"):
        ParaRNN(4, 4, newton_iters=-1)
    with pytest.raises(ValueError, match="omega"):
        ParaRNN(4, 4, omega=2.5)
    layer = ParaRNN(4, 4)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, length, 4\)"):
        layer(torch.randn(2, 5, 3))
    with pytest.raises(TypeError, match="floating-point"):
        layer(torch.ones(2, 5, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="tokens must be"):
        ParaRNNLM(5, 4)(torch.randn(2, 3))


def test_divergence_is_reported() -> None:
    cell = ParaGRUCell(2, 2).double()
    with torch.no_grad():
        cell.a.fill_(1e6)
    u = cell.project(torch.randn(1, 64, 2, dtype=torch.float64) * 1e3)
    u[0, 3, 0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="diverged"):
        newton_solve(cell, u, 3)


@pytest.mark.kernel
@pytest.mark.parametrize("L", [1, 63, 100])
def test_fused_kernel_forward_matches_loop(L: int, device: torch.device) -> None:
    from litlib.pararnn.triton import paragru_newton_fused

    torch.manual_seed(L)
    cell = ParaGRUCell(4, 12).requires_grad_(False)
    u = cell.project(torch.randn(2, L, 4)).to(device)
    exact = rnn_sequential(cell.double(), u.double().cpu())
    cell.float()
    # tiles of 16 steps: 15 iterations are exact within a tile (finite termination), 3 are float32-accurate here
    for iters in (3, 15):
        h = paragru_newton_fused(u, cell.a.to(device), iters, block_l=16, out=nan_like(u[:, :, 0]))
        assert_close(f"fused K={iters} L={L}", h.double().cpu(), exact, rtol=1e-5)
    single_tile = paragru_newton_fused(u, cell.a.to(device), 3, block_l=128)
    if L <= 128:  # one tile: the kernel runs exactly the global Newton iteration
        assert_close("fused = newton_solve", single_tile.cpu(), newton_solve(cell, u.cpu(), 3), rtol=1e-5)


@pytest.mark.kernel
def test_fused_mode_gradients_match_loop(device: torch.device) -> None:
    torch.manual_seed(0)
    layer = ParaRNN(4, 8, cell="gru", mode="sequential", newton_iters=8).to(device)
    x = torch.randn(2, 40, 4, device=device)
    w = torch.randn(2, 40, 8, device=device)

    def grads(mode: str) -> list[torch.Tensor]:
        layer.mode = mode
        layer.zero_grad()
        xr = x.clone().requires_grad_()
        (layer(xr) * w).sum().backward()
        return [xr.grad, *(p.grad for p in layer.parameters())]

    for i, (g_ref, g) in enumerate(zip(grads("sequential"), grads("fused"))):
        assert_close(f"fused grad {i}", g, g_ref, rtol=1e-4)


def test_fused_mode_rejects_lstm() -> None:
    with pytest.raises(ValueError, match="fused"):
        ParaRNN(4, 4, cell="lstm", mode="fused")
