"""Reverse mode: a flat tape (Wengert list) per operator call, swept in reverse.

Recording appends one record per primitive application; the sweep walks the
records backwards in a plain loop (no recursion, so a tape of millions of nodes
is fine), skips records whose outputs received no cotangent (symbolic zeros),
frees each adjoint as soon as it has been propagated, and reads the adjoints of
the inputs explicitly by their slots.
"""
from .box import TapeVar


class Tape:
    __slots__ = ('records', 'size')

    def __init__(self):
        self.records = []
        self.size = 0

    def new_slot(self):
        self.size += 1
        return self.size - 1

    def input(self, primal, tag):
        """A fresh variable with no record: an input of the differentiated function."""
        return TapeVar(primal, tag, self.new_slot())


def process(prim, args, params, tag):
    primals = list(args)
    positions = []
    slots = []
    for i, a in enumerate(args):
        if type(a) is TapeVar and a.tag is tag:
            primals[i] = a.primal
            positions.append(i)
            slots.append(a.index)
    ans = prim(*primals, **params)
    tape = tag.tape
    if prim.multiple_results:
        out_slots = tuple(tape.new_slot() for _ in ans)
        tape.records.append((out_slots, prim, primals, ans, params, tuple(positions), slots))
        return type(ans)(TapeVar(a, tag, s) for a, s in zip(ans, out_slots))
    slot = tape.new_slot()
    tape.records.append((slot, prim, primals, ans, params, tuple(positions), slots))
    return TapeVar(ans, tag, slot)


def sweep(tape, seeds, wanted):
    """Propagate cotangents backwards through ``tape``.

    ``seeds``: list of (slot, cotangent); ``wanted``: the slots whose adjoints
    are returned (None where no cotangent reached them: a symbolic zero).
    The tape is left intact, so a pullback may sweep it again.
    """
    adjoint = [None] * tape.size
    for slot, ct in seeds:
        if ct is None:
            continue
        old = adjoint[slot]
        adjoint[slot] = ct if old is None else old + ct
    keep = set(wanted)
    for out_slot, prim, primals, ans, params, positions, slots in reversed(tape.records):
        if type(out_slot) is tuple:
            cts = tuple(adjoint[s] for s in out_slot)
            if all(c is None for c in cts):
                continue
            for s in out_slot:
                if s not in keep:
                    adjoint[s] = None
            g = cts
        else:
            g = adjoint[out_slot]
            if g is None:
                continue
            if out_slot not in keep:
                adjoint[out_slot] = None
        contributions = prim.apply_vjp(g, ans, primals, params, positions)
        for slot, c in zip(slots, contributions):
            if c is None:
                continue
            old = adjoint[slot]
            adjoint[slot] = c if old is None else old + c
    return [adjoint[s] for s in wanted]
