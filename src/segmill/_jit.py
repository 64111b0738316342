"""``njit`` that imports numba only when a kernel is first called.

Importing numba (and the scipy modules it pulls in) costs 0.3-0.5 s, more
than a command on a small dataset takes otherwise. Every kernel module
decorates with :func:`njit` from here instead of numba's: the decorator
records the function and returns a stand-in; the first call of any stand-in
imports numba, turns every recorded function into its numba dispatcher (with
the same options, so the on-disk cache is the same), and puts the
dispatchers in place of the stand-ins in the globals of every ``segmill``
module, which is where numba looks up the kernels a kernel calls. Kernels
defined after that are compiled as they are defined. A command that never
calls a kernel (``segmill info`` on a COCO file, ``segmill --help``) never
imports numba.
"""

from __future__ import annotations

import sys
import threading

__all__ = ["njit", "load"]

_LOCK = threading.Lock()
_PENDING: list["_Kernel"] = []
_NUMBA = None  # the numba module, once loaded


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
