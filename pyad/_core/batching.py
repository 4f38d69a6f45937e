"""Batching (vmap): a value with a batch axis in a box, and a rule per primitive.

``vmap`` wraps each batched input in a ``BatchBox`` of a fresh tag of mode
'batch'; the box stands for one example (its ``shape`` is one example's), its
primal holds the whole batch with the batch axis first.  A primitive applied to
such boxes dispatches here, like a forward or reverse tag: the boxes of the tag
are opened, the primitive's batching rule computes the whole batch at once on
what was inside (which may be boxed at older tags: vmap nests with grad, jvp,
and vmap itself, in any order), and the result is boxed again.

A rule is registered per primitive (``register``; the rules of pyad's own
primitives are in pyad/vmap_rules.py, which the core does not import):

    rule(prim, values, batched, params, size) -> the result, batch axis first

``values`` are the arguments, batch axis first where ``batched[i]``; an argument
that is not batched is one example's value, shared by all.  A primitive without
a rule is computed one example at a time and the results stacked (``loop``):
right, but a Python loop.
"""
from .box import BatchBox
from .tags import Tag, BATCH

_RULES = {}
_STACK = []         # the stack function of the array namespace (filled by the rules module)


class BatchTag(Tag):
    """The tag of one vmap call: its batch ``size`` too."""
    __slots__ = ('size',)

    def __init__(self, size):
        super().__init__(BATCH)
        self.size = size


def register(prim, rule):
    """Give ``prim`` (a Primitive) its batching rule."""
    _RULES[prim] = rule


def rule_of(prim):
    """The batching rule of ``prim``, or None (it falls back to ``loop``)."""
    return _RULES.get(prim)


def process(prim, args, params, tag):
    values = []
    batched = []
    for a in args:
        if type(a) is BatchBox and a.tag is tag:
            values.append(a.primal)
            batched.append(True)
        else:
            values.append(a)
            batched.append(False)
    rule = _RULES.get(prim, loop)
    out = rule(prim, values, batched, params, tag.size)
    if prim.multiple_results:
        return type(out)(BatchBox(o, tag) for o in out)
    return BatchBox(out, tag)


def loop(prim, values, batched, params, size):
    """The fallback: one example at a time, the results stacked."""
    stack = _STACK[0]
    results = []
    for i in range(size):
        results.append(prim(*[v[i] if b else v for v, b in zip(values, batched)], **params))
    if prim.multiple_results:
        return tuple(stack([r[j] for r in results]) for j in range(len(results[0])))
    return stack(results)
