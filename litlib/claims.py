"""Claim checks: every quantitative claim a chapter reproduces is checked on this run's numbers.

A chapter calls :func:`start_chapter` in its setup cell, :func:`claim` after each reproduced claim and
:func:`finish_chapter` in its last cell. A failing claim raises :class:`ClaimError` with both values, which fails the
book build. When ``LITLIB_CLAIMS_DIR`` is set (the book build sets it), each chapter's record (claims, run time,
scale, device and versions) is written there as JSON; the Status page of the book is generated from those files.

A claim that does not hold at our scale is never silenced: :func:`not_reproduced` records it as such, with the reason,
so that it appears on the Status page next to the paper's value.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from litlib.runtime import describe

CLAIMS_DIR_ENV = "LITLIB_CLAIMS_DIR"
#: Wall-clock budget of one chapter at each scale on two CPU cores (``None``: no budget).
DEFAULT_BUDGETS: dict[str, float | None] = {"smoke": 20.0, "cpu": 90.0, "gpu": None}

_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": lambda m, e: m <= e,
    "<": lambda m, e: m < e,
    ">=": lambda m, e: m >= e,
    ">": lambda m, e: m > e,
    "==": lambda m, e: m == e,
}


class ClaimError(AssertionError):
    """A reproduced claim failed its check on this run's numbers."""


@dataclass
class ClaimRecord:
    """One checked claim as shown on the Status page."""

    statement: str
    measured: str
    expected: str
    check: str
    paper: str
    status: str  # "pass", "fail" or "not reproduced"
    note: str = ""


@dataclass
class ChapterRecord:
    """What one execution of a chapter recorded."""

    slug: str
    started: float
    info: dict[str, str]
    claims: list[ClaimRecord] = field(default_factory=list)
    seconds: float | None = None
    notes: list[str] = field(default_factory=list)
    budget: float | None = None
    budget_exception: str = ""


_current: ChapterRecord | None = None


def _fmt(value: Any) -> str:
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # NumPy / torch scalars
        value = value.item()
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)) and all(isinstance(v, float) for v in value):
        return "[" + ", ".join(f"{v:.3g}" for v in value) + "]"
    return str(value)


def _write(record: ChapterRecord) -> None:
    out = os.environ.get(CLAIMS_DIR_ENV)
    if not out:
        return
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    (path / f"{record.slug}.json").write_text(json.dumps(asdict(record), indent=1))


def start_chapter(slug: str, *, cpu_budget: float | None = None, why: str = "") -> dict[str, str]:
    """Begin recording the chapter ``slug``; returns :func:`litlib.runtime.describe` for the setup cell to show.

    Args:
        slug: the chapter's name (file stem).
        cpu_budget: a budget exception at ``cpu`` scale in seconds (default: the project's 90 s); shown, with
            ``why``, on the Status page.
        why: the reason for the exception (required with ``cpu_budget``).

    Raises:
        ValueError: on a malformed slug, or a ``cpu_budget`` without a reason.
    """
    global _current
    if not slug or not slug.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"slug must be a non-empty name of letters, digits, '-' or '_'; got {slug!r}")
    if cpu_budget is not None and not why.strip():
        raise ValueError("a cpu_budget exception needs a reason (why=...)")
    info = describe()
    budget = DEFAULT_BUDGETS[info["scale"]]
    if cpu_budget is not None and info["scale"] == "cpu":
        budget = cpu_budget
    _current = ChapterRecord(
        slug=slug,
        started=time.perf_counter(),
        info=info,
        budget=budget,
        budget_exception=f"{cpu_budget:.0f} s at cpu scale: {why}" if cpu_budget is not None else "",
    )
    _write(_current)
    return info


def _record(rec: ClaimRecord) -> None:
    if _current is not None:
        _current.claims.append(rec)
        _write(_current)


def claim(
    statement: str,
    measured: Any,
    expected: Any,
    check: str | Callable[[Any, Any], bool] = "<=",
    *,
    paper: str = "",
    rtol: float = 1e-9,
) -> Any:
    """Check ``measured`` against ``expected``; record the result; raise :class:`ClaimError` if it fails.

    Args:
        statement: the claim in words, e.g. ``"Newton reaches float64 round-off in 5 iterations"``.
        measured: this run's number (or any comparable value).
        expected: the threshold or value the claim promises at this scale.
        check: one of ``"<=", "<", ">=", ">", "==", "close"`` (``close`` uses ``rtol``), ``"in"`` (``expected``
            is a closed interval ``(low, high)``) or a callable ``check(measured, expected) -> bool``.
        paper: the paper's own figure for the claim, shown beside ours on the Status page.
        rtol: relative tolerance for ``check="close"``.

    Returns:
        ``measured``, so a claim can be written inline.

    Raises:
        ValueError: if ``check`` is an unknown operator name.
        ClaimError: if the check fails, or ``measured`` is NaN.
    """
    if isinstance(check, str):
        if check == "close":
            op: Callable[[Any, Any], bool] = lambda m, e: math.isclose(float(m), float(e), rel_tol=rtol)  # noqa: E731
        elif check == "in":
            if not (isinstance(expected, (tuple, list)) and len(expected) == 2):
                raise ValueError(f"check 'in' needs expected=(low, high); got {expected!r}")
            op = lambda m, e: e[0] <= m <= e[1]  # noqa: E731
        elif check in _OPERATORS:
            op = _OPERATORS[check]
        else:
            raise ValueError(
                f"check must be one of {[*_OPERATORS, 'close', 'in']} or a callable; got {check!r}"
            )
        check_name = check
    else:
        name = getattr(check, "__name__", "custom")
        op, check_name = check, ("custom" if name == "<lambda>" else name)
    is_nan = isinstance(measured, float) and math.isnan(measured)
    ok = (not is_nan) and bool(op(measured, expected))
    rec = ClaimRecord(
        statement=statement,
        measured=_fmt(measured),
        expected=_fmt(expected),
        check=check_name,
        paper=paper,
        status="pass" if ok else "fail",
    )
    _record(rec)
    mark = "PASS" if ok else "FAIL"
    print(f"[claim {mark}] {statement}: measured {rec.measured} {check_name} {rec.expected}")
    if not ok:
        raise ClaimError(
            f"claim failed: {statement!r}: measured {rec.measured}, expected {check_name} {rec.expected}"
        )
    return measured


def not_reproduced(statement: str, measured: Any, *, paper: str, reason: str) -> None:
    """Record a paper claim that does not hold at this scale, with the reason (shown on the Status page)."""
    if not reason.strip():
        raise ValueError("reason must explain why the claim does not reproduce at this scale")
    _record(
        ClaimRecord(
            statement=statement,
            measured=_fmt(measured),
            expected="",
            check="",
            paper=paper,
            status="not reproduced",
            note=reason,
        )
    )
    print(f"[claim NOT REPRODUCED] {statement}: measured {_fmt(measured)} (paper: {paper}). {reason}")


def note(text: str) -> None:
    """Attach a free-text note (e.g. a benchmark's hardware) to the chapter's Status entry."""
    if _current is not None:
        _current.notes.append(text)
        _write(_current)


def finish_chapter() -> float:
    """Stop the chapter clock, write the record, and return the elapsed seconds."""
    if _current is None:
        raise RuntimeError("finish_chapter() called before start_chapter()")
    _current.seconds = time.perf_counter() - _current.started
    _write(_current)
    budget = _current.budget
    verdict = (
        "" if budget is None else f" (budget {budget:.0f} s{'' if _current.seconds <= budget else ': OVER'})"
    )
    print(f"chapter {_current.slug}: {_current.seconds:.1f} s at scale {_current.info['scale']}{verdict}")
    return _current.seconds


def load_records(directory: str | Path) -> list[dict[str, Any]]:
    """Read every chapter record written to ``directory`` (sorted by slug)."""
    path = Path(directory)
    if not path.is_dir():
        return []
    return [json.loads(p.read_text()) for p in sorted(path.glob("*.json"))]
