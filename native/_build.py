"""cffi build script for the native core (out-of-line API mode).

Registered in ``setup.py`` as ``cffi_modules=["native/_build.py:ffibuilder"]``,
so ``pip install .`` and ``pip install -e .`` compile ``native/*.c`` into
``native/_spenefett_native``. Run it directly to build in place::

    python native/_build.py

The declarations come from ``native/spenefett.h``, the one header both cffi
and the compiler read. Only ``native/_binding.py`` imports the result.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import sysconfig
from pathlib import Path

from cffi import FFI

_HERE = Path(__file__).resolve().parent
_SOURCES = ["move.c", "aoi.c", "pack.c", "baseline.c", "check.c", "picks.c", "views.c"]

_NO_COMPILER = """\
Spenefett's native core (native/*.c) must be compiled at install time, but no
C compiler was found (looked for {cc!r}). Install one and retry:
  Debian/Ubuntu:  apt-get install build-essential
  Fedora/RHEL:    dnf install gcc
  Alpine:         apk add build-base
  macOS:          xcode-select --install
or point the CC environment variable at your compiler."""

_NO_HEADERS = """\
Spenefett's native core needs the Python development headers (Python.h was not
found in {where!r}). Install them and retry:
  Debian/Ubuntu:  apt-get install python3-dev
  Fedora/RHEL:    dnf install python3-devel"""


def _check_toolchain() -> None:
    """Fail early with an instruction instead of a compiler traceback."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    exe = shlex.split(cc)[0] if cc.strip() else "cc"
    if shutil.which(exe) is None:
        raise RuntimeError(_NO_COMPILER.format(cc=exe))
    include = sysconfig.get_paths().get("include", "")
    if sys.platform != "win32" and not (Path(include) / "Python.h").exists():
        raise RuntimeError(_NO_HEADERS.format(where=include))


def _relative(path: Path) -> str:
    """Sources relative to the project root when possible (what setuptools wants)."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def _extra_cflags() -> list[str]:
    if sys.platform == "win32":
        return ["/O2", "/fp:precise"]
    # -ffp-contract=off: no fused multiply-add, so the C arithmetic matches
    # the pure-Python reference bit for bit on every platform.
    return ["-O3", "-std=c99", "-ffp-contract=off", "-fno-strict-aliasing"]


_check_toolchain()

ffibuilder = FFI()
ffibuilder.cdef((_HERE / "spenefett.h").read_text())
ffibuilder.set_source(
    "native._spenefett_native",
    '#include <stdint.h>\n#include "spenefett.h"\n',
    sources=[_relative(_HERE / name) for name in _SOURCES],
    include_dirs=[_relative(_HERE)],
    extra_compile_args=_extra_cflags(),
    libraries=[] if sys.platform == "win32" else ["m"],
)

if __name__ == "__main__":
    os.chdir(_HERE.parent)
    ffibuilder.compile(verbose=True)
