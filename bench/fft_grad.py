"""Value and gradient of Σ|rfft(x)|² over the last axis of a 64 × 4096 float64
array: pyad against a hand-written value and gradient (one rfft, one irfft).
Run from the checkout: ``python3 bench/fft_grad.py`` (a few seconds; CPU time)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as onp  # noqa: E402
import pyad  # noqa: E402
import pyad.numpy as np  # noqa: E402


def loss(x):
    return np.sum(np.abs(np.fft.rfft(x, axis=-1)) ** 2)


def by_hand(x):
    """The gradient of Σ_k |X_k|² (X = rfft x, half spectrum) is 2 n irfft(X / c),
    c = 2 for the frequencies irfft counts twice, 1 at 0 and n/2 (n even)."""
    n = x.shape[-1]
    X = onp.fft.rfft(x, axis=-1)
    c = onp.full(X.shape[-1], 2.0)
    c[0] = c[-1] = 1.0
    return onp.sum(onp.abs(X) ** 2), 2 * n * onp.fft.irfft(X / c, n=n, axis=-1)


def best_time(fn, x, calls=20, rounds=5):
    best = float('inf')
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(calls):
            fn(x)
        best = min(best, (time.process_time() - start) / calls)
    return best


def main():
    x = onp.random.default_rng(0).normal(size=(64, 4096))
    value, gradient = pyad.value_and_grad(loss)(x)
    want_value, want_gradient = by_hand(x)
    onp.testing.assert_allclose(value, want_value, rtol=1e-12)
    onp.testing.assert_allclose(gradient, want_gradient, rtol=1e-9, atol=1e-9)
    plain = best_time(lambda x: onp.sum(onp.abs(onp.fft.rfft(x, axis=-1)) ** 2), x)
    hand = best_time(by_hand, x)
    ours = best_time(pyad.value_and_grad(loss), x)
    print(f'value alone (NumPy) {plain * 1e3:.2f} ms; value and gradient by hand '
          f'{hand * 1e3:.2f} ms; pyad.value_and_grad {ours * 1e3:.2f} ms ({ours / hand:.2f}x by hand)')


if __name__ == '__main__':
    main()
