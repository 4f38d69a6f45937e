"""Bad input gets a clear error in the user's terms (never a bare internal exception)."""
import numpy as np
import pytest

import pyad.numpy as pnp
from pyad import (grad, fgrad, diff, hessian, hessianv, gradv, jacobian, jacobianv,
                  jacobianTv, vjp, jvp, laplacian, curl, div, stop_gradient)


X = np.array([1.0, 2.0, 3.0])


# ------------------------------------------------------------------ wrong output kind
def test_grad_of_vector_valued_function_names_shape_and_suggests_jacobian():
    with pytest.raises(TypeError) as info:
        grad(lambda x: x * 2.0)(X)
    msg = str(info.value)
    assert 'grad' in msg and 'scalar' in msg
    assert '(3,)' in msg
    assert 'jacobian' in msg


def test_grad_of_matrix_valued_function_names_shape():
    with pytest.raises(TypeError, match=r'\(2, 3\)') as info:
        grad(lambda x: pnp.reshape(x, (2, 3)))(np.ones(6))
    assert 'jacobian' in str(info.value)


def test_grad_of_tuple_valued_function():
    with pytest.raises(TypeError) as info:
        grad(lambda x: (x, x * x))(1.0)
    msg = str(info.value)
    assert 'tuple' in msg and 'jacobian' in msg


@pytest.mark.parametrize('op', [fgrad, hessian, laplacian])
def test_scalar_output_required_by_second_order_operators(op):
    with pytest.raises(TypeError, match='scalar'):
        op(lambda x: x * x)(X)


def test_gradv_of_vector_function_suggests_jacobianv():
    with pytest.raises(TypeError) as info:
        gradv(lambda x: x * x)(X, X)
    assert '(3,)' in str(info.value) and 'jacobianv' in str(info.value)


# ------------------------------------------------------------------ tangents of the wrong shape
@pytest.mark.parametrize('op', [jacobianv, gradv, hessianv])
def test_tangent_of_wrong_shape_names_both_shapes(op):
    f = (lambda x: x * x) if op is jacobianv else (lambda x: pnp.sum(x * x))
    with pytest.raises(ValueError) as info:
        op(f)(X, np.ones(2))
    msg = str(info.value)
    assert '(2,)' in msg and '(3,)' in msg
    assert op.__name__ in msg


def test_jvp_tangent_of_wrong_shape():
    with pytest.raises(ValueError, match=r'\(3, 1\).*\(3,\)'):
        jvp(lambda x: x * x, X, np.ones((3, 1)))


def test_cotangent_of_wrong_shape_names_both_shapes():
    with pytest.raises(ValueError) as info:
        jacobianTv(lambda x: x[:2] * 1.0)(X, np.ones(3))
    msg = str(info.value)
    assert '(3,)' in msg and '(2,)' in msg
    _, pullback = vjp(lambda x: x[:2] * 1.0, X)
    with pytest.raises(ValueError, match=r'\(4,\).*\(2,\)'):
        pullback(np.ones(4))


def test_tangent_of_wrong_structure():
    with pytest.raises(ValueError, match='structure'):
        jacobianv(lambda p: p['a'] * p['b'])({'a': 1.0, 'b': 2.0}, (1.0, 1.0))


def test_diff_of_array_input_suggests_jacobianv():
    with pytest.raises(ValueError) as info:
        diff(lambda x: x * x)(X)
    msg = str(info.value)
    assert 'scalar' in msg and '(3,)' in msg and 'jacobianv' in msg


# ------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize('op', [grad, diff, hessian, jacobian])
def test_string_input(op):
    with pytest.raises(TypeError) as info:
        op(lambda x: x)('abc')
    msg = str(info.value)
    assert op.__name__ in msg and 'str' in msg and 'float' in msg


def test_object_input():
    class Thing:
        pass
    with pytest.raises(TypeError, match='Thing'):
        grad(lambda x: x)(Thing())


def test_complex_inputs():
    with pytest.raises(TypeError, match='complex'):
        grad(lambda x: x * x)(1.0 + 2.0j)
    with pytest.raises(TypeError, match='complex'):
        grad(lambda x: pnp.sum(x))(np.array([1.0 + 2.0j]))


def test_bool_inputs():
    with pytest.raises(TypeError, match='bool'):
        grad(lambda x: x * 1.0)(True)
    with pytest.raises(TypeError, match='bool'):
        grad(lambda x: pnp.sum(x * 1.0))(np.array([True, False]))


def test_object_array_and_string_array_inputs():
    with pytest.raises(TypeError, match='dtype'):
        grad(lambda x: x)(np.array(['a', 'b']))
    with pytest.raises(TypeError, match='dtype'):
        grad(lambda x: x)(np.array([object()], dtype=object))


def test_bad_leaf_inside_a_pytree():
    with pytest.raises(TypeError, match='str'):
        grad(lambda p: p['a'])({'a': 1.0, 'b': 'text'})


# ------------------------------------------------------------------ bad outputs
@pytest.mark.parametrize('op', [grad, diff, jacobian, hessian])
def test_function_returning_none(op):
    x = 1.0 if op is diff else X
    with pytest.raises(TypeError) as info:
        op(lambda x: None)(x)
    msg = str(info.value)
    assert 'None' in msg and 'return' in msg and op.__name__ in msg


@pytest.mark.parametrize('op', [grad, diff, jacobian])
def test_function_returning_a_string(op):
    with pytest.raises(TypeError) as info:
        op(lambda x: 'result')(1.0)
    msg = str(info.value)
    assert 'str' in msg and op.__name__ in msg


def test_function_returning_an_integer_scalar():
    with pytest.raises(TypeError, match='float'):
        grad(lambda x: 3)(1.0)


# ------------------------------------------------------------------ misuse
@pytest.mark.parametrize('op', [grad, diff, hessian, jacobian, jacobianv, jacobianTv, laplacian,
                                curl, div])
def test_operator_of_a_non_callable(op):
    with pytest.raises(TypeError) as info:
        op(3.0)
    msg = str(info.value)
    assert 'function' in msg and 'float' in msg and op.__name__ in msg


def test_operator_called_with_x_directly():
    with pytest.raises(TypeError, match=r'grad\(f\)\(x\)'):
        grad(np.ones(3))


def test_vjp_and_jvp_of_non_callable():
    with pytest.raises(TypeError, match='function'):
        vjp(np.ones(3), np.ones(3))
    with pytest.raises(TypeError, match='function'):
        jvp(None, 1.0, 1.0)


def test_float_of_traced_value():
    import math
    for op in (grad, diff):
        with pytest.raises(TypeError) as info:
            op(lambda x: math.sin(float(x)))(1.0)
        msg = str(info.value)
        assert 'float()' in msg and 'stop_gradient' in msg


def test_math_module_on_traced_value():
    import math
    with pytest.raises(TypeError, match='pyad.numpy'):
        grad(lambda x: math.exp(x))(1.0)


def test_in_place_assignment_to_traced_array():
    def f(x):
        x[0] = 0.0
        return pnp.sum(x)
    for op in (grad, jacobian):
        with pytest.raises(TypeError) as info:
            op(f)(X)
        msg = str(info.value)
        assert 'in-place' in msg and 'x[i] = v' in msg
    # the input array itself was not modified
    np.testing.assert_array_equal(X, [1.0, 2.0, 3.0])


def test_traced_value_as_index():
    with pytest.raises(TypeError, match='index'):
        grad(lambda x: pnp.sum(x[:2]) * [1.0, 2.0, 3.0][x[0]])(X)


def test_complex_of_traced_value():
    with pytest.raises(TypeError, match='complex'):
        grad(lambda x: complex(x).real)(1.0)


def test_errors_are_not_internal_classes():
    """Messages name the operator the user called, never an internal class."""
    cases = [
        lambda: grad(lambda x: x * 2.0)(X),
        lambda: grad(lambda x: None)(1.0),
        lambda: jacobianv(lambda x: x)(X, np.ones(2)),
        lambda: grad(lambda x: x)('s'),
    ]
    for make in cases:
        with pytest.raises((TypeError, ValueError)) as info:
            make()
        msg = str(info.value)
        for internal in ('TapeVar', 'Dual', 'Box', 'FunctionOutput', 'TreeDef'):
            assert internal not in msg, msg


def test_in_place_sort_of_traced_array():
    def f(x):
        x.sort()
        return pnp.sum(x * np.arange(3.0))
    for op in (grad, jacobian):
        with pytest.raises(TypeError, match=r'pyad\.numpy\.sort\(x\)'):
            op(f)(X)
    # the functional form works
    assert grad(lambda x: pnp.sum(pnp.sort(x)[::-1] * np.arange(3.0)))(X).tolist() == [2.0, 1.0, 0.0]


def test_item_of_traced_value_would_drop_the_derivative():
    with pytest.raises(TypeError, match=r'x\.item\(\).*stop_gradient'):
        grad(lambda x: x.item() * x)(2.0)
    with pytest.raises(TypeError, match=r'x\.item\(\)'):
        grad(lambda x: pnp.sum(x) * x[0].item())(X)


# ------------------------------------------------------------------ storing into NumPy arrays
def _chain(error):
    """The messages of an exception and of the exceptions it was raised from."""
    out = []
    while error is not None:
        out.append(str(error))
        error = error.__cause__ or error.__context__
    return '\n'.join(out)


@pytest.mark.parametrize('dtype', [np.float64, np.float32, np.complex128])
@pytest.mark.parametrize('op', [grad, jacobian, jacobianv, hessian])
def test_item_assignment_into_a_numpy_array_names_the_mistake_and_the_fix(op, dtype):
    def f(x):
        a = np.zeros(3, dtype=dtype)
        a[0] = x[1]                     # NumPy cannot hold the derivative
        return pnp.sum(a * 1.0)
    args = (X, X) if op is jacobianv else (X,)
    # NumPy replaces the error by its own ValueError for a real array, keeping pyad's as
    # the cause; a complex array passes pyad's TypeError on as it is
    with pytest.raises((TypeError, ValueError)) as info:
        op(f)(*args)
    message = _chain(info.value)
    assert 'a[i] = x' in message and 'plain NumPy array' in message
    assert 'pyad.numpy.stack' in message and 'pyad.numpy.where' in message
    assert 'stop_gradient' in message


def test_item_assignment_of_a_vector_element_into_a_numpy_array():
    def f(x):
        a = np.ones((2, 3))
        a[1, 2] = pnp.sum(x)
        return pnp.sum(a)
    with pytest.raises(ValueError) as info:
        grad(f)(X)
    assert 'a[i] = x' in _chain(info.value)


def test_float_of_a_traced_value_keeps_its_own_message():
    import math
    with pytest.raises(TypeError, match=r'float\(\) of a traced value') as info:
        grad(lambda x: math.sin(x))(1.0)
    assert 'a[i] = x' not in str(info.value)
    with pytest.raises(TypeError, match=r'float\(\) of a traced value'):
        grad(lambda x: float(x) * x)(1.0)


def test_item_assignment_into_python_containers_and_the_suggested_fix_work():
    def into_list(x):
        a = [0.0, 0.0, 0.0]
        a[0] = x[1]
        return pnp.sum(pnp.array(a) * np.array([2.0, 1.0, 1.0]))

    def stacked(x):                     # the fix the error suggests
        a = pnp.stack([x[1], 0.0, 0.0])
        return pnp.sum(a * np.array([2.0, 1.0, 1.0]))
    for f in (into_list, stacked):
        assert np.array_equal(grad(f)(X), [0.0, 2.0, 0.0])
        assert np.array_equal(jacobian(f)(X), [0.0, 2.0, 0.0])


# ------------------------------------------------------------------ memory layout
def test_flags_and_isfortran_of_a_traced_value_say_what_to_read_instead():
    seen = []

    def f(x):
        seen.append(hasattr(x, 'flags'))            # False: the engine tells arrays apart so
        return pnp.sum(x) * np.isfortran(x)
    for op in (grad, jacobian):
        with pytest.raises(AttributeError) as info:
            op(f)(np.asfortranarray(np.ones((2, 2))))
        assert 'numpy.isfortran' in str(info.value) and 'stop_gradient' in str(info.value)
    assert seen == [False, False]

    def layout(x):                       # what the message suggests
        return pnp.sum(x) * np.isfortran(stop_gradient(x))
    assert np.array_equal(grad(layout)(np.asfortranarray(np.ones((2, 2)))), np.ones((2, 2)))
    assert np.array_equal(grad(layout)(np.ones((2, 2))), np.zeros((2, 2)))


# ------------------------------------------------------------------ complex constants
C = np.array([1.0 + 1.0j, 2.0, 3.0])
COMPLEX_MEETS_TRACED = {
    'pnp.pad constant_values': lambda x: pnp.pad(x, 1, constant_values=1j),
    'pnp.pad complex64': lambda x: pnp.pad(x, 1, constant_values=np.complex64(2j)),
    'numpy.pad': lambda x: np.pad(x, (1, 0), constant_values=1j),
    'numpy.clip': lambda x: np.clip(x, 1j, 5.0),
    'x.clip': lambda x: x.clip(0.0, 2.0 + 1j),
    'pnp.array of a mixed list': lambda x: pnp.array([x[0], 1j]),
    'pnp.asarray of a mixed list': lambda x: pnp.asarray([x[0], 2.0, 1j]),
    'pnp.array nested': lambda x: pnp.array([[x[0], 1.0], [2.0, 1j]]),
    'x + list': lambda x: x + [1j, 0.0, 0.0],
    'list + x': lambda x: [1j, 0.0, 0.0] + x,
    'x * tuple': lambda x: x * (1j, 1.0, 1.0),
    'x - nested list': lambda x: x - [[0.0, 1j, 0.0]],
    'x @ list': lambda x: x @ [1j, 0.0, 0.0],
    'pnp.dot list': lambda x: pnp.dot(x, [1j, 0.0, 0.0]),
    'numpy.add list': lambda x: np.add(x, [1j, 0.0, 0.0]),
    'fancy indexing then a complex array': lambda x: x[np.array([0, 0, 2])] * C,
    'a complex array indexed by a mask': lambda x: x[:2] + C[C.real > 1],
    'numpy.where with a complex branch': lambda x: np.where([True, False, True], x, C),
    'pnp.stack with a complex scalar': lambda x: pnp.stack([x[0], np.complex128(1j)]),
}


@pytest.mark.parametrize('name', list(COMPLEX_MEETS_TRACED))
@pytest.mark.parametrize('op', [grad, jacobian])
def test_a_complex_constant_meeting_a_traced_value_is_right_or_refused(name, op):
    """Each of these once ran, and the derivative of |f(x)| silently ignored the
    imaginary part (or the call failed with an internal error).  Now the derivative
    is right (against central differences), or the primitive refuses complex values
    with an error naming it."""
    f = COMPLEX_MEETS_TRACED[name]

    def h(x):
        return pnp.sum(pnp.abs(f(x)))
    try:
        got = op(h)(X)
    except TypeError as e:
        assert 'does not support complex values' in str(e), str(e)
        return
    eps = 1e-6
    want = [(h(X + eps * e) - h(X - eps * e)) / (2 * eps) for e in np.eye(len(X))]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_real_lists_and_constants_in_the_same_places_still_differentiate():
    w = [1.0, 0.0, 2.0]
    assert np.array_equal(grad(lambda x: x @ w)(X), w)
    assert np.array_equal(grad(lambda x: pnp.dot(x, tuple(w)))(X), w)
    assert np.array_equal(grad(lambda x: pnp.sum([[1.0, 1.0, 1.0]] @ x))(X), [1.0, 1.0, 1.0])
    assert np.array_equal(grad(lambda x: pnp.sum(x + w))(X), np.ones(3))
    assert np.array_equal(grad(lambda x: pnp.sum(pnp.pad(x, 1, constant_values=2.0) ** 2))(X), 2 * X)
    assert np.array_equal(grad(lambda x: pnp.sum(pnp.array([x[0], 2.0]) ** 2))(X), [2.0, 0.0, 0.0])
    assert np.array_equal(grad(lambda x: pnp.sum(x.clip(0.0, 2.5)))(X), [1.0, 1.0, 0.0])
    # and on plain values these are NumPy's, complex included
    assert np.array_equal(pnp.pad(C, 1, constant_values=1j), np.pad(C, 1, constant_values=1j))
    assert np.array_equal(pnp.matmul([[1.0, 2.0]], [1.0, 1.0]), [3.0])
    assert pnp.dot([1.0, 2.0], [3.0, 4.0]) == 11.0


def test_matmul_with_a_list_operand_against_finite_differences():
    from pyad.testing import check_grads
    for dtype in (np.float64, np.float32):
        x = np.array([[0.3, -1.2], [0.7, 2.0]], dtype=dtype)
        check_grads(lambda a: pnp.sum(pnp.tanh(a @ [[1.0, -0.5], [0.25, 2.0]])), x)
        check_grads(lambda a: pnp.sum(pnp.dot([0.5, -1.5], a) ** 2), x)


# ------------------------------------------------------------------ slogdet at a singular matrix
SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]])


def test_slogdet_at_a_singular_matrix_is_numpys_value():
    import pyad.linalg as la
    assert tuple(la.slogdet(SINGULAR)) == tuple(np.linalg.slogdet(SINGULAR)) == (0.0, -np.inf)
    # in reverse mode too, where only the sign is used: it has no derivative
    seen = []

    def f(a):
        sign, logabsdet = la.slogdet(a)
        seen.append(float(stop_gradient(logabsdet)))
        return sign * 1.0 + pnp.sum(a)
    assert np.array_equal(grad(f)(SINGULAR), np.ones((2, 2)))
    assert seen == [-np.inf]
    # forward mode computes every derivative as it goes, used or not: it raises, and
    # the message says how to read the sign alone
    with pytest.raises(la.LinAlgError, match=r'stop_gradient\(A\)\)\.sign'):
        jacobianv(f)(SINGULAR, SINGULAR)
    assert np.array_equal(
        jacobianv(lambda a: la.slogdet(stop_gradient(a)).sign + pnp.sum(a))(SINGULAR,
                                                                            np.ones((2, 2))),
        4.0)


@pytest.mark.parametrize('op', [grad, jacobian, hessian])
@pytest.mark.parametrize('via', ['pyad.linalg', 'numpy.linalg'])
def test_slogdet_derivative_at_a_singular_matrix_is_a_clear_error(op, via):
    import pyad.linalg as la
    slogdet = la.slogdet if via == 'pyad.linalg' else np.linalg.slogdet
    with pytest.raises(la.LinAlgError) as info:
        op(lambda a: slogdet(a).logabsdet)(SINGULAR)
    message = str(info.value)
    assert message.startswith('slogdet: ') and 'singular' in message
    assert 'det(A)' in message             # the way out: det's derivative exists there


def test_slogdet_derivative_names_the_singular_matrix_of_a_stack():
    import pyad.linalg as la
    stack = np.stack([np.eye(2), 2 * np.eye(2), SINGULAR])
    with pytest.raises(la.LinAlgError, match=r'index \(2,\) of the stack'):
        grad(lambda a: pnp.sum(la.slogdet(a).logabsdet))(stack)
    # away from it, the derivative is inv(A).T
    assert np.allclose(grad(lambda a: pnp.sum(la.slogdet(a).logabsdet))(stack[:2]),
                       np.linalg.inv(stack[:2]).transpose(0, 2, 1))


def test_reshape_names_a_bad_new_shape():
    # NumPy refuses float lengths: pyad does not truncate them silently
    with pytest.raises(TypeError, match=r'reshape: the new shape must be integers, got \(2\.5, 3\)'):
        pnp.reshape(np.ones(6), (2.5, 3))
    with pytest.raises(ValueError, match='cannot reshape an array of size 6 into shape'):
        pnp.reshape(np.ones(6), (4, -1))
    with pytest.raises(ValueError, match='only specify one unknown dimension'):
        pnp.reshape(np.ones(6), (-1, -1))
    assert pnp.reshape(np.ones(6), (2, np.int64(3))).shape == (2, 3)
