"""Everything needed to write a primitive of your own, in one public place.

    from pyad.rules import Primitive, Traits, expand_to, unbroadcast, batch_ndim

See docs/writing-primitives.md.  ``shape_of``, ``ndim_of`` and ``dtype_of`` read
the shape, rank and dtype of any value a rule may see (plain arrays, Python
numbers, values traced at any level, values the tape has not computed yet),
without computing anything.
"""
from ._core.primitive import Primitive, primitive, NonDifferentiableError
from ._core.traits import Traits, TraitError
from ._core.box import shape_of, ndim_of, dtype_of
from ._core.batching import register as register_batching_rule
from .numpy._batching import (expand_to, unbroadcast, batch_ndim, shift_axes,
                              scalar_of_broadcast)

__all__ = ['Primitive', 'primitive', 'NonDifferentiableError', 'Traits', 'TraitError',
           'shape_of', 'ndim_of', 'dtype_of', 'expand_to', 'unbroadcast', 'batch_ndim',
           'shift_axes', 'scalar_of_broadcast', 'register_batching_rule']
