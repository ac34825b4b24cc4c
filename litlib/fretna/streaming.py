"""Simultaneous translation by re-translation (ReTA), Wait-k and FReTNA, batched across sentences.

Every function takes a list of source sentences and returns one :class:`StreamResult` per sentence: the trace of
displayed outputs ``y^(1) .. y^(|x|)`` and the work it cost (decoder passes, counted per sentence as defined in the
chapter, and encoder passes). Sentences are processed in lock-step, padded to a common length; a batch of one is the
unbatched, per-stream loop whose wall-clock the chapter measures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from litlib.fretna.canvas import (
    apply_deletions,
    canvas_from_lists,
    canvas_to_lists,
    cap_counts,
    fill_placeholders,
    inner_lengths,
    insert_placeholders,
)
from litlib.fretna.data import BOS, EOS, N_SPECIAL, PAD, PLH, pad_batch
from litlib.fretna.models import LevTLite
from litlib.transformer import EncoderDecoder, KVCache


@dataclass
class StreamResult:
    """The outputs one sentence displayed while it was read, and what they cost."""

    trace: list[list[int]] = field(default_factory=list)
    decoder_passes: int = 0
    encoder_passes: int = 0
    extra_iterations: int = 0  # FReTNA: refinement iterations after the source ended

    @property
    def final(self) -> list[int]:
        """The final translation ``y^(|x|)``."""
        return self.trace[-1] if self.trace else []


def default_max_len(n_src: int) -> int:
    """Length cap of an output for ``n_src`` source tokens: ``2 |x| + 10`` (keeps a runaway model finite)."""
    return 2 * n_src + 10


def _check_sources(sources: list[list[int]]) -> None:
    if not isinstance(sources, list) or not sources or any(len(s) == 0 for s in sources):
        raise ValueError("sources must be a non-empty list of non-empty token lists")


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


# ----------------------------------------------------------------------------- AR decoding
@torch.no_grad()
def greedy_batch(
    model: EncoderDecoder, sources: list[list[int]], max_len: list[int], prefix: list[list[int]] | None = None
) -> tuple[list[list[int]], list[int]]:
    """Greedy AR decoding with the toolkit's KV cache; rows stop at ``</s>`` or at ``max_len`` tokens.

    Args:
        model: the encoder-decoder.
        sources: one source (prefix) per row.
        max_len: per-row cap on the generated tokens (a row that reaches it stops without ``</s>``).
        prefix: optional target tokens already written (forced), continued greedily.

    Returns:
        ``(outputs, steps)``: generated tokens (``prefix`` included, ``</s>`` excluded) and the number of decoder
        calls per row that produced a token (the ``</s>`` step included, the forced prefix excluded).
    """
    dev = _device(model)
    src = torch.tensor(pad_batch(sources), device=dev)
    memory, mmask = model.encode(src, src != PAD)
    b = len(sources)
    prefix = prefix or [[] for _ in range(b)]
    # Forced prefixes differ in length across rows, so every row is fed one token per step (forced or chosen).
    cache: KVCache | None = None
    logits, cache = model.decode(torch.full((b, 1), BOS, device=dev), memory, mmask)
    out: list[list[int]] = [[] for _ in range(b)]
    steps = [0] * b
    done = [False] * b
    longest_prefix = max(len(p) for p in prefix)
    pos = 0
    while not all(done):
        last = logits[:, -1]
        last[:, [PAD, BOS, PLH]] = float("-inf")
        choice = last.argmax(-1).tolist()
        token = []
        for r in range(b):
            if pos < len(prefix[r]):
                token.append(prefix[r][pos])
                out[r].append(prefix[r][pos])
            elif done[r]:
                token.append(EOS)
            else:
                steps[r] += 1
                if choice[r] == EOS:
                    done[r] = True
                    token.append(EOS)
                else:
                    out[r].append(choice[r])
                    token.append(choice[r])
                    if len(out[r]) >= max_len[r]:
                        done[r] = True
        pos += 1
        if all(done) and pos >= longest_prefix:
            break
        logits, cache = model.decode(torch.tensor(token, device=dev)[:, None], memory, mmask, cache)
    return out, steps


def stream_reta(model: EncoderDecoder, sources: list[list[int]], mask_k: int = 0) -> list[StreamResult]:
    """Re-translation: after each source token, translate the whole prefix from scratch (greedy, cached).

    Decoder passes per sentence: ``sum_i (|y^(i)| + 1)``, or the cap for a decode that hits it. ``mask_k`` hides
    the last ``k`` tokens of every non-final output (display only).
    """
    _check_sources(sources)
    results = [StreamResult() for _ in sources]
    for i in range(1, max(len(s) for s in sources) + 1):
        rows = [r for r, s in enumerate(sources) if len(s) >= i]
        outs, steps = greedy_batch(model, [sources[r][:i] for r in rows], [default_max_len(i)] * len(rows))
        for r, y, n in zip(rows, outs, steps):
            final = i == len(sources[r])
            results[r].trace.append(y if final or mask_k == 0 else y[: max(len(y) - mask_k, 0)])
            results[r].decoder_passes += n
            results[r].encoder_passes += 1
    return results


@torch.no_grad()
def stream_wait_k(model: EncoderDecoder, sources: list[list[int]], k: int) -> list[StreamResult]:
    """Wait-k with the (bidirectional, prefix-trained) AR model: read ``k`` tokens, then write one token per read;
    once the source has ended, finish greedily. ``</s>`` is forbidden before the source ends. Each written token is
    one decoder call over the written prefix (recomputed, since the encoder states change with every read)."""
    _check_sources(sources)
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int; got {k!r}")
    dev = _device(model)
    results = [StreamResult() for _ in sources]
    written: list[list[int]] = [[] for _ in sources]
    for i in range(1, max(len(s) for s in sources) + 1):
        reading = [r for r, s in enumerate(sources) if len(s) > i]
        ending = [r for r, s in enumerate(sources) if len(s) == i]
        for r in reading + ending:
            results[r].encoder_passes += 1
        writers = [r for r in reading if i >= k]
        if writers:
            src = torch.tensor(pad_batch([sources[r][:i] for r in writers]), device=dev)
            memory, mmask = model.encode(src, src != PAD)
            tgt = torch.tensor(pad_batch([[BOS, *written[r]] for r in writers]), device=dev)
            logits, _ = model.decode(tgt, memory, mmask)
            last = logits[torch.arange(len(writers)), torch.tensor([len(written[r]) for r in writers])]
            last[:, :N_SPECIAL] = float("-inf")
            for r, t in zip(writers, last.argmax(-1).tolist()):
                written[r].append(t)
                results[r].decoder_passes += 1
        if ending:
            outs, steps = greedy_batch(
                model,
                [sources[r] for r in ending],
                [max(default_max_len(i), len(written[r]) + 1) for r in ending],
                prefix=[written[r] for r in ending],
            )
            for r, y, n in zip(ending, outs, steps):
                written[r] = y
                results[r].decoder_passes += n
        for r, s in enumerate(sources):
            if len(s) >= i:
                results[r].trace.append(list(written[r]))
    return results


# ----------------------------------------------------------------------------- edit model
@dataclass
class IterationOutcome:
    """One refinement iteration of a batch of canvases."""

    canvas: torch.Tensor
    passes: torch.Tensor  # (B,) decoder passes this iteration (skipped passes not counted)
    changed: torch.Tensor  # (B,) bool


@torch.no_grad()
def refine(
    model: LevTLite,
    canvas: torch.Tensor,
    memory: torch.Tensor,
    memory_mask: torch.Tensor,
    max_len: torch.Tensor,
    use_offset: bool = True,
) -> IterationOutcome:
    """One LevT iteration: delete (arg-max) -> placeholders (arg-max, capped) -> fill (arg-max).

    The deletion pass is skipped (not counted) on an empty canvas, the token pass when no placeholder was opened.
    """
    b = canvas.shape[0]
    offset = torch.full((b,), use_offset, dtype=torch.bool, device=canvas.device)
    start = canvas
    n = inner_lengths(canvas)
    passes = torch.zeros(b, dtype=torch.long, device=canvas.device)
    if bool((n > 0).any()):
        out = model(canvas, memory, memory_mask, offset)
        delete = (out.delete.argmax(-1) == 1) & (n > 0)[:, None]
        canvas = apply_deletions(canvas, delete)
        passes += (n > 0).long()
    out = model(canvas, memory, memory_mask, offset)
    counts = cap_counts(canvas, out.placeholders.argmax(-1), max_len)
    canvas = insert_placeholders(canvas, counts)
    passes += 1
    opened = (canvas == PLH).any(1)
    if bool(opened.any()):
        out = model(canvas, memory, memory_mask, offset)
        canvas = fill_placeholders(canvas, out.tokens, N_SPECIAL)
        passes += opened.long()
    width = max(start.shape[1], canvas.shape[1])
    a = torch.nn.functional.pad(start, (0, width - start.shape[1]), value=PAD)
    c = torch.nn.functional.pad(canvas, (0, width - canvas.shape[1]), value=PAD)
    return IterationOutcome(canvas, passes, (a != c).any(1))


def stream_fretna(
    model: LevTLite, sources: list[list[int]], max_extra: int = 3, use_offset: bool = True
) -> list[StreamResult]:
    """FReTNA: after each source token, edit the previous output with one LevT iteration conditioned on the prefix;
    when the source has ended, iterate until the canvas is unchanged (at most ``max_extra`` extra iterations).

    Decoder passes per sentence are at most ``3 (|x| + m)``, ``m`` the extra iterations run.
    """
    _check_sources(sources)
    if not isinstance(max_extra, int) or max_extra < 0:
        raise ValueError(f"max_extra must be an int >= 0; got {max_extra!r}")
    dev = _device(model)
    results = [StreamResult() for _ in sources]
    canvases: list[list[int]] = [[] for _ in sources]
    still_extra = [True] * len(sources)
    for t in range(1, max(len(s) for s in sources) + max_extra + 1):
        reading = [r for r, s in enumerate(sources) if len(s) >= t]
        extra = [r for r, s in enumerate(sources) if len(s) < t <= len(s) + max_extra and still_extra[r]]
        rows = reading + extra
        if not rows:
            break
        src = torch.tensor(pad_batch([sources[r][: min(t, len(sources[r]))] for r in rows]), device=dev)
        memory, mmask = model.encode(src)
        max_len = torch.tensor([default_max_len(min(t, len(sources[r]))) for r in rows], device=dev)
        step = refine(
            model, canvas_from_lists([canvases[r] for r in rows], dev), memory, mmask, max_len, use_offset
        )
        new = canvas_to_lists(step.canvas)
        for k, r in enumerate(rows):
            canvases[r] = new[k]
            results[r].decoder_passes += int(step.passes[k])
            if r in reading:
                results[r].encoder_passes += 1
                results[r].trace.append(list(new[k]))
            else:
                results[r].extra_iterations += 1
                results[r].trace[-1] = list(new[k])
                still_extra[r] = bool(step.changed[k])
        for r in reading:
            if len(sources[r]) == t and max_extra == 0:
                still_extra[r] = False
    return results


@torch.no_grad()
def offline_levt(
    model: LevTLite, sources: list[list[int]], max_iterations: int = 10, use_offset: bool = True
) -> list[list[int]]:
    """Offline LevT decoding on full sentences: iterate from the empty canvas until nothing changes."""
    _check_sources(sources)
    dev = _device(model)
    src = torch.tensor(pad_batch(sources), device=dev)
    memory, mmask = model.encode(src)
    canvas = canvas_from_lists([[] for _ in sources], dev)
    max_len = torch.tensor([default_max_len(len(s)) for s in sources], device=dev)
    for _ in range(max_iterations):
        step = refine(model, canvas, memory, mmask, max_len, use_offset)
        canvas = step.canvas
        if not bool(step.changed.any()):
            break
    return canvas_to_lists(canvas)


def offline_ar(model: EncoderDecoder, sources: list[list[int]]) -> list[list[int]]:
    """Offline greedy AR translation of full sentences."""
    _check_sources(sources)
    return greedy_batch(model, sources, [default_max_len(len(s)) for s in sources])[0]
