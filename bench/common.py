"""Small helpers shared by the workloads: what pyad offers at run time, and the
few functions a workload needs that pyad may not have yet."""
import numpy as onp

import pyad
import pyad.numpy as pnp


def pyad_lookup(dotted):
    """(object, None) if pyad has ``dotted`` (e.g. 'nn.sparsemax') right now, else
    (None, why not): a workload skips, with this note, what pyad does not have yet."""
    import importlib
    obj = pyad
    for part in dotted.split('.'):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            try:
                obj = importlib.import_module(f'{obj.__name__}.{part}')
            except ModuleNotFoundError as e:
                if e.name == f'{obj.__name__}.{part}':
                    return None, f'skipped: pyad.{dotted} is missing'
                return None, f'skipped: importing pyad.{dotted} failed ({type(e).__name__}: {e})'
            except Exception as e:                      # noqa: BLE001
                return None, f'skipped: importing pyad.{dotted} failed ({type(e).__name__}: {e})'
    return obj, None


def pyad_has(dotted):
    return pyad_lookup(dotted)[0] is not None


def mlp_data(sizes, batch, dtype, seed=0):
    """A dense net's parameters (W, b for each layer, W scaled by 1/sqrt(fan in)),
    a batch of inputs and an integer label for each (classes: the last size)."""
    rng = onp.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append((rng.standard_normal((fan_in, fan_out)) / onp.sqrt(fan_in)).astype(dtype))
        params.append((0.1 * rng.standard_normal(fan_out)).astype(dtype))
    X = rng.standard_normal((batch, sizes[0])).astype(dtype)
    labels = rng.integers(0, sizes[-1], batch)
    return tuple(params), X, labels


def pyad_logsumexp(z, axis=None):
    """pyad.numpy.logsumexp if it exists; else log(sum(exp(z - m))) + m with the
    shift m = stop_gradient(max z) (any constant shift gives the same value and
    derivatives, so the derivative needs no max rule)."""
    if hasattr(pnp, 'logsumexp'):
        return pnp.logsumexp(z, axis=axis)
    keep = axis is not None
    if hasattr(pnp, 'max'):
        m = pyad.stop_gradient(pnp.max(z, axis=axis, keepdims=keep))
    else:
        m = onp.max(pyad.stop_gradient(z), axis=axis, keepdims=keep)
    out = pnp.log(pnp.sum(pnp.exp(z - m), axis=axis, keepdims=keep)) + m
    return pnp.squeeze(out, axis) if keep else out


def logsumexp_note():
    return ('pyad.numpy.logsumexp' if hasattr(pnp, 'logsumexp') else
            'pyad.numpy has no logsumexp yet: written as log(sum(exp(z - m))) + m, '
            'm = stop_gradient(max z)')


def np_logsumexp(z, axis=None):
    m = onp.max(z, axis=axis, keepdims=True)
    out = onp.log(onp.sum(onp.exp(z - m), axis=axis, keepdims=True)) + m
    return onp.squeeze(out, axis) if axis is not None else out.reshape(())

