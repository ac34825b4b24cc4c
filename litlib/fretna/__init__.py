"""FReTNA: faster re-translation with a non-autoregressive edit model, for simultaneous translation.

Han, Indurthi, et al., "Faster Re-translation Using Non-Autoregressive Model For Simultaneous Neural Machine
Translation", arXiv:2012.14681 (2020/2021). The paper's full text was not available to us; the edit model
(:class:`LevTLite`, a small Levenshtein Transformer with FReTNA's position-offset input), its training recipe and the
NCNE metric are our reconstructions, built from the Levenshtein Transformer and the re-translation papers.

Contents:

* the synthetic reordering language (:class:`ReorderingLanguage`) and prefix pairs;
* the insertion/deletion edit oracle: NumPy reference (:func:`edit_oracle`) and batched torch version
  (:func:`edit_oracle_batched`), tested against each other;
* metrics: :func:`corpus_bleu`, :func:`normalized_erasure`, :func:`content_delays`, :func:`average_lagging`,
  :func:`differentiable_average_lagging`, :func:`normalized_click_n_edit`;
* streaming systems: ReTA (:func:`stream_reta`), Wait-k (:func:`stream_wait_k`), FReTNA (:func:`stream_fretna`),
  with their decoder-pass counts; the models and their training (:func:`train_ar`, :func:`train_levt`).
"""

from __future__ import annotations

from litlib.fretna.canvas import apply_deletions, canvas_from_lists, canvas_to_lists, insert_placeholders
from litlib.fretna.data import ReorderingLanguage, prefix_pair, prefix_target_length
from litlib.fretna.experiments import seconds_per_sentence, summarize
from litlib.fretna.metrics import (
    average_lagging,
    content_delays,
    corpus_bleu,
    differentiable_average_lagging,
    edit_clicks,
    erasure,
    mask_k,
    normalized_click_n_edit,
    normalized_erasure,
)
from litlib.fretna.models import ARTranslator, EditLogits, LevTLite, TokenAndPosition, make_ar_model
from litlib.fretna.oracle import BatchedEditTargets, edit_oracle_batched, lcs_tables
from litlib.fretna.reference import (
    EditTargets,
    edit_oracle,
    fretna_passes_bound,
    reta_passes_formula,
    reta_passes_ideal,
)
from litlib.fretna.streaming import (
    IterationOutcome,
    StreamResult,
    offline_ar,
    offline_levt,
    refine,
    stream_fretna,
    stream_reta,
    stream_wait_k,
)
from litlib.fretna.train import TrainingExample, sample_examples, train_ar, train_levt

__all__ = [
    "ARTranslator",
    "BatchedEditTargets",
    "EditLogits",
    "EditTargets",
    "IterationOutcome",
    "LevTLite",
    "ReorderingLanguage",
    "StreamResult",
    "TokenAndPosition",
    "TrainingExample",
    "apply_deletions",
    "average_lagging",
    "canvas_from_lists",
    "canvas_to_lists",
    "content_delays",
    "corpus_bleu",
    "differentiable_average_lagging",
    "edit_clicks",
    "edit_oracle",
    "edit_oracle_batched",
    "erasure",
    "fretna_passes_bound",
    "insert_placeholders",
    "lcs_tables",
    "make_ar_model",
    "mask_k",
    "normalized_click_n_edit",
    "normalized_erasure",
    "offline_ar",
    "offline_levt",
    "prefix_pair",
    "prefix_target_length",
    "refine",
    "reta_passes_formula",
    "reta_passes_ideal",
    "sample_examples",
    "seconds_per_sentence",
    "stream_fretna",
    "stream_reta",
    "stream_wait_k",
    "summarize",
    "train_ar",
    "train_levt",
]
