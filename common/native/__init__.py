"""Optional native (C) kernels for the CPU hot loops of the renderers and the box-over compositing (issue 12).

The pure PyTorch code in :mod:`common.renderers.bezier13` and :mod:`common.compositing` is the reference and
runs everywhere (CPU, CUDA, MPS). On the CPU, for float32 and float64 tensors, the same per-pixel arithmetic
written as plain C loops (``kernels_impl.h``: bezier13 closest-point search, Newton polish, coverage and its
analytic gradient; sequential "over" of entries and its reverse replay) does the work of a few hundred small
tensor operations per pixel in one pass over memory, with no (pixels x chords) temporaries and no autograd
graph. The tests check that both paths agree within 1e-5 (value) and 1e-4 (gradient).

Build: on first use ``kernels.c`` is compiled with the system C compiler (``$CC`` or ``cc``; ``-O3
-march=native -ffp-contract=off -fno-math-errno -fopenmp-simd``: vector instructions of this CPU, no fused
multiply-add, so the rounding is that of the separate operations; ``omp simd`` marks the gradient sums that
may be vectorised, no OpenMP threads) into ``$STROKELAB_CACHE/native`` (default
``~/.cache/strokelab/native``), named by a hash of the sources, the command and the CPU's feature flags,
written to a temporary file and renamed into place (several processes may build at once). It takes about a
second; later runs load the cached library. No compiler, a failed build or ``STROKELAB_NATIVE=0`` in the
environment: :func:`kernels` returns ``None`` and callers use the pure path (the reason is in
:func:`unavailable_reason`). Nothing happens at import time.

Kernels run on one thread (the project's thread policy runs one torch thread on a loaded machine); they are
called with ``ctypes`` on the tensors' data pointers, so inputs must be contiguous CPU tensors of one dtype.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

__all__ = ["kernels", "unavailable_reason", "usable", "disabled", "ptr", "suffix"]

_SOURCES = ("kernels.c", "kernels_impl.h")
_FLAGS = ("-O3", "-march=native", "-ffp-contract=off", "-fno-math-errno", "-fopenmp-simd", "-fPIC", "-shared")
_state: dict = {}


def _cache_dir() -> Path:
    root = os.environ.get("STROKELAB_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "strokelab")
    return Path(root) / "native"


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            return next((line for line in handle if line.startswith(("flags", "Features"))), "")
    except OSError:
        return ""


def _declare(lib: ctypes.CDLL) -> None:
    i64, vp = ctypes.c_int64, ctypes.c_void_p
    for sfx in ("_f32", "_f64"):
        f = getattr(lib, "b13_cover" + sfx)
        f.restype = i64
        f.argtypes = [i64, vp, vp, vp, vp, vp, vp, i64, i64, i64, i64, i64, vp, vp, vp, vp, vp, vp, vp]
        f = getattr(lib, "b13_cover_backward" + sfx)
        f.restype = None
        f.argtypes = [i64, vp, vp, vp, vp, vp, vp, vp, i64, i64, vp]
        f = getattr(lib, "curve_select" + sfx)
        f.restype = i64
        f.argtypes = [i64, vp, i64, vp, i64, vp, vp, i64, i64, vp, vp, vp, vp]
        f = getattr(lib, "over_forward" + sfx)
        f.restype = None
        f.argtypes = [i64, i64, i64, vp, vp, vp, vp, vp, vp]
        f = getattr(lib, "over_backward" + sfx)
        f.restype = None
        f.argtypes = [i64, i64, i64, vp, vp, vp, vp, vp, vp, vp, vp]


def _build() -> ctypes.CDLL | None:
    if os.environ.get("STROKELAB_NATIVE", "1").strip().lower() in ("0", "off", "no", "false"):
        _state["reason"] = "disabled by STROKELAB_NATIVE"
        return None
    cc = shutil.which(os.environ.get("CC", "cc"))
    if cc is None:
        _state["reason"] = "no C compiler (cc or $CC) on PATH"
        return None
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in _SOURCES:
        digest.update((here / name).read_bytes())
    digest.update(" ".join((cc, *_FLAGS)).encode())
    digest.update(_cpu_flags().encode())  # -march=native: one build per kind of CPU
    out = _cache_dir() / f"strokelab_kernels-{digest.hexdigest()[:16]}.so"
    if not out.exists():
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=".so", dir=out.parent)
            os.close(fd)
            cmd = [cc, *_FLAGS, "-o", tmp, str(here / "kernels.c"), "-lm"]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                os.unlink(tmp)
                _state["reason"] = f"C build failed: {(done.stderr.strip().splitlines() or ['?'])[-1][:200]}"
                return None
            os.replace(tmp, out)
        except (OSError, subprocess.SubprocessError) as exc:
            _state["reason"] = f"C build failed: {exc}"
            return None
    try:
        lib = ctypes.CDLL(str(out))
        _declare(lib)
    except (OSError, AttributeError) as exc:
        _state["reason"] = f"cannot load {out}: {exc}"
        return None
    return lib


def kernels() -> ctypes.CDLL | None:
    """The native kernel library (built and loaded on the first call), or ``None`` when it is unavailable."""
    if "lib" not in _state:
        _state["lib"] = _build()
    return _state["lib"]


def unavailable_reason() -> str | None:
    """Why :func:`kernels` returned ``None`` (``None`` when the kernels are available or not yet tried)."""
    return _state.get("reason")


@contextlib.contextmanager
def disabled():
    """Context in which :func:`usable` is ``False``: every caller takes its pure PyTorch path (the
    reference; used by the tests and by the benchmarks' ``pure`` rows). Not thread-safe."""
    _state["off"] = _state.get("off", 0) + 1
    try:
        yield
    finally:
        _state["off"] -= 1


def usable(*tensors: torch.Tensor) -> bool:
    """Whether the native kernels can take these tensors: all on the CPU, float32 or float64 (the floating
    ones, all of one dtype), the library available and not :func:`disabled`."""
    if _state.get("off"):
        return False
    dtypes = {t.dtype for t in tensors if t.is_floating_point()}
    if len(dtypes) != 1 or dtypes - {torch.float32, torch.float64}:
        return False
    if any(t.device.type != "cpu" for t in tensors):
        return False
    return kernels() is not None


def suffix(dtype: torch.dtype) -> str:
    """Kernel name suffix for a dtype: ``"_f32"`` or ``"_f64"``."""
    return "_f32" if dtype == torch.float32 else "_f64"


def ptr(t: torch.Tensor | None) -> int | None:
    """Data pointer of a contiguous tensor (``None`` for ``None``); ``ValueError`` if not contiguous."""
    if t is None:
        return None
    if not t.is_contiguous():
        raise ValueError("native kernels need contiguous tensors")
    return t.data_ptr()
