"""Scalar loops over arrays as Python lists: a 1-D float64 array that the program
only reads element by element (``x.item(i)``, many times) is turned into a list
once (``x.tolist()``), and an adjoint buffer made by ``zeros`` that is only
written element by element (``buf[i] = s``, ``buf[i] += g``) is kept as a list of
Python floats until something reads it as an array (then ``array(buf)``).

The same IEEE operations on the same values: a list element is the Python float
``x.item(i)`` gives, ``0.0 + g`` on a list element is what it is on a float64
element, and ``array`` of Python floats is float64 -- so the same bits, at a
fraction of the cost of NumPy's scalar indexing (~40 ns against ~150-300 ns).
"""
import numpy

from .trace import Var

_MIN_READS = 16         # fewer element reads of an array than this: not worth a list


def _one_d_float64(recording, n):
    meta = recording.meta.get(n)
    return meta is not None and len(meta[0]) == 1 and meta[1] == numpy.float64


def _int(x):
    return type(x) is int


def read_lists(nodes, recording, written):
    """{array variable: index of its first element read} for the arrays to read as lists."""
    counts, first = {}, {}
    for i, node in enumerate(nodes):
        if node.kind == 'method' and node.fn == 'item' and len(node.args) == 2 \
                and type(node.args[0]) is Var and _int(node.args[1]):
            n = node.args[0].n
            counts[n] = counts.get(n, 0) + 1
            first.setdefault(n, i)
    return {n: first[n] for n, c in counts.items()
            if c >= _MIN_READS and n not in written and _one_d_float64(recording, n)}


def _element_write(node, n, increments, i, scalars):
    """Is node i a write of one float64 number into one element of variable n
    (``n[k] = s`` or ``n[k] += g``)?"""
    if i in increments:
        target, index, value = increments[i]
    elif node.kind == 'setitem':
        target, index, value = node.args
    else:
        return False
    number = type(value) is float or (type(value) is Var and value.n in scalars)
    return number and type(target) is Var and target.n == n and _int(index)


def buffer_lists(nodes, recording, reads, increments, skipped):
    """{buffer variable: (index of the node that makes it, index of the first node
    that reads it as an array, or None: at the return)} for the buffers to keep as lists."""
    made = {}
    for i, node in enumerate(nodes):
        if node.kind == 'call' and node.fn is numpy.zeros and len(node.outs) == 1 \
                and _one_d_float64(recording, node.outs[0]):
            made[node.outs[0]] = i
    plans = {}
    for n, start in made.items():
        writes, end = 0, None
        for i in range(start + 1, len(nodes)):
            if i in skipped:
                continue
            node = nodes[i]
            if _element_write(node, n, increments, i, recording.scalars):
                writes += 1
            elif n in reads(node) or n in node.writes:
                end = i
                break
        if writes:
            plans[n] = (start, end)
    return plans


def rewrite(nodes, recording, reads, increments, skipped, written):
    """What the lists change in the program: ({node index: statements to put
    before it}, {node index: its statement}, statements before the return); the
    statements are functions of ``name`` (how the program names numpy.array)."""
    before, replace, at_return = {}, {}, []
    for n, i in read_lists(nodes, recording, written).items():
        before.setdefault(i, []).append(lambda name, n=n: f'v{n}_items = v{n}.tolist()')
        for j, node in enumerate(nodes):
            if node.kind == 'method' and node.fn == 'item' and type(node.args[0]) is Var \
                    and node.args[0].n == n and len(node.args) == 2 and _int(node.args[1]):
                replace[j] = lambda name, out=node.outs[0], k=node.args[1], n=n: \
                    f'v{out} = v{n}_items[{k}]'
    for n, (start, end) in buffer_lists(nodes, recording, reads, increments, skipped).items():
        size = recording.meta[n][0][0]
        replace[start] = lambda name, n=n, size=size: f'v{n} = [0.0] * {size}'
        convert = (lambda name, n=n: f'v{n} = {name}(v{n})')
        (at_return if end is None else before.setdefault(end, [])).append(convert)
    return before, replace, at_return
