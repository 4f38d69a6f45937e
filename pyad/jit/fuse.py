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
import operator
import re
import threading

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


_FLOATS = (numpy.dtype(numpy.float64), numpy.dtype(numpy.float32))


def _number(c, recording, dtype):
    """c as a Python float if it is a number that a ``dtype`` array meets as NumPy
    would (a Python number, or a NumPy scalar or a constant array all of one value
    laid out by broadcasting, zero strides, of that dtype); else None."""
    if type(c) is Var:
        if c.n not in recording.constants:
            return None
        c = recording.constants[c.n]
    if type(c) is float or (type(c) is int and abs(c) < 1 << 24):     # (exact in float32)
        return float(c)
    if isinstance(c, numpy.generic) and c.dtype == dtype:
        return float(c)
    if type(c) is numpy.ndarray and c.dtype == dtype and c.size and not any(c.strides):
        return float(c.flat[0])
    return None


def _scalar_input(a, recording, dtype):
    """Is ``a`` a traced float64 number, an input of a float64 chain's loop?  (In a
    float32 chain it would change the result type.)"""
    return dtype == numpy.float64 and type(a) is Var and a.n in recording.scalars \
        and a.n not in recording.constants


def _large_array(meta):
    """(shape, dtype) of a float64 or float32 array of at least MIN_SIZE elements?"""
    if meta is None or meta[1] not in _FLOATS:
        return False
    size = 1
    for d in meta[0]:
        size *= d
    return size >= MIN_SIZE


def _operation(node, recording):
    """'+', '-', ..., 'square' for a fusable node (whose array operands all have its
    result's shape and dtype), else None."""
    if node.kind != 'call' or node.kwargs or node.writes or len(node.outs) != 1:
        return None
    symbol = _BINARY.get(node.fn) if len(node.args) == 2 else \
        _UNARY.get(node.fn) if len(node.args) == 1 else None
    meta = recording.meta.get(node.outs[0])
    if symbol is None or not _large_array(meta):
        return None
    kinds = [_operand_kind(a, recording, meta) for a in node.args]
    return symbol if 'array' in kinds and None not in kinds else None


def _operand_kind(a, recording, meta):
    """'array' (of the result's shape and dtype), 'number', or None (not fusable)."""
    if type(a) is Var and recording.meta.get(a.n) == meta:
        return 'array'
    if _number(a, recording, meta[1]) is not None or _scalar_input(a, recording, meta[1]):
        return 'number'
    return None


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
        dtype = recording.meta[node.outs[0]][1]
        expr = _expression(i, nodes, ops, producer, inline, (recording, dtype), inputs, count,
                           absorbed)
        if count[0] >= MIN_OPERATIONS:
            chains[i] = (expr, inputs, dtype)
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


def _expression(i, nodes, ops, producer, inline, typed, inputs, count, absorbed):
    count[0] += 1
    recording, dtype = typed
    parts = []
    for a in nodes[i].args:
        if type(a) is Var and a.n in inline:
            j = producer[a.n]
            absorbed.add(j)
            parts.append(_expression(j, nodes, ops, producer, inline, typed, inputs, count,
                                     absorbed))
            continue
        value = _number(a, recording, dtype)
        if value is not None:
            # NumPy meets a Python number as a value of the array's dtype
            parts.append(f'({value!r})' if dtype == numpy.float64 else f'float32({value!r})')
            continue
        if a.n not in inputs:
            inputs.append(a.n)
        index = '' if _scalar_input(a, recording, dtype) else '[j]'
        parts.append(f'i{inputs.index(a.n)}{index}')
    symbol = ops[i]
    if symbol == 'square':
        return f'({parts[0]}*{parts[0]})'
    if len(parts) == 1:
        return f'(-{parts[0]})'
    return f'({parts[0]}{symbol}{parts[1]})'


_kernels = {}
_lock = threading.Lock()


def kernel(expr, count, dtype):
    """The compiled loop of an expression of ``count`` inputs i0, i1, ... (arrays of
    one shape, read over their flat C-ordered views, and float64 numbers), made
    once per expression and dtype (a retrace reuses it)."""
    with _lock:
        key = (expr, count, dtype.name)
        fn = _kernels.get(key)
        if fn is None:
            params = ', '.join(f'i{k}' for k in range(count))
            arrays = sorted({int(k) for k in re.findall(r'i(\d+)\[j\]', expr)})
            flat = ''.join(f'    i{k} = numpy.ascontiguousarray(i{k}).reshape(-1)\n'
                           for k in arrays)
            source = (f'def fused({params}):\n'
                      f'    out = numpy.empty(i{arrays[0]}.shape, numpy.{dtype.name})\n'
                      f'{flat}'
                      f'    flat = out.reshape(-1)\n'
                      f'    for j in range(flat.shape[0]):\n'
                      f'        flat[j] = {expr}\n'
                      f'    return out\n')
            scope = {'numpy': numpy, 'float32': numpy.float32}
            exec(compile(source, '<pyad.jit fused>', 'exec'), scope)
            fn = _kernels[key] = numba.njit(error_model='numpy')(scope['fused'])
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
            expr, inputs, dtype = chains[i]
            node = Node('call', kernel(expr, len(inputs), dtype), tuple(Var(n) for n in inputs), {},
                        node.outs, None, [], node.line)
            shown[node.outs[0]] = (expr.replace('[j]', ''), inputs)
        elif i in absorbed:
            continue
        out.append(node)
    return out, shown
