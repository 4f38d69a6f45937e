"""Buffer reuse: an elementwise operation writes its result into an argument that
dies there, instead of into a new array.

Safe when the argument's buffer belongs to the program alone: it was made by an
elementwise operation (never a view, never an input or a constant), nothing
else reads it in a way that could keep a view of it, nothing writes into it, and
it has the result's shape and dtype (so the ufunc computes the same bits with
``out=``).  NumPy arrays only.
"""
import operator

import numpy

_AS_UFUNC = {operator.add: numpy.add, operator.sub: numpy.subtract,
             operator.mul: numpy.multiply, operator.truediv: numpy.true_divide,
             operator.neg: numpy.negative}


def elementwise_ufunc(node):
    """The NumPy ufunc an elementwise node computes, or None."""
    if node.kind != 'call' or node.kwargs or node.writes or len(node.outs) != 1:
        return None
    fn = node.fn
    if type(fn) is numpy.ufunc and fn.nout == 1:
        return fn
    return _AS_UFUNC.get(fn)


def plan(nodes, recording, keep, last_uses, reads):
    """{node index: variable whose buffer the node's result is written into}."""
    meta = recording.meta
    fresh = set()
    unsafe = set(keep) | set(recording.constants)
    for node in nodes:
        if node.kind == 'guard':
            continue
        if elementwise_ufunc(node) is None:
            unsafe.update(reads(node))       # may keep a view of what it reads
        unsafe.update(node.writes)
    out = {}
    for i, node in enumerate(nodes):
        ufunc = elementwise_ufunc(node)
        if ufunc is None:
            continue
        n = node.outs[0]
        if n not in meta:
            continue
        dying = set(last_uses.get(i, ()))
        for a in node.args:
            k = getattr(a, 'n', None)
            if k in dying and k in fresh and k not in unsafe and meta.get(k) == meta[n]:
                out[i] = (ufunc, k)
                break
        fresh.add(n)
    return out
