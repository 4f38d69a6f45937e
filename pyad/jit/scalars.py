"""Scalar arithmetic on Python floats: a node that adds, subtracts, multiplies or
negates float64 scalars is written as Python arithmetic (``v3 = v1 * v2``) instead
of a NumPy ufunc call on NumPy scalars (~30 ns against ~700 ns).

IEEE arithmetic gives the same bits either way.  The result is a Python float
instead of a NumPy float64, which behaves differently only next to arrays of
another dtype (a float64 scalar is "strong" in NumPy's promotion, a Python float
"weak") or under array methods: so a node is rewritten only when every node that
reads its result is rewritten too, takes a Python float alike (a guard, a math
function, a reshape to an array) or it is an output of the program.  Division
is left to NumPy (a Python float divided by zero raises).
"""
import operator

import numpy

from .trace import Var

SYMBOLS = {numpy.add: '+', operator.add: '+', numpy.subtract: '-', operator.sub: '-',
           numpy.multiply: '*', operator.mul: '*'}
_NEGATIVE = (numpy.negative, operator.neg)
_SCALAR_CONSTANTS = (float, int, numpy.float64)


def _number(c):
    """c as a finite Python float if it is a float64 number or 0-d array, else None."""
    if type(c) in _SCALAR_CONSTANTS or (type(c) is numpy.ndarray and c.shape == ()
                                        and c.dtype == numpy.float64):
        value = float(c)
        return value if numpy.isfinite(value) else None
    return None


def _operand(a, recording):
    if type(a) is Var:
        return a.n in recording.scalars or (a.n in recording.constants
                                            and _number(recording.constants[a.n]) is not None)
    return type(a) is not bool and _number(a) is not None


def _candidate(node, recording):
    if node.kind != 'call' or node.kwargs or node.writes or len(node.outs) != 1:
        return False
    if node.outs[0] not in recording.scalars:
        return False
    arity = 2 if node.fn in SYMBOLS else 1 if node.fn in _NEGATIVE else 0
    return arity == len(node.args) and all(_operand(a, recording) for a in node.args)


def plan(nodes, recording, reads):
    """The indices of the nodes to write as Python arithmetic."""
    chosen = {i for i, node in enumerate(nodes) if _candidate(node, recording)}
    readers = {}
    for i, node in enumerate(nodes):
        for n in reads(node):
            readers.setdefault(n, []).append(i)
    changed = True
    while changed:
        changed = False
        for i in list(chosen):
            out = nodes[i].outs[0]
            if any(j not in chosen and not _takes_float(nodes[j], out, recording)
                   for j in readers.get(out, ())):
                chosen.discard(i)
                changed = True
    return chosen


def _takes_float(node, n, recording):
    """Does ``node`` do the same with a Python float as with a NumPy float64 in
    variable n?  A guard, a function of the math module, and writing n as the value
    of ``a[i] = n`` (the same conversion either way) do, and so do
    ``numpy.reshape(n, shape)`` to at least one axis (a float64 array either way;
    to shape () a NumPy float64 would stay a scalar) and a ufunc or an operator of
    n and a float64 array (whose dtype the result takes either way)."""
    if node.kind == 'guard':
        return True
    if node.kind == 'call':
        return (getattr(node.fn, '__module__', None) == 'math' or _reshaped_to_array(node, n)
                or _with_float64_array(node, n, recording))
    if node.kind == 'setitem':
        target, index, _ = node.args
        return not (type(target) is Var and target.n == n) and n not in _vars(index)
    return False


def _reshaped_to_array(node, n):
    if node.fn is not numpy.reshape or len(node.args) != 2 or node.kwargs:
        return False
    x, shape = node.args
    if type(shape) is int:
        shape = (shape,)
    return (type(x) is Var and x.n == n and type(shape) is tuple and len(shape) >= 1
            and all(type(d) is int for d in shape))


_OPERATORS = frozenset((operator.add, operator.sub, operator.mul, operator.truediv,
                        operator.floordiv, operator.mod, operator.pow, operator.lt, operator.le,
                        operator.gt, operator.ge, operator.eq, operator.ne))


def _with_float64_array(node, n, recording):
    if node.kwargs or not (isinstance(node.fn, numpy.ufunc) or node.fn in _OPERATORS):
        return False
    others = [a for a in node.args if not (type(a) is Var and a.n == n)]
    if len(others) == len(node.args):
        return False
    float64 = numpy.dtype(numpy.float64)
    return any(type(a) is Var and len(recording.meta.get(a.n, ((),))[0]) >= 1
               and recording.meta[a.n][1] == float64 for a in others)


def _vars(obj):
    from .codegen import vars_in
    return vars_in(obj, [])


def source(node, expr, recording):
    """Python arithmetic for a chosen node (``expr`` writes a variable)."""
    def operand(a):
        if type(a) is Var and a.n in recording.constants:
            a = recording.constants[a.n]
        if type(a) is Var:
            return expr(a)
        return repr(_number(a))
    if node.fn in _NEGATIVE:
        return f'v{node.outs[0]} = -{operand(node.args[0])}'
    a, b = node.args
    symbol = SYMBOLS[node.fn]
    for x, one in ((a, b), (b, a)):
        if symbol == '*' and type(x) is Var and x.n in recording.scalars \
                and _constant_number(one, recording) == 1.0:
            return f'v{node.outs[0]} = {expr(x)}'      # x * 1.0 is x, bit for bit
    return f'v{node.outs[0]} = {operand(a)} {symbol} {operand(b)}'


def _constant_number(c, recording):
    if type(c) is Var:
        if c.n not in recording.constants:
            return None
        c = recording.constants[c.n]
    return None if type(c) is bool else _number(c)


def augmented(nodes, reads):
    """``t = a[i]; u = t + g; a[i] = u`` with t and u read nowhere else, as
    ``a[i] += g`` (the same operations): {index of the write: (a, i, g)}, and
    the indices of the two nodes it replaces."""
    count = {}
    for node in nodes:
        for n in reads(node):
            count[n] = count.get(n, 0) + 1
    found, skipped = {}, set()
    for j in range(2, len(nodes)):
        triple = _increment(nodes[j - 2], nodes[j - 1], nodes[j], count)
        if triple is not None:
            found[j] = triple
            skipped.update((j - 2, j - 1))
    return found, skipped


def _kinds_of_increment(read, add, write):
    return (read.kind == 'getitem' and add.kind == 'call' and write.kind == 'setitem'
            and add.fn in (operator.add, numpy.add) and not add.kwargs and len(add.args) == 2
            and bool(read.outs) and bool(add.outs))


def _increment(read, add, write, count):
    """(a, i, g) if the three nodes are ``t = a[i]; u = t + g; a[i] = u`` (int i; t
    and u read once), else None."""
    if not _kinds_of_increment(read, add, write):
        return None
    t, u = read.outs[0], add.outs[0]
    first = add.args[0]
    target, index, value = write.args
    if type(first) is Var and first.n == t and type(value) is Var and value.n == u \
            and _same(target, read.args[0]) and _same(index, read.args[1]) \
            and count.get(t) == 1 and count.get(u) == 1 and _int_index(index):
        return target, index, add.args[1]
    return None


def _int_index(index):
    return type(index) is int or (type(index) is tuple and all(type(i) is int for i in index))


def _same(a, b):
    if type(a) is Var:
        return type(b) is Var and a.n == b.n
    return type(a) is type(b) and a == b
