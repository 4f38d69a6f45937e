"""Bad input gets a clear error in the user's terms (never a bare internal exception)."""
import numpy as np
import pytest

import pyad.numpy as pnp
from pyad import (grad, fgrad, diff, hessian, hessianv, gradv, jacobian, jacobianv,
                  jacobianTv, vjp, jvp, laplacian, curl, div)


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
