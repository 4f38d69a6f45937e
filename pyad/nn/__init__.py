"""pyad.nn: differentiable building blocks for neural networks.

* ``softmax``, ``log_softmax``, ``logsumexp``: along any axis, stable, -inf aware;
* sparse alternatives to softmax: ``sparsemax``, ``sparsek`` (a differentiable
  top-k), ``entmax15``, ``entmax_bisect``, and the hard ``topk_mask``;
* losses: ``sparsemax_loss``, ``softmax_cross_entropy``;
* attention: ``dense_attention``, ``sparsek_attention`` (Lou et al. 2024) with its
  ``sparsek_scores`` helper, the ``SparseKCache`` incremental decoder, and the
  functional layer ``sparsek_layer_init`` / ``sparsek_layer``.

Every mapping is a pyad primitive (or composed of primitives) with forward and
reverse rules that are themselves differentiable, batch-aware and dtype-keeping.
"""
from .softmax import softmax, log_softmax, logsumexp
from .sparse import sparsemax, sparsek, entmax15, entmax_bisect, topk_mask
from .losses import sparsemax_loss, softmax_cross_entropy
from .attention import (sparsek_scores, sparsek_attention, dense_attention,
                        sliding_window_attention, SparseKCache,
                        sparsek_layer_init, sparsek_layer)

__all__ = ['softmax', 'log_softmax', 'logsumexp', 'sparsemax', 'sparsek', 'entmax15',
           'entmax_bisect', 'topk_mask', 'sparsemax_loss', 'softmax_cross_entropy',
           'sparsek_scores', 'sparsek_attention', 'dense_attention',
           'sliding_window_attention', 'SparseKCache', 'sparsek_layer_init', 'sparsek_layer']
