"""argnums and has_aux on the operators (JAX's semantics, DiffSharp's curried style),
JAX's jvp/vjp forms, linearize, and the operators' signatures."""
import inspect

import numpy as onp
import pytest

import pyad
import pyad.numpy as np
from pyad.testing import check_grads

X = onp.array([0.3, -1.2, 0.7])
Y = onp.array([1.5, 0.4, -0.6])


def f2(x, y):
    return np.sum(np.sin(x) * y ** 2)


def by_hand_grad(x, y):
    return onp.cos(x) * y ** 2, 2 * onp.sin(x) * y


def test_grad_argnums_int_and_tuple():
    gx, gy = by_hand_grad(X, Y)
    onp.testing.assert_allclose(pyad.grad(f2)(X, Y), gx)
    onp.testing.assert_allclose(pyad.grad(f2, argnums=1)(X, Y), gy)
    onp.testing.assert_allclose(pyad.grad(f2, argnums=-1)(X, Y), gy)
    both = pyad.grad(f2, argnums=(0, 1))(X, Y)
    assert isinstance(both, tuple) and len(both) == 2
    onp.testing.assert_allclose(both[0], gx)
    onp.testing.assert_allclose(both[1], gy)
    swapped = pyad.grad(f2, argnums=(1, 0))(X, Y)
    onp.testing.assert_allclose(swapped[0], gy)
    # a 1-tuple argnums gives a 1-tuple, as in JAX
    one = pyad.grad(f2, argnums=(1,))(X, Y)
    assert isinstance(one, tuple) and len(one) == 1


def test_extra_arguments_and_keywords_pass_through():
    def f(x, scale, *, power):
        return np.sum(scale * x ** power)
    g = pyad.grad(f)(X, 2.0, power=3)
    onp.testing.assert_allclose(g, 6.0 * X ** 2)
    # the undifferentiated argument may be anything: a string, a dict, an int
    def h(x, mode, n):
        return np.sum(x ** n) if mode == 'pow' else np.sum(x)
    onp.testing.assert_allclose(pyad.grad(h)(X, 'pow', 2), 2 * X)


@pytest.mark.parametrize('op', ['jacfwd', 'jacrev', 'jacobian'])
def test_jacobians_with_argnums(op):
    def f(x, y):
        return np.sin(x) * y
    J = getattr(pyad, op)(f, argnums=1)(X, Y)
    onp.testing.assert_allclose(J, onp.diag(onp.sin(X)))
    Jx, Jy = getattr(pyad, op)(f, argnums=(0, 1))(X, Y)
    onp.testing.assert_allclose(Jx, onp.diag(onp.cos(X) * Y))
    onp.testing.assert_allclose(Jy, onp.diag(onp.sin(X)))


def test_hessian_argnums_tuple_gives_blocks():
    H = pyad.hessian(f2, argnums=(0, 1))(X, Y)
    Hxx, Hxy = H[0]
    Hyx, Hyy = H[1]
    onp.testing.assert_allclose(Hxx, onp.diag(-onp.sin(X) * Y ** 2))
    onp.testing.assert_allclose(Hxy, onp.diag(2 * onp.cos(X) * Y))
    onp.testing.assert_allclose(Hyx, onp.diag(2 * onp.cos(X) * Y))
    onp.testing.assert_allclose(Hyy, onp.diag(2 * onp.sin(X)))


def test_directional_operators_take_the_direction_last():
    v = onp.array([1.0, 0.5, -2.0])
    gy = by_hand_grad(X, Y)[1]
    assert float(pyad.gradv(f2, argnums=1)(X, Y, v)) == pytest.approx(float(gy @ v))
    Hyy = onp.diag(2 * onp.sin(X))
    onp.testing.assert_allclose(pyad.hessianv(f2, argnums=1)(X, Y, v), Hyy @ v)
    onp.testing.assert_allclose(pyad.jacobianv(lambda x, y: x * y, argnums=1)(X, Y, v), X * v)
    onp.testing.assert_allclose(pyad.jacobianTv(lambda x, y: x * y, argnums=1)(X, Y, v), X * v)


def test_has_aux():
    def f(x, y):
        loss = f2(x, y)
        return loss, {'loss': loss, 'x2': x * 2.0}
    g, aux = pyad.grad(f, has_aux=True)(X, Y)
    onp.testing.assert_allclose(g, by_hand_grad(X, Y)[0])
    assert float(aux['loss']) == pytest.approx(float(f2(X, Y)))
    onp.testing.assert_allclose(aux['x2'], 2 * X)
    # aux is plain: no traced value escapes
    assert type(aux['x2']) is onp.ndarray
    (value, aux), g = pyad.value_and_grad(f, argnums=1, has_aux=True)(X, Y)
    assert float(value) == pytest.approx(float(f2(X, Y)))
    onp.testing.assert_allclose(g, by_hand_grad(X, Y)[1])
    J, aux = pyad.jacfwd(lambda x: (np.sin(x), x.shape), has_aux=True)(X)
    assert aux == (3,)
    onp.testing.assert_allclose(J, onp.diag(onp.cos(X)))
    H, aux = pyad.hessian(lambda x: (np.sum(x ** 3), 'note'), has_aux=True)(X)
    onp.testing.assert_allclose(H, onp.diag(6 * X))
    assert aux == 'note'


def test_diffn_family_takes_argnums_and_has_aux():
    def f(a, x):
        return a * x ** 4, 'aux'
    assert pyad.diffn(3, f, argnums=1, has_aux=True)(2.0, 1.0) == (48.0, 'aux')
    assert pyad.diff2(f, argnums=1, has_aux=True)(2.0, 1.0) == (24.0, 'aux')
    assert pyad.fdiff2(f, argnums=1, has_aux=True)(2.0, 1.0) == ((2.0, 'aux'), 24.0)
    assert pyad.diffn(1, f, argnums=0, has_aux=True)(2.0, 3.0) == (81.0, 'aux')
    assert pyad.diffn(0, f, argnums=1, has_aux=True)(2.0, 1.0) == (2.0, 'aux')
    assert pyad.fdiffn(0, f, has_aux=True)(2.0, 1.0) == ((2.0, 'aux'), 2.0)
    assert pyad.fdiffn(3, lambda x, k: k * x ** 3)(2.0, 5.0) == (40.0, 30.0)


def test_has_aux_nested_keeps_outer_levels():
    # aux traced at an outer level stays traced at it: its derivative is right
    def inner(x, y):
        return x * y, x * y * 3.0
    def outer(y):
        g, aux = pyad.grad(inner, has_aux=True)(2.0, y)
        return g + aux
    assert pyad.grad(outer)(5.0) == pytest.approx(1.0 + 6.0)


def test_has_aux_errors():
    with pytest.raises(TypeError, match=r'grad\(has_aux=True\): the function must return a '
                                        r'pair \(output, aux\), but it returned a single value of '
                                        r'shape \(\)'):
        pyad.grad(lambda x: x * 2.0, has_aux=True)(1.0)


def test_argnums_errors_name_the_problem():
    with pytest.raises(ValueError, match='grad: argnums names argument 2, but the function was '
                                         'called with 2 positional arguments'):
        pyad.grad(f2, argnums=2)(X, Y)
    with pytest.raises(TypeError, match='argnums must be an int or a non-empty tuple'):
        pyad.grad(f2, argnums='x')
    with pytest.raises(TypeError, match='argnums must be an int'):
        pyad.grad(f2, argnums=())
    with pytest.raises(ValueError, match='names an argument twice'):
        pyad.grad(f2, argnums=(0, 0))(X, Y)
    with pytest.raises(TypeError, match=r'grad\(f\) takes the input\(s\) of f, as in '
                                        r'grad\(f\)\(x\); got none'):
        pyad.grad(f2)()
    with pytest.raises(TypeError, match=r'jacobianv\(f\) takes the input\(s\) of f and then a '
                                        r'direction'):
        pyad.jacobianv(np.sin)(X)


def test_integer_leaves_are_constants():
    with pytest.raises(TypeError, match=r"grad: argument 1 at \['n'\] is an integer \(int\)"):
        pyad.grad(lambda x, p: x * p['w'] ** p['n'], argnums=(0, 1))(1.0, {'w': 2.0, 'n': 3})
    with pytest.raises(TypeError, match='jacfwd: argument 0 is an integer'):
        pyad.jacfwd(lambda x, y: x * y, argnums=(0, 1))(onp.arange(3), Y)
    # as an argument not differentiated, it is a constant
    assert pyad.grad(lambda x, p: x * p['w'] ** p['n'])(1.0, {'w': 2.0, 'n': 3}) == 8.0


def test_jax_jvp_form():
    y, t = pyad.jvp(np.sin, (0.5,), (2.0,))
    assert y == pytest.approx(onp.sin(0.5)) and t == pytest.approx(2 * onp.cos(0.5))
    y, t = pyad.jvp(f2, (X, Y), (onp.ones(3), onp.zeros(3)))
    assert float(t) == pytest.approx(float(onp.sum(by_hand_grad(X, Y)[0])))
    # the single-argument shorthand
    y2, t2 = pyad.jvp(np.sin, 0.5, 2.0)
    assert (y2, t2) == (y, t) or t2 == pytest.approx(2 * onp.cos(0.5))
    # a function of one tuple argument: the tuple inside the primals tuple
    _, t = pyad.jvp(lambda p: p[0] * p[1], ((2.0, 3.0),), ((1.0, 0.0),))
    assert t == pytest.approx(3.0)
    y, t, aux = pyad.jvp(lambda x: (x * x, 'aux'), (3.0,), (1.0,), has_aux=True)
    assert (y, t, aux) == (9.0, 6.0, 'aux')
    with pytest.raises(TypeError, match='jvp: primals is a tuple of 2 arguments, so tangents '
                                        'must be a tuple of 2 tangents'):
        pyad.jvp(f2, (X, Y), (onp.ones(3),))
    with pytest.raises(TypeError, match='tangents must be a tuple'):
        pyad.jvp(f2, (X, Y), onp.ones(3))


def test_vjp_several_primals_and_aux():
    y, pullback = pyad.vjp(lambda x, y: x * y, X, Y)
    gx, gy = pullback(onp.ones(3))
    onp.testing.assert_allclose(gx, Y)
    onp.testing.assert_allclose(gy, X)
    y, pullback, aux = pyad.vjp(lambda x: (x * 2.0, x.shape), X, has_aux=True)
    assert aux == (3,)
    onp.testing.assert_allclose(pullback(onp.ones(3)), 2.0 * onp.ones(3))


@pytest.mark.parametrize('dtype', [onp.float32, onp.float64])
def test_linearize(dtype):
    x = X.astype(dtype)
    def f(x):
        return np.sin(x) * np.exp(x[0]) + x ** 2
    y, f_jvp = pyad.linearize(f, x)
    onp.testing.assert_allclose(y, f(x), rtol=1e-6)
    J = pyad.jacfwd(f)(x)
    for v in onp.eye(3, dtype=dtype):
        got = f_jvp(v)
        assert got.dtype == dtype
        onp.testing.assert_allclose(got, J @ v, rtol=1e-5 if dtype == onp.float32 else 1e-12)
    # two primals: one tangent each
    y, f_jvp = pyad.linearize(lambda a, b: a * b, 2.0, 5.0)
    assert f_jvp(1.0, 0.0) == pytest.approx(5.0) and f_jvp(0.0, 1.0) == pytest.approx(2.0)
    with pytest.raises(TypeError, match='f_jvp takes 2 tangents'):
        f_jvp(1.0)


def test_linearize_is_differentiable():
    # the tangent map of linearize, differentiated again (its tape is pyad operations)
    def g(a):
        _, f_jvp = pyad.linearize(lambda x: np.sin(a * x), 0.3)
        return f_jvp(1.0)                       # a cos(a x) at x = 0.3
    a = 1.7
    assert pyad.diff(g)(a) == pytest.approx(onp.cos(0.3 * a) - 0.3 * a * onp.sin(0.3 * a))
    assert pyad.grad(g)(a) == pytest.approx(onp.cos(0.3 * a) - 0.3 * a * onp.sin(0.3 * a))


@pytest.mark.parametrize('dtype', [onp.float32, onp.float64])
def test_argnums_derivatives_to_second_order(dtype):
    x, y = X.astype(dtype), Y.astype(dtype)
    check_grads(lambda x: pyad.grad(f2, argnums=1)(y, x), x)
    check_grads(lambda xy: pyad.grad(f2, argnums=(0, 1))(*xy), (x, y))


def test_operators_show_their_real_signature():
    for name in ['grad', 'value_and_grad', 'jacfwd', 'jacrev', 'jacobian', 'hessian', 'diff',
                 'jacobianv', 'hessianv', 'fgrad']:
        sig = inspect.signature(getattr(pyad, name))
        holomorphic = ['holomorphic'] if name in ('grad', 'value_and_grad', 'fgrad', 'jacfwd',
                                                  'jacrev') else []
        assert list(sig.parameters) == ['f', 'argnums', 'has_aux'] + holomorphic, name
    assert list(inspect.signature(pyad.jvp).parameters) == ['f', 'primals', 'tangents', 'has_aux']
    import pydoc
    text = pydoc.render_doc(pyad.grad, renderer=pydoc.plaintext)
    assert 'grad(f: ' in text and 'argnums: ' in text and 'has_aux: bool = False' in text
    assert 'grad(f, x)' not in text
