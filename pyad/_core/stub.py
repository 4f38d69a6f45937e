"""Stub: what a tape keeps of an array that no recorded rule reads -- its shape
and dtype, which rules use to unbroadcast and to cast.  Anything else done with
it raises StubRead, which the sweep turns into an error naming the primitive
whose rule read it (its ``reads`` trait is false)."""


class StubRead(RuntimeError):
    pass


def _refuse(self, *args, **kwargs):
    raise StubRead('a VJP rule read a value the tape did not keep')


class Stub:
    __slots__ = ('shape', 'dtype')

    def __init__(self, shape, dtype):
        self.shape = shape
        self.dtype = dtype

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        n = 1
        for d in self.shape:
            n *= d
        return n

    def __repr__(self):
        return f'Stub(shape={self.shape}, dtype={self.dtype})'

    __array__ = __array_function__ = __getitem__ = __iter__ = __float__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refuse
    __truediv__ = __rtruediv__ = __pow__ = __rpow__ = __neg__ = __matmul__ = _refuse
    __rmatmul__ = __lt__ = __gt__ = __le__ = __ge__ = _refuse

    def __array_ufunc__(self, *args, **kwargs):
        raise StubRead('a VJP rule read a value the tape did not keep')
