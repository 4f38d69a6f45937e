"""Pytrees: nested tuples, lists and dicts of leaves (floats, arrays, boxes).

Derivatives come back in the structure of what was differentiated.  ``None`` is
an empty subtree (no leaves), as in JAX.  Dicts are flattened in sorted key
order so that two dicts with the same keys always line up.  Namedtuples,
dataclass instances (their fields, in declaration order) and the types given to
``register_pytree_node`` are nodes too.
"""
import dataclasses
from typing import Any, Callable, Iterable, List, Tuple

from .. import backend
from .box import BOX_TYPES

# type -> (flatten: node -> (children, aux_data), unflatten: (aux_data, children) -> node)
_REGISTRY = {}
# no registry lookup for these
_PLAIN_LEAVES = frozenset((float, int, bool, complex, backend.ndarray) + backend.SCALAR_TYPES)


def register_pytree_node(nodetype: type, flatten: Callable[[Any], Tuple[Iterable[Any], Any]],
                         unflatten: Callable[[Any, Iterable[Any]], Any]) -> type:
    """Make instances of ``nodetype`` pytree nodes (JAX's spelling and contract):
    ``flatten(node) -> (children, aux_data)`` with children an iterable of subtrees
    and aux_data hashable, comparable static data; ``unflatten(aux_data, children)``
    rebuilds the node."""
    if not isinstance(nodetype, type):
        raise TypeError(f'register_pytree_node: expected a type, got {nodetype!r}')
    if nodetype in (tuple, list, dict, type(None)) or nodetype in _REGISTRY:
        raise ValueError(f'register_pytree_node: {nodetype.__name__} is already a pytree node')
    if not (callable(flatten) and callable(unflatten)):
        raise TypeError('register_pytree_node: flatten and unflatten must be functions')
    _REGISTRY[nodetype] = (flatten, unflatten)
    return nodetype


def _flatten_dataclass(node):
    fields = dataclasses.fields(node)
    return [getattr(node, f.name) for f in fields], tuple(f.name for f in fields)


def _unflatten_dataclass(cls, names, children):
    # built field by field (not through __init__): frozen dataclasses, fields with
    # init=False and a __post_init__ that computes fields all round-trip unchanged
    node = object.__new__(cls)
    for name, child in zip(names, children):
        object.__setattr__(node, name, child)
    return node


class TreeDef:
    """The shape of a pytree without its leaves."""
    __slots__ = ('kind', 'meta', 'children', 'num_leaves')

    def __init__(self, kind: str, meta: Any, children: Tuple['TreeDef', ...]) -> None:
        # 'leaf', 'none', 'tuple', 'namedtuple', 'list', 'dict', 'dataclass', 'custom'
        self.kind = kind
        # the namedtuple type, the dict's sorted keys, (dataclass, field names),
        # or (registered type, aux_data)
        self.meta = meta
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
        if self.kind in ('dataclass', 'custom'):
            return f'{self.meta[0].__name__}({inner})'
        return f'[{inner}]' if self.kind == 'list' else f'({inner})'


_LEAF = TreeDef('leaf', None, ())
_NONE = TreeDef('none', None, ())


def _flatten_into(tree, leaves):
    t = type(tree)
    if t in _PLAIN_LEAVES or t in BOX_TYPES:    # numbers, arrays, traced values: no lookup
        leaves.append(tree)
        return _LEAF
    if tree is None:
        return _NONE
    node = _node(tree, t)
    if node is None:
        leaves.append(tree)
        return _LEAF
    kind, meta, children = node
    return TreeDef(kind, meta, tuple(_flatten_into(c, leaves) for c in children))


def _node(tree, t):
    """(kind, meta, children) of a pytree node; None for a leaf."""
    if t is tuple or t is list:
        return t.__name__, None, tree
    if t is dict:
        keys = tuple(sorted(tree))
        return 'dict', keys, [tree[k] for k in keys]
    if isinstance(tree, tuple) and hasattr(tree, '_fields'):
        return 'namedtuple', t, tree
    registered = _REGISTRY.get(t)
    if registered is not None:
        children, aux = registered[0](tree)
        return 'custom', (t, aux), children
    if hasattr(t, '__dataclass_fields__'):
        children, names = _flatten_dataclass(tree)
        return 'dataclass', (t, names), children
    return None


def tree_flatten(tree: Any) -> Tuple[List[Any], 'TreeDef']:
    """(leaves, treedef)."""
    leaves = []
    treedef = _flatten_into(tree, leaves)
    return leaves, treedef


def tree_unflatten(treedef: 'TreeDef', leaves: Iterable[Any]) -> Any:
    """The pytree of structure ``treedef`` with the given leaves (in order)."""
    if type(leaves) is not list:
        leaves = list(leaves)
    if len(leaves) != treedef.num_leaves:
        raise ValueError(f'tree_unflatten: the structure {treedef} has {treedef.num_leaves} '
                         f'leaves, but {len(leaves)} were given')
    if treedef is _LEAF:
        return leaves[0]
    return _build(treedef, iter(leaves))


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
    if kind == 'custom':
        nodetype, aux = treedef.meta
        return _REGISTRY[nodetype][1](aux, children)
    if kind == 'dataclass':
        return _unflatten_dataclass(treedef.meta[0], treedef.meta[1], children)
    return treedef.meta(*children)


def tree_leaves(tree: Any) -> List[Any]:
    """The leaves of a pytree, in flattening order."""
    return tree_flatten(tree)[0]


def tree_map(fn: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """Apply ``fn`` leafwise over one or more pytrees of the same structure."""
    leaves, treedef = tree_flatten(tree)
    others = []
    for r in rest:
        rl, rd = tree_flatten(r)
        if rd != treedef:
            raise ValueError(f'tree_map: structures differ: {treedef} and {rd}')
        others.append(rl)
    return tree_unflatten(treedef, [fn(*xs) for xs in zip(leaves, *others)])


def leaf_paths(treedef):
    """Where each leaf sits, as a string (``[0]['w']``, ``.bias``), for error messages."""
    if treedef.kind == 'leaf':
        return ['']
    if treedef.kind == 'dict':
        keys = [f'[{k!r}]' for k in treedef.meta]
    elif treedef.kind == 'dataclass':
        keys = [f'.{k}' for k in treedef.meta[1]]
    elif treedef.kind == 'namedtuple':
        keys = [f'.{k}' for k in treedef.meta._fields]
    else:
        keys = [f'[{i}]' for i in range(len(treedef.children))]
    return [k + p for k, c in zip(keys, treedef.children) for p in leaf_paths(c)]


def is_leaf_tree(treedef):
    return treedef.kind == 'leaf'
