"""Splitting the trace of a function and its pullback into a forward program and a
backward program, as a custom VJP's ``fwd`` and ``bwd``.

The trace of ``x, ct -> (f(x), pullback(ct))`` is one straight-line program: f's
nodes, then (from ``first`` on) the sweep's.  The backward part is the sweep's
nodes and whatever depends on the cotangents ``ct`` (the inputs of the program
for the cotangents; a scalar output's cotangent may be folded in as a constant 1
instead, see derive.py).  The rest is the forward program: it computes f's
outputs and, as extra outputs, the *residuals* -- the values it made that the
backward part reads.  The backward program takes the inputs, the residuals and
the cotangents.  Together they make the same calls in the same order as the joint
program, so the same bits.

A node belongs to the backward part also when it reads a value of that part or
writes into one.  A node of it that writes into an array made by the forward part
(``zeros_like(x)`` filled by the sweep) moves that array's making to the backward
program too, and with it whatever it may be a view of; the forward program must
then not need it, and nothing may write into an input.  Where these conditions
fail there is no split (``None``): the caller recomputes.
"""
import copy

from .codegen import reads, vars_in

def _backward_nodes(nodes, first, ct_vars, forced):
    """(indices of the nodes of the sweep -- from ``first`` on --, those that depend
    on ct or are forced, and the variables they define or write into)."""
    dv, dn = set(ct_vars), set()
    for i, node in enumerate(nodes):
        if i >= first or i in forced or any(n in dv for n in reads(node)) \
                or any(n in dv for n in node.writes):
            dn.add(i)
            dv.update(node.outs)
            dv.update(node.writes)
    return dn, dv


def _makers(i, nodes, creator, into):
    """Add node i to ``into`` and, as its result may be a view of what it reads, the
    nodes that made those values (inputs and constants have no maker: they are read,
    never written, by the backward program)."""
    stack = [i]
    while stack:
        j = stack.pop()
        if j in into:
            continue
        into.add(j)
        for n in reads(nodes[j]):
            if n in creator:
                stack.append(creator[n])
    return True


def backward_part(recording, first, ct_vars, needed):
    """(backward node indices, their variables), or None when the trace cannot be
    split so that the forward part computes ``needed`` (f's outputs) untouched."""
    nodes = recording.nodes
    creator = {n: i for i, node in enumerate(nodes) for n in node.outs}
    inputs = set(recording.inputs)
    forced = set()
    while True:
        dn, dv = _backward_nodes(nodes, first, ct_vars, forced)
        more = set()
        for i in dn:
            for w in nodes[i].writes:
                if w in inputs or w in recording.constants:
                    return None
                c = creator.get(w)
                if c is None:
                    return None
                if c not in dn:
                    _makers(c, nodes, creator, more)
        more -= dn
        if not more:
            break
        forced |= more
    if any(n in dv for n in needed) or _writes_after_read(nodes, dn):
        return None
    return dn, dv


def _writes_after_read(nodes, dn):
    """Does a forward node write into a value that a backward node read before it
    (an order the two programs could not keep)?"""
    read_by_backward = {}
    for i in sorted(dn):
        for n in reads(nodes[i]):
            read_by_backward.setdefault(n, i)
    return any(i not in dn and read_by_backward.get(w, len(nodes)) < i
               for i, node in enumerate(nodes) for w in node.writes)


def split(recording, out_template, grad_template, ct_vars, first):
    """(forward recording, residual variables, backward recording), or None.
    ``first``: the index of the first node of the sweep.

    The forward recording's inputs are the joint one's minus the cotangents; its
    outputs should be ``out_template`` followed by the residuals.  The backward
    recording's inputs are those inputs, the residuals and the cotangents."""
    needed = vars_in(out_template, [])
    part = backward_part(recording, first, ct_vars, needed)
    if part is None:
        return None
    dn, dv = part
    nodes = recording.nodes
    backward = [node for i, node in enumerate(nodes) if i in dn]
    x_inputs = [n for n in recording.inputs if n not in set(ct_vars)]
    known = dv | set(x_inputs) | set(recording.constants)
    residuals = []
    for n in vars_in(grad_template, [n for node in backward for n in reads(node)]):
        if n not in known and n not in residuals:
            residuals.append(n)
    forward_rec = _part(recording, [node for i, node in enumerate(nodes) if i not in dn],
                        x_inputs)
    backward_rec = _part(recording, backward, x_inputs + residuals + list(ct_vars))
    return forward_rec, residuals, backward_rec


def _part(recording, nodes, inputs):
    part = copy.copy(recording)
    part.nodes = nodes
    part.inputs = inputs
    return part
