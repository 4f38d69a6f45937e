"""Fusing chains of elementwise arithmetic into one loop (the optional ``numba``
extra: ``pip install pyad[jit]``).

A chain is a tree of float64 additions, subtractions, multiplications, divisions,
negations and squares of 1-d arrays of one length (and numbers), each of whose
inner results is read only by the next operation of the chain.  It becomes one
loop compiled by numba: one pass over the data and no temporary arrays, instead
of a pass and a temporary per operation.  These are the same IEEE operations in
the same order (``square(a)`` is ``a*a``; no fast-math, NumPy's error model: a
division by zero gives inf or nan), so the same bits.  Only arrays of at least
``MIN_SIZE`` elements and chains of ``MIN_OPERATIONS``: below that the call and
the compilation (a few tenths of a second per chain, once per trace) cost more
than they save.  (numexpr was measured too: slower than NumPy's own ufuncs here,
see docs/jit.md.)  Without numba, or with ``pyad.jit.fuse.ENABLED = False``,
nothing is fused.
"""
import threading
import operator

import numpy

from .trace import Node, Var

_NOT_LOADED = object()
numba = _NOT_LOADED         # imported at the first trace (not by ``import pyad``), None if absent

ENABLED = True
MIN_SIZE = 1 << 14
MIN_OPERATIONS = 3

_BINARY = {numpy.add: '+', operator.add: '+', numpy.subtract: '-', operator.sub: '-',
           numpy.multiply: '*', operator.mul: '*', numpy.true_divide: '/',
           operator.truediv: '/'}
_UNARY = {numpy.negative: '-', operator.neg: '-', numpy.square: 'square'}


def available():
    global numba
    if numba is _NOT_LOADED:
        try:
            import numba as module
        except ImportError:         # the extra is optional
            module = None
        numba = module
    return numba is not None and ENABLED


def _number(c, recording):
    """c as a Python float if it is a number, or a constant float64 array all of one
    value laid out by broadcasting (zero strides); else None."""
    if type(c) is Var:
        if c.n not in recording.constants:
            return None
        c = recording.constants[c.n]
    if type(c) is float or type(c) is numpy.float64 or type(c) is int and type(c) is not bool:
        return float(c)
    if type(c) is numpy.ndarray and c.dtype == numpy.float64 and c.size and not any(c.strides):
        return float(c.flat[0])
    return None


def _large_vector(meta):
    """(shape, dtype) of a 1-d float64 array of at least MIN_SIZE elements?"""
    return meta is not None and meta[1] == numpy.float64 and len(meta[0]) == 1 \
        and meta[0][0] >= MIN_SIZE


def _operation(node, recording):
    """'+', '-', ..., 'square' for a fusable node (all of whose array operands have its
    result's shape, float64), else None."""
    if node.kind != 'call' or node.kwargs or node.writes or len(node.outs) != 1:
        return None
    symbol = _BINARY.get(node.fn) if len(node.args) == 2 else \
        _UNARY.get(node.fn) if len(node.args) == 1 else None
    meta = recording.meta.get(node.outs[0])
    if symbol is None or not _large_vector(meta):
        return None
    for a in node.args:
        if _number(a, recording) is None and not (type(a) is Var and recording.meta.get(a.n) == meta):
            return None
    return symbol


def plan(nodes, recording, keep, reads):
    """{index of a chain's last node: (expression, [input variables])}, and the
    indices of the nodes the chains absorb."""
    ops = {i: _operation(node, recording) for i, node in enumerate(nodes)}
    if not any(ops.values()) or not available():      # (numba is imported only if needed)
        return {}, set()
    producer = {node.outs[0]: i for i, node in enumerate(nodes) if ops[i]}
    inline = _inlined(nodes, ops, producer, keep, reads)
    chains, absorbed = {}, set()
    for i, node in enumerate(nodes):
        if not ops[i] or node.outs[0] in inline:
            continue
        inputs, count = [], [0]
        expr = _expression(i, nodes, ops, producer, inline, recording, inputs, count, absorbed)
        if count[0] >= MIN_OPERATIONS:
            chains[i] = (expr, inputs)
        else:
            absorbed.difference_update(_inner(i, nodes, producer, inline))
    return chains, absorbed


def _inlined(nodes, ops, producer, keep, reads):
    """The results of fusable nodes that one other fusable node alone reads (never
    written in place, never kept)."""
    readers = {}
    for i, node in enumerate(nodes):
        for n in reads(node):
            readers.setdefault(n, []).append(i)
        for n in node.writes:
            readers.setdefault(n, []).append(-1)
    return {n for n in producer
            if n not in keep and len(readers.get(n, ())) == 1 and ops.get(readers[n][0])}


def _inner(i, nodes, producer, inline):
    out = set()
    for a in nodes[i].args:
        if type(a) is Var and a.n in inline:
            j = producer[a.n]
            out.add(j)
            out |= _inner(j, nodes, producer, inline)
    return out


def _expression(i, nodes, ops, producer, inline, recording, inputs, count, absorbed):
    count[0] += 1
    parts = []
    for a in nodes[i].args:
        if type(a) is Var and a.n in inline:
            j = producer[a.n]
            absorbed.add(j)
            parts.append(_expression(j, nodes, ops, producer, inline, recording, inputs, count,
                                     absorbed))
            continue
        value = _number(a, recording)
        if value is not None:
            parts.append(f'({value!r})')
            continue
        if a.n not in inputs:
            inputs.append(a.n)
        parts.append(f'i{inputs.index(a.n)}[j]')
    symbol = ops[i]
    if symbol == 'square':
        return f'({parts[0]}*{parts[0]})'
    if len(parts) == 1:
        return f'(-{parts[0]})'
    return f'({parts[0]}{symbol}{parts[1]})'


_kernels = {}
_lock = threading.Lock()


def kernel(expr, count):
    """The compiled loop of an expression of ``count`` 1-d float64 inputs i0, i1, ...
    (one per expression: a retrace reuses it)."""
    with _lock:
        fn = _kernels.get((expr, count))
        if fn is None:
            params = ', '.join(f'i{k}' for k in range(count))
            source = (f'def fused({params}):\n'
                      f'    out = numpy.empty(i0.shape[0])\n'
                      f'    for j in range(out.shape[0]):\n'
                      f'        out[j] = {expr}\n'
                      f'    return out\n')
            scope = {'numpy': numpy}
            exec(compile(source, '<pyad.jit fused>', 'exec'), scope)
            fn = _kernels[(expr, count)] = numba.njit(error_model='numpy')(scope['fused'])
        return fn


def apply(nodes, recording, keep, reads):
    """The nodes with each chain replaced by one call (a Node whose fn is the
    compiled loop), and {its result variable: (the expression, its input
    variables)} to show beside it."""
    chains, absorbed = plan(nodes, recording, keep, reads)
    if not chains:
        return nodes, {}
    out, shown = [], {}
    for i, node in enumerate(nodes):
        if i in chains:
            expr, inputs = chains[i]
            node = Node('call', kernel(expr, len(inputs)), tuple(Var(n) for n in inputs), {},
                        node.outs, None, [], node.line)
            shown[node.outs[0]] = (expr.replace('[j]', ''), inputs)
        elif i in absorbed:
            continue
        out.append(node)
    return out, shown
