"""pyad.scipy.signal.convolve / correlate: values equal SciPy's in every mode, 1-d and
n-d, and derivatives in both inputs pass check_grads to order 2 (float64, float32)."""
import numpy as onp
import pytest
import scipy.signal as ss

import pyad.scipy.signal as ps
from pyad.testing import check_grads

SHAPES = [((5,), (3,)), ((3,), (5,)), ((4, 3), (2, 2)), ((2, 2), (4, 3)), ((3, 2, 2), (2, 2, 1))]


@pytest.mark.parametrize('s1,s2', SHAPES)
@pytest.mark.parametrize('mode', ['full', 'same', 'valid'])
@pytest.mark.parametrize('name', ['convolve', 'correlate'])
def test_values_and_derivatives(s1, s2, mode, name):
    rng = onp.random.default_rng(0)
    a, b = rng.standard_normal(s1), rng.standard_normal(s2)
    ours, theirs = getattr(ps, name), getattr(ss, name)
    onp.testing.assert_allclose(ours(a, b, mode=mode), theirs(a, b, mode=mode), rtol=1e-10, atol=1e-12)
    check_grads(lambda ab: ours(ab[0], ab[1], mode=mode), (a, b), order=2)
    a32, b32 = a.astype(onp.float32), b.astype(onp.float32)
    assert ours(a32, b32, mode=mode).dtype == onp.float32
    check_grads(lambda ab: ours(ab[0], ab[1], mode=mode), (a32, b32), order=2)


def test_methods_agree():
    rng = onp.random.default_rng(1)
    a, b = rng.standard_normal(40), rng.standard_normal(9)
    onp.testing.assert_allclose(ps.convolve(a, b, method='fft'), ps.convolve(a, b, method='direct'),
                                atol=1e-12)
    check_grads(lambda a: ps.convolve(a, b, mode='same', method='fft'), a, order=1)


def test_errors():
    with pytest.raises(ValueError, match='same number of dimensions'):
        ps.convolve(onp.ones(3), onp.ones((2, 2)))
    with pytest.raises(ValueError, match="mode must be 'full', 'same' or 'valid'"):
        ps.convolve(onp.ones(3), onp.ones(2), mode='circular')
    with pytest.raises(ValueError, match="for mode 'valid' one input must be at least as large"):
        ps.convolve(onp.ones((3, 1)), onp.ones((2, 2)), mode='valid')
    with pytest.raises(ValueError, match='at least 1-d'):
        ps.convolve(1.0, 2.0)
