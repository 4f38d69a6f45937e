"""Common subexpressions: an arithmetic node that repeats an earlier one (the same
function of the same values) reuses its result.  ``grad`` and ``hessian`` of one
loss, for instance, both compute ``X @ w``.

Only ufuncs, operators, matmul and the math module's functions, whose results
are new values (never views), and reads of one element (``x.item(i)``) of an array
that nothing writes into; never a node whose result is written in place, is an output, or is a constant.
"""
import operator

import numpy

from .trace import Node, Var

_ARITHMETIC = {numpy.matmul, operator.matmul, operator.add, operator.sub, operator.mul,
               operator.truediv, operator.neg, operator.pow}


def _eligible(node, protected):
    if node.kwargs or node.writes or len(node.outs) != 1 or node.outs[0] in protected:
        return False
    if node.kind == 'method':       # x.item(i) of an array nothing writes into
        x = node.args[0]
        return node.fn == 'item' and type(x) is Var and x.n not in protected
    if node.kind != 'call':
        return False
    fn = node.fn
    arithmetic = fn in _ARITHMETIC if type(fn).__hash__ is not None else False
    return arithmetic or (type(fn) is numpy.ufunc and fn.nout == 1) \
        or getattr(fn, '__module__', None) == 'math'


def _key(obj):
    t = type(obj)
    if t is Var:
        return ('v', obj.n)
    if t is tuple or t is list:
        return (t.__name__,) + tuple(_key(o) for o in obj)
    if t in (int, float, bool, str) or obj is None:
        return (t.__name__, obj)
    return ('id', id(obj))


def _renamed(obj, rename):
    t = type(obj)
    if t is Var:
        return Var(rename[obj.n]) if obj.n in rename else obj
    if t is tuple or t is list:
        return t(_renamed(o, rename) for o in obj)
    if t is dict:
        return {k: _renamed(v, rename) for k, v in obj.items()}
    if t is slice:
        return slice(_renamed(obj.start, rename), _renamed(obj.stop, rename),
                     _renamed(obj.step, rename))
    return obj


def eliminate(nodes, protected):
    """The nodes with repeated arithmetic dropped and its readers renamed."""
    seen, rename, out = {}, {}, []
    for node in nodes:
        if rename:
            node = Node(node.kind, node.fn, _renamed(node.args, rename),
                        _renamed(node.kwargs, rename), node.outs, node.multi, node.writes,
                        node.line)
        if _eligible(node, protected):
            key = (node.fn if node.kind == 'method' else id(node.fn), _key(node.args))
            if key in seen:
                rename[node.outs[0]] = seen[key]
                continue
            seen[key] = node.outs[0]
        out.append(node)
    return out
