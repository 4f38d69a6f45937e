"""Type aliases for pyad's public functions (in the manner of ``jax.typing``).

pyad's public functions (``pyad.numpy``, ``pyad.linalg``, ``pyad.nn``, ``pyad.scipy``,
``pyad.optim``, ...) are annotated with these:

* ``ArrayLike``: what a function takes as an array: a NumPy array or scalar, a Python
  number, a (nested) list of them, or a value being differentiated (``Traced``).
* ``Array``: what it returns, for a type checker ``numpy.ndarray``.  At run time it is
  a NumPy array, or a ``Traced`` value while an operator differentiates through it (which
  has an array's operators, ``.shape``, ``.T``, ``.sum()``, ...), or a CuPy or Dask array
  on such inputs: all of them imitate ``numpy.ndarray``, so a checker accepts what they
  accept.
* ``Axis``: an axis, several axes, or None (all axes); ``Shape``: a shape or a length;
  ``DTypeLike``: NumPy's (a dtype, a type, a name); ``FFTNorm``: the ``norm`` of the
  transforms of ``pyad.numpy.fft``.
* ``UnaryFunction``, ``BinaryFunction``, ``TernaryFunction``: the elementwise primitives
  (``sin``, ``add``, ``scipy.special.betainc``), arrays positional; ``Operator``: an
  operator of the table (``grad``, ``jacfwd``, ...), a function in and a function out.

The aliases cost nothing at run time: annotations are not evaluated on calls.
"""
import inspect
from typing import Any, Callable, Literal, Optional, Protocol, Sequence, Tuple, Union

import numpy
from numpy.typing import DTypeLike

from ._core.box import Box

__all__ = ['Array', 'ArrayLike', 'Axis', 'DTypeLike', 'Shape', 'FFTNorm', 'Traced',
           'UnaryFunction', 'BinaryFunction', 'TernaryFunction', 'Operator',
           'primitive_signature']

Traced = Box
"""A value being differentiated (a dual number, a tape variable, a batch of vmap)."""

Array = numpy.ndarray
ArrayLike = Union[numpy.ndarray, numpy.generic, Traced, bool, int, float, complex,
                  Sequence[Any]]
Axis = Optional[Union[int, Tuple[int, ...]]]
Shape = Union[int, Sequence[int]]
FFTNorm = Optional[Literal['backward', 'ortho', 'forward']]


class UnaryFunction(Protocol):
    """An elementwise function of one array (``pyad.numpy.sin``): a pyad Primitive."""

    def __call__(self, x: ArrayLike, /) -> Array: ...


class BinaryFunction(Protocol):
    """An elementwise function of two broadcast arrays (``pyad.numpy.add``)."""

    def __call__(self, x1: ArrayLike, x2: ArrayLike, /) -> Array: ...


class TernaryFunction(Protocol):
    """An elementwise function of three broadcast arrays (``pyad.scipy.special.betainc``)."""

    def __call__(self, x1: ArrayLike, x2: ArrayLike, x3: ArrayLike, /) -> Array: ...


class Operator(Protocol):
    """An operator of the table (``pyad.grad``, ``pyad.jacfwd``, ...): a function in,
    a function out.  ``holomorphic`` is grad's, jacfwd's and jacrev's (the others
    refuse it)."""

    def __call__(self, f: Callable[..., Any], argnums: Union[int, Tuple[int, ...]] = 0,
                 has_aux: bool = False, *, holomorphic: bool = False) -> Callable[..., Any]: ...


def primitive_signature(prim: Any, returns: str = 'Array',
                        names: Optional[Sequence[str]] = None) -> inspect.Signature:
    """The signature a Primitive shows to ``help()`` and ``inspect``: arrays named
    ``names``, or else its implementation's (a ufunc's: ``(x, /)`` or ``(x1, x2, /)``),
    arrays positional only (a keyword argument of a primitive is a parameter), annotated
    with the aliases above."""
    impl = prim.impl
    nin = getattr(impl, 'nin', None)
    if names is None and isinstance(nin, int):
        names = ['x'] if nin == 1 else [f'x{i + 1}' for i in range(nin)]
    if names is not None:
        params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_ONLY, annotation='ArrayLike')
                  for n in names]
    else:
        params = [_annotated(p) for p in inspect.signature(impl).parameters.values()]
    return inspect.Signature(params, return_annotation=returns)


def _annotated(p: inspect.Parameter) -> inspect.Parameter:
    if p.default is inspect.Parameter.empty:
        return p.replace(kind=inspect.Parameter.POSITIONAL_ONLY, annotation='ArrayLike')
    kind = type(p.default).__name__ if p.default is not None else 'None'
    return p.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=kind)
