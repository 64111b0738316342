"""``njit`` that imports numba only when the work is worth it.

Importing numba costs about 0.2 s and the first call of a cached kernel
another 0.4-0.6 s (numba's typing registries and LLVM start up): far more
than a command on a small dataset takes otherwise. Every kernel module
decorates with :func:`njit` from here instead of numba's: the decorator
records the function and returns a stand-in.

While numba is not loaded, a stand-in called with small arguments runs the
kernel's own Python source under CPython: the same code, so the same results
(``tests/test_jit_interpret.py`` runs the oracle battery and the CLI both
ways and compares). Interpreted calls are counted: the first call with more
than :data:`INTERPRET_MAX_ELEMENTS` array elements, or the first call after
:data:`INTERPRET_BUDGET` seconds of interpreted kernel time in the process,
loads numba, and from then on every kernel runs compiled. A command on a
one-image dataset therefore never imports numba; a command on a real one
loses at most the budget before it does. ``SEGMILL_JIT=compile`` loads numba
at the first call (benchmarks use it); ``SEGMILL_JIT=interpret`` never does
(tests use it).

Loading numba turns every recorded function into its numba dispatcher (with
the same options, so the on-disk cache is the same) and puts the dispatchers
in place of the stand-ins in the globals of every ``segmill`` module, which
is where numba looks up the kernels a kernel calls. Kernels defined after
that are compiled as they are defined.
"""

from __future__ import annotations

import os
import sys
import threading
import time

__all__ = ["njit", "load", "INTERPRET_BUDGET", "INTERPRET_MAX_ELEMENTS"]

_LOCK = threading.Lock()
_PENDING: list["_Kernel"] = []
_NUMBA = None  # the numba module, once loaded

#: Seconds of interpreted kernel time a process may spend before numba is loaded.
INTERPRET_BUDGET = 0.1
#: Array elements (summed over a call's array arguments) above which a call loads numba at once.
INTERPRET_MAX_ELEMENTS = 1 << 17
_spent = 0.0  # interpreted kernel seconds so far
_depth = threading.local()  # > 0 inside an interpreted kernel: nested kernel calls run interpreted too


def _mode() -> str:
    mode = os.environ.get("SEGMILL_JIT", "auto")
    return mode if mode in ("auto", "compile", "interpret") else "auto"


def _elements(args) -> int:
    return sum(getattr(a, "size", 0) for a in args if hasattr(a, "dtype"))


def _interpret(kernel, args, kwargs):
    """Run ``kernel``'s Python source (a top-level call); its time counts against the budget."""
    global _spent
    import numpy as np  # (numpy is loaded whenever a kernel has arrays to work on)

    _depth.n = 1
    start = time.perf_counter()
    try:
        with np.errstate(all="ignore"):  # numba's integer arithmetic wraps without a word; so does this
            return kernel.py_func(*args, **kwargs)
    finally:
        _depth.n = 0
        _spent += time.perf_counter() - start


class _Kernel:
    """A stand-in for a numba dispatcher until numba is loaded."""

    def __init__(self, func, options: dict) -> None:
        self.py_func = func
        self.options = options
        self.dispatcher = None
        self.__name__ = func.__name__
        self.__qualname__ = func.__qualname__
        self.__doc__ = func.__doc__
        self.__module__ = func.__module__
        self.__wrapped__ = func

    def __call__(self, *args, **kwargs):
        if self.dispatcher is None:
            if getattr(_depth, "n", 0):  # inside an interpreted kernel: its errstate and its clock hold
                return self.py_func(*args, **kwargs)
            mode = _mode()
            if mode == "interpret" or (mode == "auto" and _spent < INTERPRET_BUDGET
                                       and _elements(args) <= INTERPRET_MAX_ELEMENTS):
                return _interpret(self, args, kwargs)
            load()
        return self.dispatcher(*args, **kwargs)

    def __getattr__(self, name):  # .signatures, .py_func of the real dispatcher, ...
        if self.dispatcher is None:
            load()
        return getattr(self.dispatcher, name)

    def __repr__(self) -> str:
        return f"<segmill kernel {self.__module__}.{self.__qualname__} ({'loaded' if self.dispatcher else 'lazy'})>"


def njit(*args, **options):
    """``numba.njit`` with the import of numba deferred to the first call of a kernel.

    Used exactly as numba's decorator: ``@njit(cache=True, nogil=True)``.
    """
    def wrap(func):
        if _NUMBA is not None:
            return _NUMBA.njit(**options)(func)
        kernel = _Kernel(func, options)
        with _LOCK:
            if _NUMBA is None:
                _PENDING.append(kernel)
                return kernel
        return _NUMBA.njit(**options)(func)

    if args and callable(args[0]) and not options:
        return wrap(args[0])
    return wrap


def load():
    """Import numba and compile (or load from the cache) nothing yet: make every kernel a dispatcher.

    Returns the numba module. Safe to call from several threads and more than once.
    """
    global _NUMBA
    with _LOCK:
        if _NUMBA is not None:
            return _NUMBA
        import numba  # lazy: the point of this module

        for kernel in _PENDING:
            kernel.dispatcher = numba.njit(**kernel.options)(kernel.py_func)
        for name, module in list(sys.modules.items()):
            if (name == "segmill" or name.startswith("segmill.")) and module is not None:
                space = vars(module)
                for key, value in list(space.items()):
                    if type(value) is _Kernel:
                        space[key] = value.dispatcher
        _PENDING.clear()
        _NUMBA = numba
        return numba
