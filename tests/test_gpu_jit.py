"""pyad.jit on device arrays: the programs traced from device inputs run on the
device's own namespace (CuPy where a GPU is present, the strict CPU stand-in of
tests/devices.py everywhere), give device arrays of the input's dtype, agree with
the eager run on the same device and with NumPy, and replay without tracing again."""
import re

import numpy as onp
import pytest

import pyad
import pyad.numpy as pnp
import pyad.jit.fuse as fuse
from pyad import backend

from .devices import DEVICES

pytestmark = pytest.mark.parametrize('device', DEVICES)


class _Host:
    """NumPy as a 'device', to build the same problems on the host."""
    name, xp = 'numpy', onp

    @staticmethod
    def put(x):
        return onp.asarray(x)


HOST = _Host()


# ----------------------------------------------------------------- the functions
# Each problem: (size of its input vector, make(device, dtype) -> f).  The data a
# function closes over is put on the device (closed-over arrays are constants of
# the program: they must live where the program runs).
def _data(seed, *shapes):
    rng = onp.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


def _logistic(device, dtype):
    X, y = _data(3, (6, 4), 6)
    X, my = device.put(X.astype(dtype)), device.put(-onp.sign(y).astype(dtype))

    def loss(w):
        return pnp.mean(pnp.logaddexp(0.0, my * (X @ w))) + 0.1 * pnp.sum(w * w)
    return loss


def _mlp(device, dtype):
    X, Y = _data(4, (5, 2), (5, 3))
    X, Y = device.put(X.astype(dtype)), device.put(Y.astype(dtype))

    def loss(p):                    # 2 -> 3 -> 3, parameters packed in one vector
        W1, b1 = pnp.reshape(p[:6], (2, 3)), p[6:9]
        W2 = pnp.reshape(p[9:18], (3, 3))
        h = pnp.tanh(X @ W1 + b1)
        return pnp.mean((h @ W2 - Y) ** 2)
    return loss


def _loop(v):
    """Element by element: the sweep adds into one buffer in place (buf[i] += g)."""
    s = 0.0
    for i in range(len(v) - 1):
        s = s + pnp.sin(v[i]) * pnp.cos(v[i + 1])
    return s


def _plain(f):
    return lambda device, dtype: f


PROBLEMS = {
    'elementwise': (4, _plain(lambda v: pnp.sum(pnp.sin(v) * pnp.exp(v) + pnp.tanh(v) * pnp.sqrt(v)))),
    'reductions': (4, _plain(lambda v: pnp.mean(v ** 2) + pnp.sum(pnp.log(v)) * pnp.max(v))),
    'matmul': (4, _plain(lambda v: pnp.sum(pnp.reshape(v, (2, 2)) @ pnp.reshape(v, (2, 2))))),
    'indexing': (4, _plain(lambda v: pnp.sum(v[1:3] ** 2) + v[0] * v[3])),
    'where': (4, _plain(lambda v: pnp.sum(pnp.where(v > 1.0, v, v * v)))),
    'scalar loop': (5, _plain(_loop)),
    'logistic': (4, _logistic),
    'mlp': (18, _mlp),
}

def _hvp_of_grad(g):
    """A second-order function of a gradient: the gradient of x . grad(x)."""
    return pyad.grad(lambda x: pnp.sum(g(x) * x))


# operator name -> (the operator, whether it differentiates jit(f) rather than being
# jitted itself: jit(grad(f)) or grad(jit(f)))
OPERATORS = {
    'f': (lambda f: f, False),
    'grad': (pyad.grad, False),
    'value_and_grad': (pyad.value_and_grad, False),
    'hessian': (pyad.hessian, False),
    'hessianv': (pyad.hessianv, False),
    'grad(jit)': (pyad.grad, True),
    'value_and_grad(jit)': (pyad.value_and_grad, True),
    'hessian(jit)': (pyad.hessian, True),
    'grad(x . grad(jit))': (lambda f: _hvp_of_grad(pyad.grad(f)), True),
}


def _eager(op, f):
    return OPERATORS[op][0](f)


# float32: eager and jitted may round a reordered computation differently
TOLERANCE = {onp.float32: dict(rtol=2e-6, atol=1e-6), onp.float64: dict(rtol=1e-13, atol=1e-14)}
HOST_TOLERANCE = {onp.float32: dict(rtol=2e-4, atol=2e-5), onp.float64: dict(rtol=1e-10, atol=1e-12)}


def _inputs(size, device, dtype, hvp):
    rng = onp.random.default_rng(size)
    x = rng.uniform(0.5, 1.5, size).astype(dtype)
    args = [x, rng.standard_normal(size).astype(dtype)] if hvp else [x]
    return [device.put(a) for a in args]


def _leaves(out):
    return pyad.tree_leaves(out)


def _jitted(op, f):
    """(what to call, the Jitted object whose cache the call fills)."""
    operator, inside = OPERATORS[op]
    if inside:
        j = pyad.jit(f)
        return operator(j), j
    j = pyad.jit(operator(f))
    return j, j


def _count(jitted):
    """How many traces the jitted function and its derivative helpers have made."""
    total = jitted.traces + jitted.derived_traces
    return total + sum(_count(h) for h in jitted.helpers.values())


@pytest.mark.parametrize('fusion', [True, False], ids=['fused', 'unfused'])
@pytest.mark.parametrize('dtype', [onp.float32, onp.float64], ids=['float32', 'float64'])
@pytest.mark.parametrize('op', sorted(OPERATORS))
@pytest.mark.parametrize('name', sorted(PROBLEMS))
def test_jit_on_device(name, op, dtype, fusion, device, monkeypatch):
    monkeypatch.setattr(fuse, 'ENABLED', fusion)
    size, make = PROBLEMS[name]
    f = make(device, dtype)
    args = _inputs(size, device, dtype, op == 'hessianv')
    call, jitted = _jitted(op, f)
    first = _leaves(call(*args))
    traces = _count(jitted)
    assert traces >= 1
    again = _leaves(call(*args))
    assert _count(jitted) == traces, 'the second call traced again'
    eager = _leaves(_eager(op, f)(*args))
    for y, y2, e in zip(first, again, eager):
        assert device.owns(y), f'{type(y).__name__} is not an array of {device}'
        assert y.dtype == dtype and y.shape == e.shape
        assert device.owns(e) and e.dtype == dtype
        onp.testing.assert_array_equal(backend.to_numpy(y), backend.to_numpy(y2))
        onp.testing.assert_allclose(backend.to_numpy(y), backend.to_numpy(e), **TOLERANCE[dtype])
    # against NumPy: the same problem built on the host, jitted there
    host_args = [backend.to_numpy(a) for a in args]
    host = _leaves(_jitted(op, make(HOST, dtype))[0](*host_args))
    for y, h in zip(first, host):
        onp.testing.assert_allclose(backend.to_numpy(y), h, **HOST_TOLERANCE[dtype])


@pytest.mark.parametrize('dtype', [onp.float32, onp.float64], ids=['float32', 'float64'])
@pytest.mark.parametrize('op', ['f', 'grad', 'value_and_grad', 'grad(jit)'])
@pytest.mark.parametrize('name', ['elementwise', 'logistic', 'mlp'])
def test_same_calls_same_bits(name, op, dtype, device):
    """Where the program makes the device library calls of the eager run (first
    order: forward pass and sweep), the results are bit for bit the eager ones."""
    size, make = PROBLEMS[name]
    f = make(device, dtype)
    x, = _inputs(size, device, dtype, False)
    call = _jitted(op, f)[0]
    call(x)
    for y, e in zip(_leaves(call(x)), _leaves(_eager(op, f)(x))):
        onp.testing.assert_array_equal(backend.to_numpy(y), backend.to_numpy(e))


_TO_HOST = re.compile(r'\.(tolist|get|item)\(')
_CALL = re.compile(r'(?<![\w.])([A-Za-z_]\w*)\(')


def _called_names(source):
    return {m for line in source.splitlines() if not line.lstrip().startswith(('def ', '#'))
            for m in _CALL.findall(line)} - {'Retrace', 'raise'}


def _label(device):
    return 'cupy' if device.name == 'cupy' else 'strict'


def _device_program_checks(source, program, device):
    names = _called_names(source)
    assert names, source
    wrong = [n for n in names if not n.startswith(_label(device) + '_')]
    assert not wrong, f'calls not of {device}: {wrong}\n{source}'
    assert not _TO_HOST.search(source), f'a copy to the host in the program:\n{source}'
    if program is not None:
        for value in program.run.__globals__.values():
            assert type(value) is not onp.ndarray, f'a host array in the program:\n{source}'


@pytest.mark.parametrize('name', ['logistic', 'mlp', 'where', 'indexing', 'scalar loop'])
def test_source_names_the_device_namespace(name, device):
    size, make = PROBLEMS[name]
    f = make(device, onp.float64)
    x, = _inputs(size, device, onp.float64, False)
    for fn in (f, pyad.value_and_grad(f), pyad.hessian(f)):
        j = pyad.jit(fn)
        _device_program_checks(j.source(x), j.program(x), device)
    # the forward and backward programs of grad(jit(f))
    source = pyad.jit(f).source(x, operator='vjp')
    assert '# the backward program' in source
    _device_program_checks(source, None, device)
    # the same function on the host calls NumPy's functions, by their own names
    host = pyad.jit(pyad.value_and_grad(make(HOST, onp.float64))).source(backend.to_numpy(x))
    assert not any(n.startswith(_label(device) + '_') for n in _called_names(host))


_FUSED = re.compile(r'= fused(_\d+)?\(')


def test_large_elementwise_chain_is_not_fused_on_device(device, monkeypatch):
    """numba's loops run on host memory: on a device the chain stays the library's
    own elementwise calls (and gives the eager bits); on NumPy it is fused."""
    monkeypatch.setattr(fuse, 'ENABLED', True)
    rng = onp.random.default_rng(0)
    xh, yh = rng.standard_normal((2, fuse.MIN_SIZE))
    f = pyad.grad(lambda x, y: pnp.sum(((x - 0.1) * y + x * x) / (y + 2.0) - 3.0 * x))
    x, y = device.put(xh), device.put(yh)
    j = pyad.jit(f)
    out = j(x, y)
    assert device.owns(out)
    assert not _FUSED.search(j.source(x, y))
    onp.testing.assert_array_equal(backend.to_numpy(out), backend.to_numpy(f(x, y)))
    host = pyad.jit(f)
    onp.testing.assert_allclose(backend.to_numpy(out), host(xh, yh), rtol=1e-13)
    if fuse.available():
        assert _FUSED.search(host.source(xh, yh))


def test_guards_and_retrace_on_device(device):
    """Value-dependent control flow: the guard reads the device value, a failing
    guard traces the other path, and both programs stay on the device."""
    def f(v):
        if pnp.sum(v) > 0:
            return pnp.sum(v * 2.0)
        return pnp.sum(v - 1.0)
    j = pyad.jit(pyad.value_and_grad(f))
    a, b = device.put(onp.ones(3)), device.put(-onp.ones(3))
    va, ga = j(a)
    vb, gb = j(b)
    assert j.traces == 2
    j(a), j(b)
    assert j.traces == 2
    assert all(device.owns(o) for o in (va, ga, vb, gb))
    onp.testing.assert_array_equal(backend.to_numpy(ga), 2 * onp.ones(3))
    onp.testing.assert_array_equal(backend.to_numpy(gb), onp.ones(3))


def test_bench_jit_gpu_workloads_run(device):
    """bench/jit_gpu.py's workloads, eager, jitted and hand-written, agree on the
    device (run() checks them; --device strict is this path)."""
    import importlib.util
    import os
    import sys
    bench = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'bench')
    saved = list(sys.path)
    try:
        spec = importlib.util.spec_from_file_location('jit_gpu', os.path.join(bench, 'jit_gpu.py'))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        rows = module.run(device.xp, sync=lambda: None, rounds=1)
    finally:
        sys.path[:] = saved
    assert [r[0] for r in rows] == [w[0] for w in module.WORKLOADS]
    for row in rows:
        assert all(t > 0 for t in row[1:4])



class _SawTracer(Exception):
    """(not a TypeError: nothing on the way may take it for a failed dispatch)"""


@pytest.mark.parametrize('op', ['f', 'grad', 'hessian', 'grad(jit)', 'hessian(jit)'])
@pytest.mark.parametrize('name', sorted(PROBLEMS))
def test_the_library_never_sees_a_tracer(name, op, device, monkeypatch):
    """CuPy's functions do not dispatch to foreign objects: jit must hand the device
    library concrete arrays only.  The strict stand-in's functions are made to
    refuse tracers as CuPy's would (on CuPy itself this is the library's own check)."""
    from pyad.jit.trace import Tracer
    from . import devices
    refuse_host = devices._refuse_host

    def refuse(where, *objs):
        for o in devices._walk(objs):
            if isinstance(o, Tracer):
                raise _SawTracer(f'{where}: got a traced value')
        refuse_host(where, *objs)
    monkeypatch.setattr(devices, '_refuse_host', refuse)
    size, make = PROBLEMS[name]
    f = make(device, onp.float64)
    x, = _inputs(size, device, onp.float64, False)
    call = _jitted(op, f)[0]
    onp.testing.assert_allclose(backend.to_numpy(call(x)), backend.to_numpy(_eager(op, f)(x)),
                                **TOLERANCE[onp.float64])
