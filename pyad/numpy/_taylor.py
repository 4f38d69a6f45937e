"""Taylor-mode rules: recurrences for the truncated Taylor series of each
elementary function (Griewank & Walther, "Evaluating Derivatives", ch. 13).

With a = x_0 + x_1 t + ... the series of the input and y that of the output,
each recurrence gives y_k from y_0 .. y_{k-1} in O(k) work.  Linear primitives
push each coefficient through their JVP rule; bilinear ones take a Cauchy product.
"""
from .._core.taylor import full_series, add_terms, linear_rule, bilinear_rule
from .._core.box import innermost
from . import elementwise as ew
from . import manipulation as sh
from . import reductions as red
from . import indexing as ix
from . import products as prod


def _times(c, x):
    return None if x is None else c * x


def _mul(x, y):
    return None if x is None or y is None else x * y


def _unary(recurrence):
    def rule(primals, series, ans, params, n, prim):
        a = full_series(primals[0], series[0], n)
        return recurrence(a, ans, n)[1:]
    return rule


def _exp(a, y0, n):
    # y' = y a'  =>  k y_k = sum_{j=1..k} j a_j y_{k-j}
    y = [y0]
    for k in range(1, n + 1):
        y.append(_times(1.0 / k, add_terms(_times(j, _mul(a[j], y[k - j])) for j in range(1, k + 1))))
    return y


def _log(a, y0, n):
    # a y' = a'  =>  y_k = (a_k - (1/k) sum_{j=1..k-1} j y_j a_{k-j}) / a_0
    # (divisions through ew.divide: a Python float 0 gives inf/nan, as NumPy's does)
    y = [y0]
    for k in range(1, n + 1):
        s = add_terms(_times(j, _mul(y[j], a[k - j])) for j in range(1, k))
        num = add_terms([a[k], _times(-1.0 / k, s)])
        y.append(None if num is None else ew.divide(num, a[0]))
    return y


def _sincos(a, n):
    s = [ew.sin(a[0])]
    c = [ew.cos(a[0])]
    for k in range(1, n + 1):
        s.append(_times(1.0 / k, add_terms(_times(j, _mul(a[j], c[k - j])) for j in range(1, k + 1))))
        c.append(_times(-1.0 / k, add_terms(_times(j, _mul(a[j], s[k - j])) for j in range(1, k + 1))))
    return s, c


def _tanh(a, y0, n):
    # y' = (1 - y^2) a'
    y = [y0]
    z = [1.0 - y0 * y0]
    for k in range(1, n + 1):
        y.append(_times(1.0 / k, add_terms(_times(j, _mul(a[j], z[k - j])) for j in range(1, k + 1))))
        z.append(_times(-1.0, add_terms(_mul(y[i], y[k - i]) for i in range(k + 1))))
    return y


def _sqrt(a, y0, n):
    # y^2 = a  =>  y_k = (a_k - sum_{j=1..k-1} y_j y_{k-j}) / (2 y_0)
    y = [y0]
    for k in range(1, n + 1):
        num = add_terms([a[k], _times(-1.0, add_terms(_mul(y[j], y[k - j]) for j in range(1, k)))])
        y.append(None if num is None else ew.divide(num, 2.0 * y0))
    return y


def _divide_rule(primals, series, ans, params, n, prim):
    # c = a / b  =>  c_k = (a_k - sum_{j=1..k} b_j c_{k-j}) / b_0
    a = full_series(primals[0], series[0], n)
    b = full_series(primals[1], series[1], n)
    c = [ans]
    for k in range(1, n + 1):
        num = add_terms([a[k], _times(-1.0, add_terms(_mul(b[j], c[k - j]) for j in range(1, k + 1)))])
        c.append(None if num is None else ew.divide(num, b[0]))
    return c[1:]


def _power_rule(primals, series, ans, params, n, prim):
    # y = a^p, p constant: a y' = p y a'  =>
    # y_k = (1 / (k a_0)) sum_{j=0..k-1} (p (k - j) - j) a_{k-j} y_j
    x, p = primals
    if series[1] is not None or not isinstance(innermost(p), (int, float)) \
            or not _nonzero(x):
        from .._core.taylor import generic_rule
        return generic_rule(primals, series, ans, params, n, prim)
    a = full_series(x, series[0], n)
    y = [ans]
    for k in range(1, n + 1):
        s = add_terms(_times(p * (k - j) - j, _mul(a[k - j], y[j])) for j in range(k))
        y.append(None if s is None else s / (k * x))
    return y[1:]


def _nonzero(x):
    import numpy
    return bool(numpy.all(numpy.asarray(innermost(x)) != 0))


def _sin_rule(primals, series, ans, params, n, prim):
    return _sincos(full_series(primals[0], series[0], n), n)[0][1:]


def _cos_rule(primals, series, ans, params, n, prim):
    return _sincos(full_series(primals[0], series[0], n), n)[1][1:]


def _square_rule(primals, series, ans, params, n, prim):
    a = full_series(primals[0], series[0], n)
    return [add_terms(_mul(a[j], a[k - j]) for j in range(k + 1)) for k in range(1, n + 1)]


for _p in (ew.add, ew.subtract, ew.negative, ew.positive, sh._reshape, sh._transpose,
           sh._broadcast_to, sh._astype, red._sum, red._mean, ix.getitem, ix.getitem_element,
           ix.scatter_add):
    _p.taylor = linear_rule
for _p in (ew.multiply, ew.scaled_multiply, prod._matmul):
    _p.taylor = bilinear_rule
ew.exp.taylor = _unary(_exp)
ew.log.taylor = _unary(_log)
ew.tanh.taylor = _unary(_tanh)
ew.sqrt.taylor = _unary(_sqrt)
ew.sin.taylor = _sin_rule
ew.cos.taylor = _cos_rule
ew.square.taylor = _square_rule
ew.divide.taylor = _divide_rule
ew.power.taylor = _power_rule
