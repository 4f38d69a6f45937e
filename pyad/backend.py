"""The array library behind a value: NumPy, or CuPy for arrays that live on a GPU.

pyad never chooses a device itself: CuPy arrays in give CuPy arrays out.  Rules
create arrays with ``*_like`` functions or through ``namespace(x)``, never with a
hard-coded ``numpy.zeros``, so every primitive runs where its inputs live.
"""
import numpy

# The box type of pyad's core (dual numbers, tape variables): registered by
# pyad._core.box when it is imported, so that this module imports nothing of the
# core (the core knows array libraries only through this module, not the reverse).
_BOX_TYPES = ()


def register_box_type(cls):
    global _BOX_TYPES
    _BOX_TYPES = (cls,)


def innermost(x):
    """The plain value under every layer of boxes."""
    while isinstance(x, _BOX_TYPES):
        x = x.primal
    return x

_cupy = None
_cupy_checked = False


def cupy_module():
    """The cupy module if it is installed and imports, else None."""
    global _cupy, _cupy_checked
    if not _cupy_checked:
        _cupy_checked = True
        try:
            import cupy  # noqa: F401
            _cupy = cupy
        except Exception:   # not installed, or no driver: NumPy only
            _cupy = None
    return _cupy


# array types of other libraries, registered with their namespaces (see register)
_REGISTERED = {}


def register(array_type, xp, *, special=None, linalg=None):
    """Make pyad treat ``array_type`` as an array library of its own: ``namespace``
    returns ``xp`` for its values (``special`` and ``linalg`` stand for
    scipy.special and scipy.linalg).  CuPy is recognised without registering;
    the test suite registers a strict CPU stand-in for a device library, so that
    CI catches a host array mixed into device arithmetic."""
    _REGISTERED[array_type] = (xp, special, linalg)


def _registered_scipy(values, which):
    """The scipy.special (which=1) or scipy.linalg (2) stand-in registered for values."""
    for v in values:
        entry = _REGISTERED.get(type(innermost(v)))
        if entry is not None:
            if entry[which] is None:
                name = 'special' if which == 1 else 'linalg'
                raise TypeError(f'pyad.backend: {type(innermost(v)).__name__} arrays were registered '
                                f'without a scipy.{name} counterpart (register(..., {name}=...))')
            return entry[which]
    raise AssertionError('no registered array type among the values')


def namespace(*values):
    """The array module (numpy or cupy) for these values."""
    for v in values:
        t = type(innermost(v))
        if t.__module__.startswith('cupy'):
            return cupy_module()
        if _REGISTERED and t in _REGISTERED:
            return _REGISTERED[t][0]
    return numpy


def scipy_special(*values):
    """scipy.special or cupyx.scipy.special, to match the values."""
    xp = namespace(*values)
    if xp is numpy:
        import scipy.special
        return scipy.special
    if xp is not cupy_module():
        return _registered_scipy(values, 1)
    import cupyx.scipy.special
    return cupyx.scipy.special


def scipy_linalg(*values):
    """scipy.linalg or cupyx.scipy.linalg, to match the values."""
    xp = namespace(*values)
    if xp is numpy:
        import scipy.linalg
        return scipy.linalg
    if xp is not cupy_module():
        return _registered_scipy(values, 2)
    import cupyx.scipy.linalg
    return cupyx.scipy.linalg


def on_device_of(host, ref):
    """``host`` (a NumPy array or number) moved to ``ref``'s array library: a CuPy
    array for a CuPy ``ref``, unchanged for a NumPy one."""
    xp = namespace(ref)
    return host if xp is numpy else xp.asarray(host)


def is_array(x):
    """True for NumPy or CuPy arrays and scalars (not for Python numbers)."""
    return hasattr(x, 'dtype') and hasattr(x, 'shape')


def to_numpy(x):
    """A host (NumPy) copy of x, whichever device it is on."""
    x = innermost(x)
    if type(x).__module__.startswith('cupy'):
        return x.get()
    return numpy.asarray(x)


def wrap_like(out, *refs):
    """``out`` as the array type of the first ndarray subclass among ``refs``.

    Some library routines (scipy.linalg, numpy.where, broadcast_to) return a plain
    ``numpy.ndarray`` for an ndarray subclass input; implementations pass their
    results through this so that an array type that comes in goes out (NumPy
    scalars from 0-d results included).  For plain ndarrays, CuPy arrays and
    registered array types it returns ``out`` unchanged (their rules must build
    arrays through ``namespace``)."""
    for r in refs:
        r = innermost(r)
        cls = type(r)
        if cls is numpy.ndarray or not isinstance(r, numpy.ndarray) or cls in _REGISTERED:
            continue
        if type(out) is cls:
            return out
        if isinstance(out, (numpy.ndarray, numpy.generic)):
            return numpy.asarray(out).view(cls)
        return out
    return out


# ------------------------------------------------------------------ for the core
# What pyad._core needs of an array library, in one place: the core names no
# array library itself.
ndarray = numpy.ndarray
float64 = numpy.dtype(numpy.float64)
bool_ = numpy.bool_


def is_plain_array(r):
    """A NumPy or CuPy array (not a subclass, not a box): a rule that has just made
    r may compute into it in place."""
    t = type(r)
    return t is numpy.ndarray or (t is not float and t.__module__.startswith('cupy')
                                  and hasattr(r, 'shape') and r.ndim > 0)


def scalar_of_broadcast(c):
    """The one value of ``c`` when c is a plain ndarray whose strides are all 0 (a
    scalar broadcast to a shape, as the VJP of a sum or a mean makes), else None."""
    if type(c) is numpy.ndarray and c.size > 1 and not any(c.strides):
        return c[(0,) * c.ndim]
    return None


def broadcast_scalar(s, like):
    """The number s laid out as the array ``like`` is: a read-only broadcast view."""
    one = numpy.array(s, dtype=like.dtype)
    view = numpy.ndarray(like.shape, one.dtype, one, 0, (0,) * like.ndim)
    view.setflags(write=False)
    return view


def nbytes(x):
    """The bytes of a plain array's data, 0 for anything else."""
    return x.nbytes if type(x) is numpy.ndarray else 0


def result_type(x):
    return numpy.result_type(x)


def float_errors():
    """The floating-point error settings now in force (NumPy's errstate)."""
    return numpy.geterr()


def with_float_errors(settings, fn, *args, **params):
    """fn(*args, **params) under the floating-point settings ``settings``."""
    if settings is None or settings == numpy.geterr():
        return fn(*args, **params)
    with numpy.errstate(**settings):
        return fn(*args, **params)


def subtract_into(a, b):
    """a - b, written into b."""
    return numpy.subtract(a, b, out=b)
