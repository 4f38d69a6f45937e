"""pyad: automatic differentiation for Python, in the style of DiffSharp.

Derivatives are higher-order functions that nest in any order and to any depth::

    import pyad
    import pyad.numpy as np

    pyad.grad(lambda x: np.sum(np.sin(x) ** 2))(np.ones(3))
    pyad.diff(lambda x: x * pyad.diff(lambda y: x * y)(3.0))(2.0)   # no confusion: 4.0

See ``pyad.operators`` for the table of operators and their modes.
"""
from .operators import *                       # noqa: F401,F403
from .operators import __all__ as _operators_all
from ._core.pytree import tree_flatten, tree_unflatten, tree_map, tree_leaves
from ._core.primitive import Primitive, primitive, NonDifferentiableError
from ._core.traits import Traits, TraitError
from .numpy.manipulation import stop_gradient
from .numpy._arraytype import is_array
from . import numpy                            # noqa: F401
from . import nn                               # noqa: F401
from . import linalg                           # noqa: F401
from . import optim, numerical                 # noqa: F401
from . import jit                              # noqa: F401
from .fixed_point import fixed_point, FixedPointError
from .custom import custom_jvp, custom_vjp, ClosureError
from .checkpoint import checkpoint, remat, checkpoint_policies
from . import tree_util, flatten_util  # noqa: F401
from .vmapping import vmap

__version__ = '0.1.0'

__all__ = list(_operators_all) + [
    'tree_flatten', 'tree_unflatten', 'tree_map', 'tree_leaves', 'Primitive', 'primitive',
    'Traits', 'TraitError',
    'NonDifferentiableError', 'stop_gradient', 'is_array', 'numpy', 'nn', 'linalg', 'fixed_point',
    'FixedPointError',
    'optim', 'numerical', 'custom_jvp', 'custom_vjp', 'ClosureError', 'checkpoint', 'remat',
    'checkpoint_policies',
    'tree_util', 'flatten_util',
    'vmap',
    'jit',
]


def __getattr__(name):
    # pyad.symbolic needs SymPy (an optional extra); pyad.testing and pyad.rules are
    # imported on first use
    if name in ('symbolic', 'testing', 'rules'):
        import importlib
        return importlib.import_module('.' + name, __name__)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
