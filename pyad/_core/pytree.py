"""Pytrees: nested tuples, lists and dicts of leaves (floats, arrays, boxes).

Derivatives come back in the structure of what was differentiated.  ``None`` is
an empty subtree (no leaves), as in JAX.  Dicts are flattened in sorted key
order so that two dicts with the same keys always line up.
"""


class TreeDef:
    """The shape of a pytree without its leaves."""
    __slots__ = ('kind', 'meta', 'children', 'num_leaves')

    def __init__(self, kind, meta, children):
        self.kind = kind            # 'leaf', 'none', 'tuple', 'namedtuple', 'list', 'dict'
        self.meta = meta            # the namedtuple type, or the dict's sorted keys
        self.children = children
        self.num_leaves = 1 if kind == 'leaf' else sum(c.num_leaves for c in children)

    def __eq__(self, other):
        return (isinstance(other, TreeDef) and self.kind == other.kind
                and self.meta == other.meta and self.children == other.children)

    def __hash__(self):
        return hash((self.kind, self.children))

    def __repr__(self):
        if self.kind == 'leaf':
            return '*'
        if self.kind == 'none':
            return 'None'
        if self.kind == 'dict':
            return '{' + ', '.join(f'{k!r}: {c!r}' for k, c in zip(self.meta, self.children)) + '}'
        inner = ', '.join(repr(c) for c in self.children)
        return f'[{inner}]' if self.kind == 'list' else f'({inner})'


_LEAF = TreeDef('leaf', None, ())
_NONE = TreeDef('none', None, ())


def _flatten_into(tree, leaves):
    t = type(tree)
    if t is tuple:
        return TreeDef('tuple', None, tuple(_flatten_into(c, leaves) for c in tree))
    if t is list:
        return TreeDef('list', None, tuple(_flatten_into(c, leaves) for c in tree))
    if t is dict:
        keys = tuple(sorted(tree))
        return TreeDef('dict', keys, tuple(_flatten_into(tree[k], leaves) for k in keys))
    if tree is None:
        return _NONE
    if isinstance(tree, tuple) and hasattr(tree, '_fields'):
        return TreeDef('namedtuple', t, tuple(_flatten_into(c, leaves) for c in tree))
    leaves.append(tree)
    return _LEAF


def tree_flatten(tree):
    """(leaves, treedef)."""
    leaves = []
    treedef = _flatten_into(tree, leaves)
    return leaves, treedef


def tree_unflatten(treedef, leaves):
    it = iter(leaves)
    out = _build(treedef, it)
    return out


def _build(treedef, it):
    kind = treedef.kind
    if kind == 'leaf':
        return next(it)
    if kind == 'none':
        return None
    children = [_build(c, it) for c in treedef.children]
    if kind == 'tuple':
        return tuple(children)
    if kind == 'list':
        return children
    if kind == 'dict':
        return dict(zip(treedef.meta, children))
    return treedef.meta(*children)


def tree_leaves(tree):
    return tree_flatten(tree)[0]


def tree_map(fn, tree, *rest):
    """Apply ``fn`` leafwise over one or more pytrees of the same structure."""
    leaves, treedef = tree_flatten(tree)
    others = []
    for r in rest:
        rl, rd = tree_flatten(r)
        if rd != treedef:
            raise ValueError(f'tree_map: structures differ: {treedef} and {rd}')
        others.append(rl)
    return tree_unflatten(treedef, [fn(*xs) for xs in zip(leaves, *others)])


def is_leaf_tree(treedef):
    return treedef.kind == 'leaf'
