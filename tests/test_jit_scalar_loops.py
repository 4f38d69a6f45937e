"""pyad.jit on scalar loops over the elements of arrays: the program runs on Python
floats (element reads and adjoint buffers as lists, math functions as eager pyad
uses them) and gives the eager results bit for bit, domain errors included."""
import warnings

import numpy as np
import pytest

import pyad
import pyad.numpy as pnp
from pyad import jit, grad, value_and_grad


def sincos(x):
    s = 0.0
    for i in range(len(x) - 1):
        s = s + pnp.sin(x[i]) * pnp.cos(x[i + 1])
    return s


def logexp(x):
    s = 0.0
    for i in range(len(x)):
        s = s + pnp.log(x[i]) * pnp.exp(x[i]) - pnp.tanh(x[i]) * x[i]
    return s


def _quiet(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        return fn(*args)


@pytest.mark.parametrize('n', [3, 40])
def test_sincos_loop_gradient_is_bit_for_bit_eager(n):
    f = grad(sincos)
    jf = jit(f)
    rng = np.random.default_rng(n)
    for _ in range(3):
        x = rng.uniform(-3, 3, n + 1)
        np.testing.assert_array_equal(jf(x), f(x))
    assert jf.traces == 1


def test_sincos_loop_matches_the_closed_form():
    x = np.linspace(0.1, 2.0, 30)
    want = np.zeros_like(x)
    want[:-1] += np.cos(x[:-1]) * np.cos(x[1:])
    want[1:] -= np.sin(x[:-1]) * np.sin(x[1:])
    np.testing.assert_allclose(jit(grad(sincos))(x), want, rtol=1e-13, atol=1e-15)


def test_scalar_loop_program_runs_on_python_floats():
    x = np.linspace(0.1, 2.0, 30)
    src = jit(grad(sincos)).source(x)
    assert 'v0_items = v0.tolist()' in src          # one conversion, then list reads
    assert '.item(' not in src
    assert 'math_sin(' in src and 'math_cos(' in src
    assert ' += ' in src                            # the adjoint added into in place
    assert 'zeros(' not in src and '[0.0] * 30' in src
    assert src.count('math_sin(') == 30             # sin of each element once: forward and sweep share it


def test_short_loops_keep_numpy_element_reads():
    x = np.array([0.3, 0.7, 1.1])
    src = jit(grad(sincos)).source(x)
    assert '.item(' in src and 'tolist' not in src


def test_value_and_grad_outputs_python_float_value_like_eager():
    x = np.linspace(0.1, 2.0, 20)
    got, want = jit(value_and_grad(sincos))(x), value_and_grad(sincos)(x)
    assert got[0] == want[0]
    np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize('x', [[1.0, 2.0, 3.0], [1.0, -2.0, 3.0], [0.0, 2.0, 3.0],
                               [1.0, 2.0, 800.0], [1.0, 2.0, 3.0]])
def test_math_domain_errors_give_numpys_answer_as_eager(x):
    jf = jit(grad(logexp))
    f = grad(logexp)
    for v in ([1.0, 2.0, 3.0], x, [0.5, 1.5, 2.5], x):
        v = np.array(v)
        np.testing.assert_array_equal(_quiet(jf, v), _quiet(f, v))


def test_outside_domain_program_is_guarded():
    jf = jit(grad(logexp))
    bad = np.array([1.0, -2.0, 3.0])
    _quiet(jf, np.array([1.0, 2.0, 3.0]))
    src = _quiet(jf.source, bad)
    assert 'if not log_outside_domain(' in src
    assert 'except MATH_ERRORS' in src
    np.testing.assert_array_equal(_quiet(jf, np.array([0.5, 1.5, 2.5])),
                                  grad(logexp)(np.array([0.5, 1.5, 2.5])))


def test_float32_element_loops_stay_numpy():
    x = np.linspace(0.1, 2.0, 20).astype(np.float32)
    f = grad(sincos)
    got = jit(f)(x)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, f(x))


def test_slices_and_fancy_indices_add_into_traced_buffers():
    def f(x):
        return pnp.sum(x[1:4] ** 2) + pnp.sum(x[np.array([0, 0, 5])] * 3.0) + x[2] * x[3]
    x = np.linspace(0.5, 2.0, 8)
    jf = jit(grad(f))
    np.testing.assert_allclose(jf(x), grad(f)(x), rtol=1e-12)
    np.testing.assert_allclose(jf(x + 1), grad(f)(x + 1), rtol=1e-12)
    assert jf.traces == 1


def test_loop_of_grad_under_hessian_jitted():
    x = np.linspace(0.1, 1.0, 6)
    h = pyad.hessian(sincos)
    np.testing.assert_allclose(jit(h)(x), h(x), rtol=1e-12, atol=1e-14)


def stacked(x):
    a, b = x[0], x[1]
    y = pnp.stack([a * b + 1.0, a - b, pnp.sin(a) * 2.0])
    return pnp.sum(y * y)


@pytest.mark.parametrize('op', ['grad', 'function'])
def test_scalars_stacked_into_an_array_stay_python_arithmetic(op):
    """Scalar arithmetic whose results are reshaped to arrays (pnp.stack of scalars)
    runs on Python floats, not as NumPy ufunc calls, with the eager bits."""
    f = grad(stacked) if op == 'grad' else (lambda x: pnp.stack([x[0] * x[1], x[0] - 2.0]))
    jf = jit(f)
    rng = np.random.default_rng(7)
    for _ in range(3):
        x = rng.uniform(-2, 2, 2)
        got, want = jf(x), f(x)
        assert type(got) is type(want) and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    source = jf.source(x)
    for ufunc in ('multiply(', 'add(', 'subtract('):
        assert ufunc not in source


def test_a_scalar_reshaped_to_shape_zero_stays_a_numpy_scalar():
    """reshape(s, ()) of a NumPy float64 is a float64 scalar, of a Python float a 0-d
    array: that reader keeps the NumPy arithmetic."""
    def f(x):
        return pnp.reshape(x[0] * x[1], ()) * np.ones(2, np.float32)
    jf = jit(f)
    x = np.array([1.5, 2.5])
    got, want = jf(x), f(x)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def mixed(x):
    a, b = x[0], x[1]
    s = a * b + 1.0
    return pnp.sum(pnp.sin(x * s) - (a - b) * x)


@pytest.mark.parametrize('dtype', [np.float64, np.float32])
def test_scalar_arithmetic_next_to_float64_arrays_is_python_arithmetic(dtype):
    """Scalars read by arithmetic with a float64 array run on Python floats (the
    array's dtype is the result's either way); next to a float32 array a NumPy
    float64 is not a Python float to NumPy's promotion, and stays one."""
    f = grad(mixed)
    jf = jit(f)
    rng = np.random.default_rng(11)
    for _ in range(3):
        x = rng.uniform(-2, 2, 3).astype(dtype)
        got, want = jf(x), f(x)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    source = jf.source(x)
    if dtype == np.float64:
        assert 'v3 = v1 * v2' in source and 'v4 = v3 + 1.0' in source
        assert 'v7 = v1 - v2' in source
