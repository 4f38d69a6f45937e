"""Complex constants among the operands of a value being differentiated: the core's
dispatch refuses them for every primitive whose rules are for real values only
(``Primitive.complex_rules``), naming it; this module keeps the helpers that
check them before dispatch (where an error must come first)."""
from .._core.box import Box
from .._core.primitive import Primitive, complex_unsupported


def is_complex_constant(a):
    t = type(a)
    if t is float or t is int or t is bool:
        return False
    if t is complex:
        return True
    if isinstance(a, Box):
        return False
    dtype = getattr(a, 'dtype', None)
    return getattr(dtype, 'kind', None) == 'c'


def real_only_error(name):
    return complex_unsupported(name)


def require_real(name, args):
    """Raise when a complex constant is among args (call only when one is traced)."""
    for a in args:
        if is_complex_constant(a):
            raise real_only_error(name)


# (a multi-operand primitive: the name is kept for the modules that make one; the
# complex checks are the core's, see Primitive.complex_rules)
RealPrimitive = Primitive
