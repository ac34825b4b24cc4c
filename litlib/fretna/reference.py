"""Plain references: the insertion/deletion edit oracle as a NumPy dynamic programme, brute-force LCS, and the
closed-form decoder-pass counts of the chapter. Everything here is written for clarity, not speed; the vectorised
versions in :mod:`litlib.fretna.oracle` are tested against it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# The back-trace's deterministic tie-break, shared by every oracle implementation:
# equal tokens are always matched; otherwise delete from the canvas before inserting from the reference.
KEEP, DELETE, INSERT = 0, 1, 2


@dataclass(frozen=True)
class EditTargets:
    """LevT's three training targets for turning canvas ``a`` into reference ``b`` (specials excluded).

    Attributes:
        delete: ``delete[i]`` is True when ``a[i]`` is not on the kept common subsequence.
        placeholders: number of tokens to insert in each slot; ``len == #kept + 1`` (slot ``k`` lies between kept
            token ``k-1`` and kept token ``k``, counting ``<s>`` and ``</s>`` as the outer ends).
        inserted: ``inserted[j]`` is True when ``b[j]`` is inserted (a token target), False when it is kept.
        ops: the edit script, a list of ``KEEP``/``DELETE``/``INSERT``.
    """

    delete: np.ndarray
    placeholders: np.ndarray
    inserted: np.ndarray
    ops: tuple[int, ...]

    @property
    def distance(self) -> int:
        """Number of insertions plus deletions."""
        return int(self.delete.sum() + self.inserted.sum())


def lcs_table(a: list[int], b: list[int]) -> np.ndarray:
    """Suffix LCS table ``L[i, j] = LCS(a[i:], b[j:])``, shape ``(|a|+1, |b|+1)``, by the O(|a||b|) recursion.

    ``L[i, j] = 1 + L[i+1, j+1]`` if ``a[i] == b[j]``, else ``max(L[i+1, j], L[i, j+1])``; zero on the far edges.
    """
    n, m = len(a), len(b)
    L = np.zeros((n + 1, m + 1), dtype=np.int64)
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            L[i, j] = L[i + 1, j + 1] + 1 if a[i] == b[j] else max(L[i + 1, j], L[i, j + 1])
    return L


def edit_oracle(a: list[int], b: list[int]) -> EditTargets:
    """Minimal insertion/deletion script from ``a`` to ``b`` and the LevT targets it defines (NumPy reference).

    Back-trace from ``(0, 0)``: match equal tokens; otherwise delete ``a[i]`` when that keeps the LCS optimal
    (``L[i+1, j] >= L[i, j+1]``), else insert ``b[j]``.
    """
    L = lcs_table(a, b)
    n, m = len(a), len(b)
    i = j = 0
    ops: list[int] = []
    delete = np.zeros(n, dtype=bool)
    inserted = np.zeros(m, dtype=bool)
    plh = [0]
    while i < n or j < m:
        if i < n and j < m and a[i] == b[j]:
            ops.append(KEEP)
            plh.append(0)
            i, j = i + 1, j + 1
        elif i < n and (j == m or L[i + 1, j] >= L[i, j + 1]):
            ops.append(DELETE)
            delete[i] = True
            i += 1
        else:
            ops.append(INSERT)
            inserted[j] = True
            plh[-1] += 1
            j += 1
    return EditTargets(delete, np.array(plh, dtype=np.int64), inserted, tuple(ops))


def apply_edits(a: list[int], targets: EditTargets, fill: list[int]) -> list[int]:
    """Delete the labelled tokens of ``a``, open the placeholders, and fill them with ``fill`` in order."""
    kept = [t for t, d in zip(a, targets.delete) if not d]
    if len(targets.placeholders) != len(kept) + 1:
        raise ValueError("targets do not match the canvas: need #slots == #kept + 1")
    out: list[int] = []
    it = iter(fill)
    for k, count in enumerate(targets.placeholders):
        out += [next(it) for _ in range(int(count))]
        if k < len(kept):
            out.append(kept[k])
    return out


def lcs_brute_force(a: list[int], b: list[int]) -> int:
    """Length of the longest common subsequence by enumerating subsequences of the shorter sequence (tiny inputs)."""
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) > 12:
        raise ValueError("lcs_brute_force is exponential: use sequences of length <= 12")

    def is_subsequence(sub: tuple[int, ...]) -> bool:
        it = iter(long_)
        return all(any(t == s for t in it) for s in sub)

    for size in range(len(short), 0, -1):
        if any(is_subsequence(c) for c in itertools.combinations(short, size)):
            return size
    return 0


def indel_distance_brute_force(a: list[int], b: list[int]) -> int:
    """The insertion/deletion distance ``|a| + |b| - 2 LCS(a, b)`` from the brute-force LCS."""
    return len(a) + len(b) - 2 * lcs_brute_force(a, b)


def levenshtein_sub2(a: list[int], b: list[int]) -> int:
    """Levenshtein distance with unit insert/delete and substitution cost 2 (fairseq's oracle's metric)."""
    D = np.zeros((len(a) + 1, len(b) + 1), dtype=np.int64)
    D[:, 0] = np.arange(len(a) + 1)
    D[0, :] = np.arange(len(b) + 1)
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            sub = 0 if a[i - 1] == b[j - 1] else 2
            D[i, j] = min(D[i - 1, j] + 1, D[i, j - 1] + 1, D[i - 1, j - 1] + sub)
    return int(D[-1, -1])


def reta_passes_formula(output_lengths: Sequence[int], max_len: int | Sequence[int] | None = None) -> int:
    """Greedy re-translation decoder steps ``sum_i (|y^(i)| + 1)``; a decode that hits its cap counts the cap.

    The ``+1`` is the step that emits ``</s>``. ``max_len`` is one cap for every prefix, or one cap per prefix.

    Raises:
        ValueError: if a list of caps does not have one entry per output.
    """
    caps: Sequence[int | None]
    if max_len is None or isinstance(max_len, int):
        caps = [max_len] * len(output_lengths)
    else:
        caps = list(max_len)
        if len(caps) != len(output_lengths):
            raise ValueError(f"max_len must have one cap per output ({len(output_lengths)}); got {len(caps)}")
    total = 0
    for n, cap in zip(output_lengths, caps):
        total += cap if cap is not None and n >= cap else n + 1
    return total


def reta_passes_ideal(n_src: int, n_tgt: int) -> int:
    """ReTA passes for a model that outputs exactly the proportional prefixes: ``sum_i (ceil(i|y|/|x|) + 1)``."""
    return sum(-(-i * n_tgt // n_src) + 1 for i in range(1, n_src + 1))


def fretna_passes_bound(n_src: int, extra_iterations: int) -> int:
    """FReTNA's bound ``3 (|x| + m)`` decoder passes: at most three per refinement iteration."""
    return 3 * (n_src + extra_iterations)


def compute_ratio_estimate(n_src: int, gamma: float, beam: int = 1, extra_iterations: int = 0) -> float:
    """The leading-order ratio ``W_AR / W_NA ~ b gamma |x|^2 / 2 / (3 (|x| + m))``."""
    return beam * gamma * n_src**2 / 2 / (3 * (n_src + extra_iterations))
