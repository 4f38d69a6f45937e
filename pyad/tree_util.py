"""Pytrees, with JAX's names: nested tuples, lists, dicts, namedtuples, dataclass
instances and registered node types, whose leaves are numbers and arrays.

>>> from pyad.tree_util import tree_flatten, tree_unflatten, tree_map
>>> leaves, treedef = tree_flatten({'b': (1.0, 2.0), 'a': 3.0})
>>> leaves
[3.0, 1.0, 2.0]
>>> tree_unflatten(treedef, [x * 10 for x in leaves])
{'a': 30.0, 'b': (10.0, 20.0)}
>>> tree_map(lambda x, y: x + y, [1.0, 2.0], [10.0, 20.0])
[11.0, 22.0]
"""
from typing import Any

from ._core.pytree import (TreeDef, register_pytree_node, tree_flatten, tree_unflatten,
                           tree_map, tree_leaves)

__all__ = ['TreeDef', 'register_pytree_node', 'register_pytree_node_class', 'tree_flatten',
           'tree_unflatten', 'tree_map', 'tree_leaves', 'tree_structure']


def register_pytree_node_class(cls: type) -> type:
    """Class decorator: register ``cls`` with its ``tree_flatten(self) -> (children,
    aux_data)`` method and ``tree_unflatten(cls, aux_data, children)`` classmethod.

    >>> from pyad.tree_util import register_pytree_node_class, tree_leaves
    >>> @register_pytree_node_class
    ... class Pair:
    ...     def __init__(self, a, b):
    ...         self.a, self.b = a, b
    ...     def tree_flatten(self):
    ...         return (self.a, self.b), None
    ...     @classmethod
    ...     def tree_unflatten(cls, aux_data, children):
    ...         return cls(*children)
    >>> tree_leaves(Pair(1.0, 2.0))
    [1.0, 2.0]
    """
    register_pytree_node(cls, lambda node: node.tree_flatten(), cls.tree_unflatten)
    return cls


def tree_structure(tree: Any) -> TreeDef:
    """The structure of a pytree (its TreeDef), without the leaves."""
    return tree_flatten(tree)[1]
