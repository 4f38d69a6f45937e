"""SparseK attention against dense softmax attention and a sliding window, trained with
pyad on associative recall with distractors.

    python3 examples/sparsek_recall.py [--smoke] [--steps 150] [--lengths 32 64]

The task.  A sequence of n tokens holds P key-value pairs (a key token immediately
followed by its value token) scattered among noise tokens; the last token repeats one
of the keys, and the model must output the value that followed it.  The pairs can be
anywhere, so a sliding window of the last few tokens cannot see them; dense attention
can, at O(n²) cost; SparseK attention can if its *query-independent* importance scores
learn to keep the value tokens (budget >= P): every query attends to the `budget`
highest-scoring earlier tokens (soft-masked by SparseK) plus a short window.

The model: x_t = E[token_t] + E_prev[token_{t-1}] (a previous-token feature, so one
attention layer suffices: the query "key q" matches the position whose previous token
is q and reads its value), one multi-head attention layer over all n positions, and a
linear read-out of the value at the last position, trained with ``pyad.optim.adam``
(a warm-up schedule for the learning rate) on the cross-entropy of that prediction.  The importance scores are learned:
u = x·w_score + slope·position (``pyad.nn.sparsek_scores``).

Output: a table of accuracy (held-out batch) and training time per step for each
attention and sequence length; the time of one forward + backward pass of the
attention layer alone at longer lengths (dense grows as n², SparseK and the window
as n); and examples/output/sparsek_recall.png (learning curves at the longest
training length).
"""

from _common import parse_args, progress, pyplot, save, Timer   # first: it pins BLAS threads
import numpy

import pyad
import pyad.numpy as np
import pyad.nn as nn
import pyad.optim as optim

N_KEYS, N_VALUES, N_NOISE = 12, 12, 16
VOCAB = N_KEYS + N_VALUES + N_NOISE


def batch(size, n, pairs, rng):
    """Token sequences (size, n) and targets (size,) (the value index, 0..N_VALUES-1)."""
    tokens = N_KEYS + N_VALUES + rng.integers(0, N_NOISE, (size, n))
    targets = numpy.empty(size, dtype=numpy.int64)
    for b in range(size):
        keys = rng.choice(N_KEYS, pairs, replace=False)
        values = rng.integers(0, N_VALUES, pairs)
        slots = rng.choice((n - 1) // 2, pairs, replace=False) * 2     # non-overlapping pairs
        tokens[b, slots] = keys
        tokens[b, slots + 1] = N_KEYS + values
        asked = rng.integers(pairs)
        tokens[b, -1] = keys[asked]
        targets[b] = values[asked]
    return tokens, targets


def init(d_model, heads, d_head, rng):
    s = 1 / numpy.sqrt(d_model)
    return {'E': rng.standard_normal((VOCAB, d_model)) * 0.5,
            'Eprev': rng.standard_normal((VOCAB, d_model)) * 0.5,
            'Wq': rng.standard_normal((d_model, heads * d_head)) * s,
            'Wk': rng.standard_normal((d_model, heads * d_head)) * s,
            'Wv': rng.standard_normal((d_model, heads * d_head)) * s,
            'Wo': rng.standard_normal((heads * d_head, N_VALUES)) / numpy.sqrt(heads * d_head),
            'w_score': rng.standard_normal((d_model, heads)) * 0.1,
            'slope': numpy.zeros(heads)}


def split_heads(x, heads):
    B, n, hd = x.shape
    return np.transpose(np.reshape(x, (B, n, heads, hd // heads)), (0, 2, 1, 3))


def logits_of(params, tokens, kind, heads, budget, window):
    B, n = tokens.shape
    prev = numpy.concatenate([numpy.zeros((B, 1), dtype=tokens.dtype), tokens[:, :-1]], axis=1)
    x = params['E'][tokens] + params['Eprev'][prev]                    # (B, n, D)
    q = split_heads(x @ params['Wq'], heads)
    k = split_heads(x @ params['Wk'], heads)
    v = split_heads(x @ params['Wv'], heads)
    if kind == 'dense':
        out = nn.dense_attention(q, k, v)
    elif kind == 'window':
        out = nn.sliding_window_attention(q, k, v, budget + window)     # the same KV count
    else:
        u = nn.sparsek_scores(x, params['w_score'], params['slope'])
        out = nn.sparsek_attention(q, k, v, u, budget, window=window)
    last = np.reshape(out[:, :, -1, :], (B, -1))                       # (B, heads * d_head)
    return last @ params['Wo']


def loss_fn(params, tokens, targets, kind, heads, budget, window):
    return np.mean(nn.softmax_cross_entropy(logits_of(params, tokens, kind, heads, budget, window),
                                            targets))


def train(kind, n, cfg, seed):
    rng = numpy.random.default_rng(seed)
    params = init(cfg.d_model, cfg.heads, cfg.d_head, rng)
    opt = optim.adam(lr=lambda step: cfg.lr * min(1.0, (step + 1) / 20))
    state = opt.init(params)
    test_tokens, test_targets = batch(cfg.test_size, n, cfg.pairs, numpy.random.default_rng(seed + 999))
    value_and_grad = pyad.fgrad(loss_fn)
    curve = []
    with Timer() as timer:
        for step in progress(range(cfg.steps), desc=f'{kind:>7} n={n}'):
            tokens, targets = batch(cfg.batch, n, cfg.pairs, rng)
            loss, grads = value_and_grad(params, tokens, targets, kind, cfg.heads, cfg.budget,
                                         cfg.window)
            params, state = opt.update(grads, state, params)
            curve.append(float(loss))
    logits = logits_of(params, test_tokens, kind, cfg.heads, cfg.budget, cfg.window)
    accuracy = float(numpy.mean(numpy.argmax(logits, axis=-1) == test_targets))
    return {'curve': curve, 'accuracy': accuracy, 'ms_per_step': 1000 * timer.seconds / cfg.steps}


def attention_cost(n, cfg, rng, repeats=3):
    """Milliseconds for one forward + backward pass of the attention layer alone
    (batch 4), for each kind (the best of ``repeats``: the machine may be shared):
    how the costs grow with n, past the training lengths."""
    B, H, d = 4, cfg.heads, cfg.d_head
    q, k, v = (rng.standard_normal((B, H, n, d)) for _ in range(3))
    u = rng.standard_normal((B, H, n))
    fns = {'sparsek': lambda a: nn.sparsek_attention(*a, cfg.budget, window=cfg.window),
           'dense': lambda a: nn.dense_attention(*a[:3]),
           'window': lambda a: nn.sliding_window_attention(*a[:3], cfg.budget + cfg.window)}
    out = {}
    for kind, f in fns.items():
        g = pyad.grad(lambda a: np.sum(f(a) ** 2))
        g((q, k, v, u))
        best = float('inf')
        for _ in range(repeats):
            with Timer() as timer:
                g((q, k, v, u))
            best = min(best, timer.seconds)
        out[kind] = 1000 * best
    return out


def extra_args(parser):
    parser.add_argument('--steps', type=int, default=150)
    parser.add_argument('--bench-lengths', type=int, nargs='+', default=[256, 512, 1024])
    # longer training lengths (--lengths 32 64 128 --steps 300) tell the same story in
    # about three times the time; the cost of each attention at longer n is measured below
    parser.add_argument('--lengths', type=int, nargs='+', default=[32, 64])
    parser.add_argument('--batch', type=int, default=32)


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv, extra_args)
    cfg = args
    cfg.d_model, cfg.heads, cfg.d_head = 32, 2, 16
    cfg.pairs, cfg.budget, cfg.window = 3, 6, 2
    cfg.lr, cfg.test_size = 1e-2, 256
    if args.smoke:
        cfg.steps, cfg.lengths, cfg.batch, cfg.test_size = 25, [16, 32], 16, 64
        cfg.bench_lengths = [64, 128]
    kinds = ['sparsek', 'dense', 'window']
    results = {}
    for n in cfg.lengths:
        for kind in kinds:
            results[kind, n] = train(kind, n, cfg, args.seed)
    head = f'{"n":>6} ' + ' '.join(f'{k + " acc":>12} {k + " ms":>11}' for k in kinds)
    print(f'\nassociative recall: {cfg.pairs} pairs among noise; SparseK budget {cfg.budget} + '
          f'window {cfg.window}; sliding window {cfg.budget + cfg.window}; {cfg.steps} steps '
          f'of batch {cfg.batch}\n' + head)
    for n in cfg.lengths:
        print(f'{n:>6} ' + ' '.join(f'{results[k, n]["accuracy"]:>12.3f} '
                                    f'{results[k, n]["ms_per_step"]:>11.1f}' for k in kinds))
    print(f'\none forward + backward pass of the attention layer alone (batch 4, {cfg.heads} '
          f'heads, d = {cfg.d_head}), ms:\n{"n":>6} ' + ' '.join(f'{k:>9}' for k in kinds))
    rng = numpy.random.default_rng(args.seed)
    for n in cfg.bench_lengths:
        cost = attention_cost(n, cfg, rng)
        print(f'{n:>6} ' + ' '.join(f'{cost[k]:>9.1f}' for k in kinds))
    plt = pyplot(args)
    if plt is not None:
        n = cfg.lengths[-1]
        fig, ax = plt.subplots(figsize=(6.5, 4))
        w = max(1, cfg.steps // 40)
        for kind in kinds:
            c = numpy.convolve(results[kind, n]['curve'], numpy.ones(w) / w, mode='valid')
            ax.plot(numpy.arange(len(c)) + w, c,
                    label=f'{kind} (test acc {results[kind, n]["accuracy"]:.2f})')
        ax.axhline(numpy.log(N_VALUES), color='gray', lw=0.8, ls=':', label='chance')
        ax.set_xlabel('training step')
        ax.set_ylabel('cross-entropy (moving average)')
        ax.set_title(f'associative recall, n = {n}')
        ax.legend()
        save(fig, args, 'sparsek_recall.png')
    return results


if __name__ == '__main__':
    main()
