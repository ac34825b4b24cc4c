"""The synthetic reordering "language" of the chapter, and the prefix pairs re-translation is trained on.

Source sentences are strings of ``n_words`` source words. The target is the word-by-word translation under a fixed
bijective lexicon, with each consecutive window of three source words reversed (a shorter last window is reversed
too) and a target-only function word written after every window. So ``|y| = |x| + ceil(|x| / 3)``, and a source
word can be translated only once the whole window it belongs to has been read: new source words sometimes force
revisions of what a re-translation system has already shown.

All tokens live in one vocabulary::

    0 <pad>   1 <s>   2 </s>   3 <plh>   4 .. 4+V-1 source words   4+V .. 4+2V-1 target words   4+2V function word
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

PAD, BOS, EOS, PLH = 0, 1, 2, 3
N_SPECIAL = 4


def _check_int(name: str, value: object, low: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int; got {type(value).__name__}")
    if int(value) < low:
        raise ValueError(f"{name} must be >= {low}; got {value}")
    return int(value)


@dataclass(frozen=True)
class ReorderingLanguage:
    """A deterministic toy translation task with local reordering.

    Args:
        n_words: size ``V`` of the source (and target) word vocabulary.
        min_len: shortest source sentence.
        max_len: longest source sentence.
        window: reordering window (3 in the chapter): each window of source words is written reversed.
        seed: seed of the random lexicon (a permutation of the ``V`` target words).

    Example:
        >>> lang = ReorderingLanguage(n_words=5, seed=0)
        >>> x = [lang.source_word(i) for i in range(4)]
        >>> len(lang.translate(x))  # 4 words + 2 function words (windows of 3 and 1)
        6
    """

    n_words: int = 30
    min_len: int = 6
    max_len: int = 18
    window: int = 3
    seed: int = 0
    lexicon: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        _check_int("n_words", self.n_words, 1)
        _check_int("min_len", self.min_len, 1)
        _check_int("max_len", self.max_len, self.min_len)
        _check_int("window", self.window, 1)
        _check_int("seed", self.seed, 0)
        perm = np.random.default_rng(self.seed).permutation(self.n_words)
        object.__setattr__(self, "lexicon", tuple(int(p) for p in perm))

    @property
    def vocab_size(self) -> int:
        """Number of token ids (specials + source words + target words + function word)."""
        return N_SPECIAL + 2 * self.n_words + 1

    @property
    def function_word(self) -> int:
        """The target-only token written after every window."""
        return N_SPECIAL + 2 * self.n_words

    def source_word(self, k: int) -> int:
        """Token id of source word ``k`` in ``0..V-1``."""
        if not 0 <= k < self.n_words:
            raise ValueError(f"k must be in [0, {self.n_words}); got {k}")
        return N_SPECIAL + k

    def is_source(self, token: int) -> bool:
        """Whether ``token`` is a source word."""
        return N_SPECIAL <= token < N_SPECIAL + self.n_words

    def target_length(self, n_src: int) -> int:
        """``|y| = |x| + ceil(|x| / window)``."""
        return n_src + math.ceil(n_src / self.window)

    def translate(self, src: list[int]) -> list[int]:
        """The reference translation of a full source sentence (no ``<s>``/``</s>``).

        Raises:
            ValueError: if a token of ``src`` is not a source word.
        """
        bad = [t for t in src if not self.is_source(int(t))]
        if bad:
            raise ValueError(f"src must contain source-word ids only; got {bad[:3]}")
        out: list[int] = []
        for start in range(0, len(src), self.window):
            block = src[start : start + self.window]
            out += [N_SPECIAL + self.n_words + self.lexicon[int(t) - N_SPECIAL] for t in reversed(block)]
            out.append(self.function_word)
        return out

    def sample(
        self, n: int, rng: np.random.Generator, length: int | None = None
    ) -> list[tuple[list[int], list[int]]]:
        """``n`` random sentence pairs (lengths uniform in ``[min_len, max_len]`` unless ``length`` is given)."""
        _check_int("n", n, 0)
        if length is not None:
            _check_int("length", length, 1)
        pairs = []
        for _ in range(n):
            size = length if length is not None else int(rng.integers(self.min_len, self.max_len + 1))
            src = [int(t) for t in N_SPECIAL + rng.integers(0, self.n_words, size)]
            pairs.append((src, self.translate(src)))
        return pairs


def prefix_target_length(i: int, n_src: int, n_tgt: int) -> int:
    """Length ``ceil(i |y| / |x|)`` of the proportional target prefix for the source prefix ``x_{<=i}``.

    This is Arivazhagan et al.'s prefix augmentation: the target for a source prefix is the reference prefix of
    proportional length, which generally contains *guesses* for source words not yet read.
    """
    if not 1 <= i <= n_src:
        raise ValueError(f"i must be in [1, n_src={n_src}]; got {i}")
    return -(-i * n_tgt // n_src)


def prefix_pair(src: list[int], tgt: list[int], i: int) -> tuple[list[int], list[int]]:
    """The training pair ``(x_{<=i}, y*_{<= ceil(i |y*| / |x|)})``."""
    return src[:i], tgt[: prefix_target_length(i, len(src), len(tgt))]


def pad_batch(seqs: list[list[int]], bos_eos: bool = False, length: int | None = None) -> np.ndarray:
    """Stack token lists into a ``(B, T)`` int64 array padded with ``<pad>``, optionally wrapped in ``<s> .. </s>``."""
    rows = [[BOS, *s, EOS] if bos_eos else list(s) for s in seqs]
    width = max([len(r) for r in rows] + [1]) if length is None else length
    if any(len(r) > width for r in rows):
        raise ValueError(f"length={length} is shorter than the longest sequence")
    out = np.full((len(rows), width), PAD, dtype=np.int64)
    for k, r in enumerate(rows):
        out[k, : len(r)] = r
    return out


def strip_special(row: np.ndarray | list[int]) -> list[int]:
    """Tokens of one padded row without ``<pad>``, ``<s>``, ``</s>`` (and stopping at the first ``</s>``)."""
    out: list[int] = []
    for t in (int(v) for v in row):
        if t == EOS:
            break
        if t not in (PAD, BOS):
            out.append(t)
    return out
