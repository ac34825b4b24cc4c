"""Training data and training steps: the AR translator (prefix + full pairs) and the LevT-lite edit model.

The edit model's recipe is our reconstruction (the paper's is not available to us), combining LevT's imitation
learning with re-translation's prefix training:

* examples: full pairs and proportional prefix pairs, 50/50;
* insertion roll-in: the reference with random tokens deleted, or the reference prefix for a shorter source prefix;
  targets from the edit oracle;
* deletion roll-in: half the model's own token-insertion output on the masked canvas (computed in the same step,
  without gradient), half *guess* canvases (the prefix for the previous source prefix with a few last tokens replaced
  by random target words), targets from the oracle against the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from litlib.fretna.canvas import canvas_from_lists
from litlib.fretna.data import (
    BOS,
    EOS,
    N_SPECIAL,
    PAD,
    PLH,
    ReorderingLanguage,
    pad_batch,
    prefix_target_length,
)
from litlib.fretna.models import LevTLite
from litlib.fretna.oracle import edit_oracle_batched
from litlib.transformer import EncoderDecoder
from litlib.transformer import train as train_loop


@dataclass(frozen=True)
class TrainingExample:
    """One training example: a (prefix of a) source sentence, its reference, and the full pair it came from."""

    src: list[int]
    ref: list[int]
    full_src: list[int]
    full_tgt: list[int]
    i: int  # source tokens read


def sample_examples(
    lang: ReorderingLanguage, n: int, rng: np.random.Generator, prefix_prob: float = 0.5
) -> list[TrainingExample]:
    """``n`` examples: with probability ``prefix_prob`` a proportional prefix pair, else the full pair."""
    out = []
    for src, tgt in lang.sample(n, rng):
        i = int(rng.integers(1, len(src) + 1)) if rng.random() < prefix_prob else len(src)
        out.append(TrainingExample(src[:i], tgt[: prefix_target_length(i, len(src), len(tgt))], src, tgt, i))
    return out


def ar_batch(examples: list[TrainingExample], device: torch.device | None = None) -> tuple[torch.Tensor, ...]:
    """``(src, src_mask, tgt_in, tgt_out)`` for teacher forcing; ``tgt_out`` is ``PAD`` where ignored."""
    src = torch.tensor(pad_batch([e.src for e in examples]), device=device)
    tgt_in = torch.tensor(pad_batch([[BOS, *e.ref] for e in examples]), device=device)
    tgt_out = torch.tensor(pad_batch([[*e.ref, EOS] for e in examples]), device=device)
    return src, src != PAD, tgt_in, tgt_out


def ar_loss(model: EncoderDecoder, examples: list[TrainingExample]) -> torch.Tensor:
    """Token-level cross-entropy of the AR translator on a batch."""
    src, src_mask, tgt_in, tgt_out = ar_batch(examples, next(model.parameters()).device)
    logits = model(src, tgt_in, src_mask)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1), ignore_index=PAD)


def train_ar(
    model: EncoderDecoder,
    lang: ReorderingLanguage,
    steps: int,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Train the AR translator on fresh prefix/full pairs every step; returns the losses."""
    rng = np.random.default_rng(seed)
    return train_loop(
        model,
        lambda _: ar_loss(model, sample_examples(lang, batch_size, rng)),
        steps,
        lr=lr,
        warmup=min(50, steps // 10),
        progress=progress,
        desc="AR translator",
    )


# ----------------------------------------------------------------------------- LevT-lite roll-ins
def insertion_canvas(ex: TrainingExample, rng: np.random.Generator) -> list[int]:
    """Roll-in for the insertion heads: random deletions of the reference, or the reference prefix of a shorter
    source prefix (half each)."""
    if rng.random() < 0.5:
        keep = rng.random(len(ex.ref)) < rng.random()
        return [t for t, k in zip(ex.ref, keep) if k]
    shorter = int(rng.integers(0, ex.i))
    n = prefix_target_length(shorter, len(ex.full_src), len(ex.full_tgt)) if shorter else 0
    return ex.ref[:n]


def guess_canvas(ex: TrainingExample, lang: ReorderingLanguage, rng: np.random.Generator) -> list[int]:
    """Deletion roll-in imitating re-translation guesses *(our addition)*: the reference for the previous source
    prefix with up to three of its last tokens replaced (each with probability 0.7) by random target tokens."""
    prev = ex.i - 1
    n = prefix_target_length(prev, len(ex.full_src), len(ex.full_tgt)) if prev else 0
    canvas = (
        list(ex.full_tgt[:n])
        if prev
        else [int(t) for t in rng.integers(0, lang.n_words, 2) + N_SPECIAL + lang.n_words]
    )
    for back in range(1, min(3, len(canvas)) + 1):
        if rng.random() < 0.7:
            canvas[-back] = int(N_SPECIAL + lang.n_words + rng.integers(0, lang.n_words + 1))
    return canvas


def _padded(rows: list[list[int]], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(pad_batch(rows), device=device), torch.tensor([len(r) for r in rows], device=device)


def _stack_canvases(parts: list[torch.Tensor]) -> torch.Tensor:
    width = max(p.shape[1] for p in parts)
    return torch.cat([F.pad(p, (0, width - p.shape[1]), value=PAD) for p in parts])


def levt_loss(
    model: LevTLite,
    examples: list[TrainingExample],
    lang: ReorderingLanguage,
    rng: np.random.Generator,
    offset_drop: float,
) -> torch.Tensor:
    """The sum of LevT's three cross-entropies on one batch, with oracle targets for the roll-ins above."""
    dev = next(model.parameters()).device
    B = len(examples)
    src = torch.tensor(pad_batch([e.src for e in examples]), device=dev)
    memory, mmask = model.encode(src)
    ref, ref_len = _padded([e.ref for e in examples], dev)
    ins_in, ins_len = _padded([insertion_canvas(e, rng) for e in examples], dev)
    ins = edit_oracle_batched(ins_in, ins_len, ref, ref_len)
    kept = [r[: int(n)][~m[: int(n)]].tolist() for r, n, m in zip(ref, ref_len, ins.inserted)]
    plh_canvas = canvas_from_lists(kept, dev)
    masked = [
        torch.where(m[: int(n)], PLH, r[: int(n)]).tolist() for r, n, m in zip(ref, ref_len, ins.inserted)
    ]
    tok_canvas = canvas_from_lists(masked, dev)
    # deletion roll-in, half from the model's own token predictions (no gradient), half from guesses
    with torch.no_grad():
        pred = model(tok_canvas, memory, mmask).tokens[..., N_SPECIAL:].argmax(-1) + N_SPECIAL
    rolled = torch.where(tok_canvas == PLH, pred, tok_canvas)
    del_rows = [
        rolled[k, 1 : 1 + int(ref_len[k])].tolist() if k < B // 2 else guess_canvas(e, lang, rng)
        for k, e in enumerate(examples)
    ]
    del_in, del_len = _padded(del_rows, dev)
    dele = edit_oracle_batched(del_in, del_len, ref, ref_len)
    del_canvas = canvas_from_lists(del_rows, dev)

    canvases = _stack_canvases([plh_canvas, tok_canvas, del_canvas])
    offset_on = torch.rand(3 * B, device=dev) >= offset_drop
    out = model(canvases, memory.repeat(3, 1, 1), mmask.repeat(3, 1), offset_on)
    # placeholder loss on slots 0..n of the kept canvas
    plh_logits = out.placeholders[:B]
    n_kept = torch.tensor([len(k) for k in kept], device=dev)
    slot_ok = torch.arange(plh_logits.shape[1], device=dev)[None, :] <= n_kept[:, None]
    plh_target = torch.zeros(B, plh_logits.shape[1], dtype=torch.long, device=dev)
    counts = torch.stack(
        [
            F.pad(p[: int(n) + 1], (0, plh_logits.shape[1] - int(n) - 1))
            for p, n in zip(ins.placeholders, n_kept)
        ]
    )
    plh_target[:] = counts.clamp(max=model.max_placeholders)
    loss_plh = F.cross_entropy(plh_logits[slot_ok], plh_target[slot_ok], label_smoothing=0.01)
    # token loss at placeholder positions
    tok_mask = tok_canvas == PLH
    width = tok_canvas.shape[1]
    ref_in_canvas = canvas_from_lists([e.ref for e in examples], dev)[:, :width]
    loss_tok = (
        F.cross_entropy(out.tokens[B : 2 * B, :width][tok_mask], ref_in_canvas[tok_mask], label_smoothing=0.1)
        if bool(tok_mask.any())
        else out.tokens.sum() * 0
    )
    # deletion loss on inner tokens
    del_logits = out.delete[2 * B :, 1 : 1 + del_in.shape[1]]
    del_ok = torch.arange(del_in.shape[1], device=dev)[None, :] < del_len[:, None]
    loss_del = (
        F.cross_entropy(del_logits[del_ok], dele.delete[del_ok].long())
        if bool(del_ok.any())
        else 0 * loss_plh
    )
    return loss_plh + loss_tok + loss_del


def train_levt(
    model: LevTLite,
    lang: ReorderingLanguage,
    steps: int,
    batch_size: int = 32,
    lr: float = 3e-3,
    offset_drop: float = 0.5,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Train the edit model; ``offset_drop`` is the fraction of rows whose offset input is zeroed (the one-model
    ablation proxy of the chapter)."""
    if not 0.0 <= offset_drop <= 1.0:
        raise ValueError(f"offset_drop must be in [0, 1]; got {offset_drop}")
    rng = np.random.default_rng(seed)
    return train_loop(
        model,
        lambda _: levt_loss(model, sample_examples(lang, batch_size, rng), lang, rng, offset_drop),
        steps,
        lr=lr,
        warmup=min(50, steps // 10),
        progress=progress,
        desc="LevT-lite",
    )
