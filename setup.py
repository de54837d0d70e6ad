"""Build hook only: compiles the native core. Metadata lives in pyproject.toml.

``native/_build.py`` compiles the cffi module (``native/*.c`` that work on
plain memory); ``native/codec.c`` builds and reads Python objects, which cffi cannot,
so it is a small CPython extension of its own (see docs/design.md), and so are
``native/mirror.c`` (a client mirror's Moves rows, Python objects too) and
``native/netio.c``, the client sockets' I/O thread (Linux: epoll; elsewhere the
network module reads and writes inside its tick).
"""

import sys

from setuptools import Extension, setup

_CFLAGS = ["/O2"] if sys.platform == "win32" else ["-O3", "-std=c99", "-fno-strict-aliasing"]

_EXTENSIONS = [Extension("native._codec", ["native/codec.c"], extra_compile_args=_CFLAGS),
               Extension("native._mirror", ["native/mirror.c"], extra_compile_args=_CFLAGS)]
if sys.platform.startswith("linux"):
    _EXTENSIONS.append(Extension("native._netio", ["native/netio.c"], extra_compile_args=_CFLAGS,
                                 libraries=["pthread"]))

setup(
    cffi_modules=["native/_build.py:ffibuilder"],
    ext_modules=_EXTENSIONS,
)
