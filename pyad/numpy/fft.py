"""Discrete Fourier transforms, differentiable: ``pyad.numpy.fft`` stands in for
``numpy.fft`` (``fft``, ``ifft``, ``rfft``, ``irfft``, their 2-D and n-D forms,
``fftshift``, ``ifftshift``; ``fftfreq`` and ``rfftfreq`` are NumPy's).

Three primitives do the work on arrays already cropped or zero-padded to the
transform's lengths (the wrappers do that with ``getitem`` and ``pad``, which
carry their own derivatives):

- ``fftn`` (complex to complex, forward or inverse),
- ``rfftn`` (real to the half spectrum),
- ``irfftn`` (half spectrum to real, of a given last length n).

Each is linear, so its JVP is itself.  A VJP is the transpose under the pairing
Re Σ g t of docs/complex.md: the DFT matrix is symmetric, so the transpose of a
complex transform is the same transform with the same ``norm``.  The real
transforms are each other's transposes, up to conjugation, the reciprocal
scaling, and the weight 2 of a frequency that stands for itself and its mirror
image (1 at 0 and, for even n, at n/2): rfftn's VJP is irfftn(conj(g) / w), and
irfftn's is w conj(rfftn(g)), each on a half spectrum, without padding.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as _np

from .._core.primitive import Primitive
from .._core.box import Box, shape_of, dtype_of, ndim_of
from ..backend import namespace, is_dask
from ..typing import Array, ArrayLike, FFTNorm

__all__ = ['fft', 'ifft', 'rfft', 'irfft', 'fft2', 'ifft2', 'rfft2', 'irfft2', 'fftn', 'ifftn',
           'rfftn', 'irfftn', 'fftshift', 'ifftshift', 'fftfreq', 'rfftfreq']

from numpy.fft import fftfreq, rfftfreq   # noqa: E402  (frequencies: no derivative)

_NORMS = (None, 'backward', 'ortho', 'forward')
# the norm whose scaling is the reciprocal one (the transposes of the real transforms)
_SWAPPED = {None: 'forward', 'backward': 'forward', 'ortho': 'ortho', 'forward': 'backward'}


# ----------------------------------------------------------------- the primitives
def _transform(kind, x, axes, **params):
    """The backend's transform ``kind`` of x over axes.  A transform mixes every
    entry along its axes, and Dask's take an axis held in one chunk: a Dask array
    is rechunked whole along them (rows chunked elsewhere stay as they are)."""
    if is_dask(x):
        x = x.rechunk({a % x.ndim: -1 for a in axes})
    return getattr(namespace(x).fft, kind)(x, axes=axes, **params)


def _fftn_impl(x, axes, norm, inverse):
    return _transform('ifftn' if inverse else 'fftn', x, axes, norm=norm)


def _rfftn_impl(x, axes, norm):
    return _transform('rfftn', x, axes, norm=norm)


def _irfftn_impl(h, axes, norm, n):
    shape = shape_of(h)
    s = [shape[a] for a in axes[:-1]] + [n]
    return _transform('irfftn', h, axes, s=s, norm=norm)


def _fftn_linear(c, ans, x, axes, norm, inverse):
    """The JVP and (the DFT matrix being symmetric) the VJP: the same transform."""
    return _fftn(c, axes=axes, norm=norm, inverse=inverse)


_fftn = Primitive('fftn', _fftn_impl, complex_rules=True)
_fftn.def_jvp(_fftn_linear)
_fftn.def_vjp(_fftn_linear)


def _rfftn_vjp(g, ans, x, axes, norm):
    # Re Σ_k g_k e^{-2πi jk/n} over the half spectrum: an inverse real transform of
    # conj(g), each mirrored frequency counted once (irfftn counts it twice)
    from .complexes import conj
    n = shape_of(x)[axes[-1]]
    half = conj(g) * _mirror_weights(g, n, axes[-1], inverse=True)
    return _irfftn(half, axes=axes, norm=_SWAPPED[norm], n=n)


_rfftn = Primitive('rfftn', _rfftn_impl, complex_rules=True)
_rfftn.def_jvp(lambda t, ans, x, axes, norm: _rfftn(t, axes=axes, norm=norm))
_rfftn.def_vjp(_rfftn_vjp)


def _mirror_weights(like, n, axis, inverse=False):
    """2 for the frequencies of the half spectrum that stand for two of the full
    one, 1 for 0 and (n even) n/2 (``inverse``: their reciprocals), in the real
    dtype and the array library of ``like``, shaped to broadcast along ``axis`` (< 0)."""
    m = n // 2 + 1
    w = _np.full(m, 0.5 if inverse else 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    real = _np.dtype(dtype_of(like)).type(0).real.dtype
    return namespace(like).asarray(w.astype(real).reshape((m,) + (1,) * (-axis - 1)))


def _irfftn_vjp(g, ans, h, axes, norm, n):
    # the inverse transform of the real g, on the half spectrum: conj(rfftn(g))
    # with the reciprocal scaling; each mirrored frequency counted twice
    from .complexes import conj
    return conj(_rfftn(g, axes=axes, norm=_SWAPPED[norm])) * _mirror_weights(h, n, axes[-1])


_irfftn = Primitive('irfftn', _irfftn_impl, complex_rules=True)
_irfftn.def_jvp(lambda t, ans, h, axes, norm, n: _irfftn(t, axes=axes, norm=norm, n=n))
_irfftn.def_vjp(_irfftn_vjp)


# ----------------------------------------------------------------- helpers
def _resize(x, axis, n):
    """x cropped or zero-padded at the end of ``axis`` (< 0) to length n."""
    have = shape_of(x)[axis]
    if have == n:
        return x
    if have > n:
        from .indexing import getitem
        return getitem(x, (Ellipsis, slice(0, n)) + (slice(None),) * (-axis - 1))
    from .manipulation import pad
    widths = [(0, 0)] * ndim_of(x)
    widths[axis] = (0, n - have)
    return pad(x, widths)


def _check_norm(name, norm):
    if norm not in _NORMS:
        raise ValueError(f'{name}: norm must be "backward", "ortho" or "forward" (or None), '
                         f'got {norm!r}')


def _axes_and_lengths(name, x, s, axes):
    """NumPy's rules for s and axes, as negative axes and the lengths they get."""
    nd = ndim_of(x)
    shape = shape_of(x)
    if axes is None:
        axes = list(range(-(nd if s is None else len(s)), 0))
    else:
        axes = [axes] if isinstance(axes, int) else list(axes)
    if s is not None and len(s) != len(axes):
        raise ValueError(f'{name}: s has {len(s)} lengths but there are {len(axes)} axes')
    out = []
    for a in axes:
        if not -nd <= a < nd:
            raise ValueError(f'{name}: axis {a} is out of bounds for an array of shape '
                             f'{tuple(shape)}')
        out.append(a - nd if a >= 0 else a)
    if len(set(out)) != len(out):
        raise ValueError(f'{name}: repeated axes {tuple(axes)} are not supported')
    lengths = [shape[a] for a in out] if s is None else [int(n) for n in s]
    for n in lengths:
        if n < 1:
            raise ValueError(f'{name}: invalid number of data points ({n}); each must be >= 1')
    return tuple(out), lengths


def _complex(name, x):
    from .manipulation import astype
    dtype = dtype_of(x)
    if dtype.kind == 'c':
        return x
    if dtype.kind not in 'fiub':
        raise TypeError(f'{name}: expected numbers, got dtype {dtype}')
    return astype(x, _np.complex64 if dtype == _np.float32 else _np.complex128)


def _real_input(name, x):
    from .manipulation import astype
    dtype = dtype_of(x)
    if dtype.kind == 'c':
        raise TypeError(f'{name}: the input must be real, got dtype {dtype} (use fftn for '
                        f'complex input)')
    return x if dtype.kind == 'f' else astype(x, _np.float64)


def _traced(x):
    return isinstance(x, Box)


# ----------------------------------------------------------------- n-D transforms
def _c2c(name, x, s, axes, norm, inverse):
    _check_norm(name, norm)
    axes, lengths = _axes_and_lengths(name, x, s, axes)
    if not _traced(x):
        return _transform('ifftn' if inverse else 'fftn', x, axes, s=lengths, norm=norm)
    x = _complex(name, x)
    for a, n in zip(axes, lengths):
        x = _resize(x, a, n)
    return _fftn(x, axes=axes, norm=norm, inverse=inverse)


def fftn(a: ArrayLike, s: Optional[Sequence[int]] = None,
         axes: Optional[Sequence[int]] = None, norm: FFTNorm = None) -> Array:
    """numpy.fft.fftn: the n-D discrete Fourier transform (of lengths ``s``,
    cropping or zero-padding, over ``axes``; ``norm`` 'backward', 'ortho' or
    'forward')."""
    return _c2c('fftn', a, s, axes, norm, False)


def ifftn(a: ArrayLike, s: Optional[Sequence[int]] = None,
          axes: Optional[Sequence[int]] = None, norm: FFTNorm = None) -> Array:
    """numpy.fft.ifftn: the n-D inverse discrete Fourier transform."""
    return _c2c('ifftn', a, s, axes, norm, True)


def _r2c(name, a, s, axes, norm):
    _check_norm(name, norm)
    axes, lengths = _axes_and_lengths(name, a, s, axes)
    if not _traced(a):
        return _transform('rfftn', a, axes, s=lengths, norm=norm)
    a = _real_input(name, a)
    for ax, n in zip(axes, lengths):
        a = _resize(a, ax, n)
    return _rfftn(a, axes=axes, norm=norm)


def _c2r(name, a, s, axes, norm):
    _check_norm(name, norm)
    axes, lengths = _axes_and_lengths(name, a, s, axes)
    if s is None:
        lengths[-1] = 2 * (lengths[-1] - 1)
        if lengths[-1] < 1:
            raise ValueError(f'{name}: invalid number of data points ({lengths[-1]}) along '
                             f'the last axis; pass the output length')
    if not _traced(a):
        return _transform('irfftn', a, axes, s=lengths, norm=norm)
    a = _complex(name, a)
    for ax, n in zip(axes[:-1], lengths[:-1]):
        a = _resize(a, ax, n)
    n = lengths[-1]
    a = _resize(a, axes[-1], n // 2 + 1)
    return _irfftn(a, axes=axes, norm=norm, n=n)


def rfftn(a: ArrayLike, s: Optional[Sequence[int]] = None,
          axes: Optional[Sequence[int]] = None, norm: FFTNorm = None) -> Array:
    """numpy.fft.rfftn: the n-D transform of real input; the last axis keeps the
    half spectrum s[-1] // 2 + 1."""
    return _r2c('rfftn', a, s, axes, norm)


def irfftn(a: ArrayLike, s: Optional[Sequence[int]] = None,
           axes: Optional[Sequence[int]] = None, norm: FFTNorm = None) -> Array:
    """numpy.fft.irfftn: the inverse of rfftn, a real array whose last axis has
    length s[-1] (default 2 (m - 1) for a half spectrum of m); the imaginary parts
    at frequency 0 and (even length) n/2 are ignored, as NumPy does, so their
    derivative is 0."""
    return _c2r('irfftn', a, s, axes, norm)


# ----------------------------------------------------------------- 1-D and 2-D forms
def _one_axis(n, axis):
    return (None if n is None else [n]), [axis]


def fft(a: ArrayLike, n: Optional[int] = None, axis: int = -1,
        norm: FFTNorm = None) -> Array:
    """numpy.fft.fft: the 1-D discrete Fourier transform along ``axis`` (length n)."""
    return _c2c('fft', a, *_one_axis(n, axis), norm, False)


def ifft(a: ArrayLike, n: Optional[int] = None, axis: int = -1,
         norm: FFTNorm = None) -> Array:
    """numpy.fft.ifft: the 1-D inverse discrete Fourier transform."""
    return _c2c('ifft', a, *_one_axis(n, axis), norm, True)


def rfft(a: ArrayLike, n: Optional[int] = None, axis: int = -1,
         norm: FFTNorm = None) -> Array:
    """numpy.fft.rfft: the 1-D transform of real input (n // 2 + 1 frequencies)."""
    return _r2c('rfft', a, *_one_axis(n, axis), norm)


def irfft(a: ArrayLike, n: Optional[int] = None, axis: int = -1,
          norm: FFTNorm = None) -> Array:
    """numpy.fft.irfft: the inverse of rfft (a real signal of length n)."""
    return _c2r('irfft', a, *_one_axis(n, axis), norm)


def fft2(a: ArrayLike, s: Optional[Sequence[int]] = None,
         axes: Sequence[int] = (-2, -1), norm: FFTNorm = None) -> Array:
    """numpy.fft.fft2: fftn over two axes."""
    return _c2c('fft2', a, s, axes, norm, False)


def ifft2(a: ArrayLike, s: Optional[Sequence[int]] = None,
          axes: Sequence[int] = (-2, -1), norm: FFTNorm = None) -> Array:
    """numpy.fft.ifft2: ifftn over two axes."""
    return _c2c('ifft2', a, s, axes, norm, True)


def rfft2(a: ArrayLike, s: Optional[Sequence[int]] = None,
          axes: Sequence[int] = (-2, -1), norm: FFTNorm = None) -> Array:
    """numpy.fft.rfft2: rfftn over two axes."""
    return _r2c('rfft2', a, s, axes, norm)


def irfft2(a: ArrayLike, s: Optional[Sequence[int]] = None,
           axes: Sequence[int] = (-2, -1), norm: FFTNorm = None) -> Array:
    """numpy.fft.irfft2: irfftn over two axes."""
    return _c2r('irfft2', a, s, axes, norm)


# ----------------------------------------------------------------- shifts
def _shift(name, x, axes, sign):
    from .manipulation import roll
    shape = shape_of(x)
    if axes is None:
        axes = tuple(range(len(shape)))
    elif isinstance(axes, int):
        axes = (axes,)
    for a in axes:
        if not -len(shape) <= a < len(shape):
            raise ValueError(f'{name}: axis {a} is out of bounds for an array of shape '
                             f'{tuple(shape)}')
    if not axes:
        return x
    shifts = [sign * (shape[a] // 2) for a in axes]
    return roll(x, shifts, tuple(axes))


def fftshift(x: ArrayLike, axes: Optional[Union[int, Sequence[int]]] = None) -> Array:
    """numpy.fft.fftshift: the zero frequency moved to the centre (a roll)."""
    return _shift('fftshift', x, axes, 1)


def ifftshift(x: ArrayLike, axes: Optional[Union[int, Sequence[int]]] = None) -> Array:
    """numpy.fft.ifftshift: the inverse of fftshift."""
    return _shift('ifftshift', x, axes, -1)
