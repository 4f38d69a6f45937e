"""Real values only: a complex constant that meets a value being differentiated is
refused where it enters (the binary operators and functions, ``where``, products,
``astype``, ``concatenate``).  pyad's rules are written for real numbers, so a
complex intermediate with a real output (``abs(x * (1 + 1j))``) would otherwise
give a wrong derivative without an error (DESIGN invariant 11)."""
from .._core.box import Box
from .._core.primitive import Primitive, bind


def _all_subclasses(cls):
    out = {cls}
    for sub in cls.__subclasses__():
        out |= _all_subclasses(sub)
    return out


# types that are never a complex constant: the operator methods test membership
# first (one set lookup per operation on a traced value)
REAL_OR_TRACED = frozenset({float, int, bool} | _all_subclasses(Box))


def is_complex_constant(a):
    t = type(a)
    if t is float or t is int or t is bool:
        return False
    if t is complex:
        return True
    if t is list or t is tuple:             # x + [1j, 0.0]: NumPy would make it complex
        return any(is_complex_constant(e) for e in a)
    if isinstance(a, Box):
        return False
    dtype = getattr(a, 'dtype', None)
    return getattr(dtype, 'kind', None) == 'c'


def real_only_error(name):
    return TypeError(f'{name}: a complex value meets a value being differentiated; pyad '
                     f'differentiates real values only.  Carry the real and imaginary parts '
                     f'as two real arrays (e.g. |x (a + ib)| = |x| hypot(a, b)).')


def require_real(name, args):
    """Raise when a complex constant is among args (call only when one is traced)."""
    for a in args:
        if is_complex_constant(a):
            raise real_only_error(name)


class RealPrimitive(Primitive):
    # A Primitive whose traced calls refuse complex operands (plain calls are NumPy's).
    # (No class docstring: each instance has its own __doc__, Primitive's slot.)
    __slots__ = ()
    __doc__ = Primitive.__dict__['__doc__']

    def __call__(self, *args, **params):
        for a in args:
            if isinstance(a, Box):
                require_real(self.name, args)
                return bind(self, args, params)
        return self.impl(*args, **params)
