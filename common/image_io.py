"""Load, validate and save images; atomic file writes; stroke JSON files.

Images are float32 tensors ``(1, 3, H, W)`` (gray ``(1, 1, H, W)``), sRGB, values in [0, 1].
Every writer here writes to a temporary name in the target folder and renames it into place, so a crash
never leaves a half-written file under the final name.

Stroke JSON (one file per painting)::

    {"format": "bezier13", "param_names": ["x0", ...], "canvas": {"height": H, "width": W},
     "background": [r, g, b] or null, "strokes": [[...], ...], "extra": {...}}

Each row of ``strokes`` holds one stroke's parameters in the order of ``param_names``; the canonical names of
each format are in the registry ``common.strokes.STROKE_FORMATS`` (the renderer modules document the formats).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from common.errors import ImageLoadError, OutputDirError, StrokeFormatError, UserError
from common.strokes import STROKE_FORMATS, rows_to_json, stroke_format

__all__ = [
    "IMAGE_EXTENSIONS",
    "MIN_IMAGE_SIDE",
    "STROKE_PARAM_NAMES",
    "list_images",
    "load_image",
    "image_to_tensor",
    "tensor_to_uint8",
    "save_image",
    "atomic_write",
    "atomic_path",
    "create_exclusive",
    "save_json",
    "StrokeSet",
    "save_strokes",
    "load_strokes",
]

#: File extensions treated as images when a folder is listed (lower case, with the dot).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm")
#: Images whose shorter side is below this many pixels are rejected.
MIN_IMAGE_SIDE = 8

#: Parameter names of every stroke format (row layout of stroke JSON files); an alias of the registry's
#: ``common.strokes.STROKE_FORMATS[fmt].param_names``, kept for older callers.
STROKE_PARAM_NAMES: dict[str, tuple[str, ...]] = {name: f.param_names for name, f in STROKE_FORMATS.items()}


# ----------------------------------------------------------------------------------------------------------
# atomic writes


def create_exclusive(folder: Path, prefix: str, suffix: str = "", directory: bool = False) -> Path:
    """Create a new, uniquely named empty file (or folder) in ``folder`` with the user's umask.

    ``tempfile.mkstemp``/``mkdtemp`` create mode 0600/0700 whatever the umask, which left every output
    and checkpoint unreadable by other users; this creates with 0666/0777 filtered by the umask (0644 and
    0755 under the usual 022), exclusively (``O_EXCL``), so two writers never share a name.

    Returns:
        The new path. Raises ``OSError`` when the folder cannot be written.
    """
    for _ in range(100):
        candidate = folder / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            if directory:
                os.mkdir(candidate, 0o777)
            else:
                os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"no free temporary name in {folder}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success rename it to ``path``, on error delete it.

    The file is created with the user's umask (0644 under 022; see :func:`create_exclusive`). The
    temporary name keeps the suffix of ``path`` (libraries that infer the format from the extension keep
    working) and lives in the same folder (so the rename is atomic). The parent folder is created if needed.

    Raises:
        OutputDirError: the parent folder cannot be created or written.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = create_exclusive(path.parent, f".{path.stem}.", f".tmp{path.suffix}")
    except OSError as err:
        raise OutputDirError(f"cannot write {path}: {err.strerror or err}") from None
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file next to ``path`` for writing; rename it to ``path`` when the block succeeds.

    Args:
        path: final file path.
        mode: ``"w"`` (text) or ``"wb"`` (binary).
        encoding: text encoding (ignored for binary mode).

    If the ``with`` block raises, the temporary file is deleted and ``path`` is left untouched.

    Raises:
        OutputDirError: the folder cannot be created or written.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', got {mode!r}")
    with atomic_path(path) as tmp:
        kwargs = {} if "b" in mode else {"encoding": encoding}
        with open(tmp, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())


def _to_jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_to_jsonable(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return _to_jsonable(obj.detach().cpu().tolist())
    if isinstance(obj, np.ndarray):
        return _to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _to_jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, os.PathLike):
        return str(obj)
    return obj


def save_json(obj: Any, path: str | os.PathLike, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically.

    Tensors and NumPy arrays become (nested) lists, NumPy scalars become numbers, paths become strings, and
    non-finite floats (inf, nan) become ``null`` so the file is strict JSON.

    Returns:
        ``Path(path)``.
    """
    text = json.dumps(_to_jsonable(obj), indent=indent, allow_nan=False)
    with atomic_write(path, "w") as handle:
        handle.write(text + "\n")
    return Path(path)


# ----------------------------------------------------------------------------------------------------------
# loading


def list_images(path: str | os.PathLike) -> list[Path]:
    """The image files named by ``path``: the file itself, or the images directly inside a folder (sorted).

    Raises:
        ImageLoadError: the path does not exist, a folder holds no image files, or a file is not an image.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise ImageLoadError(f"no such file or folder: {p}")
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise ImageLoadError(f"no images in folder {p} (looked for {', '.join(IMAGE_EXTENSIONS)})")
        return files
    if p.suffix.lower() not in IMAGE_EXTENSIONS:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(p) as im:
                im.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise ImageLoadError(f"not an image file: {p}") from None
    return [p]


def _float_array_from_pil(im) -> np.ndarray:
    """PIL image -> float32 (H, W, C) in [0, 1] with C in {1, 3, 4}."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(im, dtype=np.float32)[..., None] / 65535.0
    if mode == "I":
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if arr.max() <= 65535 else float(arr.max())
        return (np.clip(arr, 0, None) / top).astype(np.float32)[..., None]
    if mode == "F":
        arr = np.asarray(im, dtype=np.float32)
        if arr.max() > 1.0:
            arr = arr / 255.0 if arr.max() <= 255.0 else arr / arr.max()
        return np.clip(arr, 0, 1)[..., None]
    if mode in ("1", "L"):
        return np.asarray(im.convert("L"), dtype=np.float32)[..., None] / 255.0
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in im.info)
    im = im.convert("RGBA" if has_alpha else "RGB")
    return np.asarray(im, dtype=np.float32) / 255.0


def _read_16bit_cv2(path: Path) -> np.ndarray | None:
    """16-bit colour PNG/TIFF through OpenCV (Pillow reduces these to 8 bit); None when not 16-bit colour."""
    import cv2

    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3:
        return None
    arr = arr.astype(np.float32) / 65535.0
    if arr.shape[2] == 4:
        return arr[..., [2, 1, 0, 3]]
    return arr[..., ::-1].copy()


def image_to_tensor(array: np.ndarray) -> torch.Tensor:
    """NumPy image -> float32 tensor ``(1, C, H, W)`` in [0, 1].

    Args:
        array: ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)``; uint8 (/255), uint16 (/65535),
            bool, or float (taken as already in [0, 1], clipped). RGBA is composited over white.

    Returns:
        ``(1, 1, H, W)`` for gray input, else ``(1, 3, H, W)``.

    Raises:
        ValueError: any other shape.
    """
    arr = np.asarray(array)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ValueError(
            f"expected an image array (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {arr.shape}"
        )
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        arr = arr.astype(np.float32) / 65535.0
    else:
        arr = np.clip(arr.astype(np.float32), 0.0, 1.0)
    if arr.shape[2] == 4:
        alpha = arr[..., 3:4]
        arr = arr[..., :3] * alpha + (1.0 - alpha)  # composite over white
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None].contiguous()


def load_image(path: str | os.PathLike, max_side: int | None = None, gray: bool = False) -> torch.Tensor:
    """Read an image file into a float32 tensor in [0, 1].

    Any Pillow format; the EXIF orientation is applied; gray images are repeated to RGB (unless ``gray``);
    RGBA/LA/transparent palettes are composited over white; 16-bit PNG/TIFF keep their precision.

    Args:
        path: image file.
        max_side: if given and the longer side exceeds it, downscale (aspect ratio kept, area interpolation)
            so that the longer side equals ``max_side`` pixels. Never upscales.
        gray: return luminance ``(1, 1, H, W)`` (ITU-R 601 weights) instead of RGB.

    Returns:
        ``(1, 3, H, W)`` (or ``(1, 1, H, W)`` with ``gray=True``), float32, values in [0, 1], on the CPU.

    Raises:
        ImageLoadError: missing, not an image, truncated/corrupt, or shorter side < ``MIN_IMAGE_SIDE`` px.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    p = Path(path).expanduser()
    if not p.is_file():
        raise ImageLoadError(f"no such image file: {p}" if not p.exists() else f"not a file: {p}")
    try:
        with Image.open(p) as im:
            im.load()
            fmt = im.format
            im = ImageOps.exif_transpose(im)
            arr = _float_array_from_pil(im)
    except UnidentifiedImageError:
        raise ImageLoadError(f"not an image file: {p}") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ImageLoadError(f"cannot read image {p}: {reason}") from None
    if fmt in ("PNG", "TIFF") and arr.shape[2] in (3, 4):
        wide = _read_16bit_cv2(p)
        if wide is not None and wide.shape[:2] == arr.shape[:2]:
            arr = wide
    h, w = arr.shape[:2]
    if min(h, w) < MIN_IMAGE_SIDE:
        raise ImageLoadError(f"image too small: {p} is {w}x{h} px (need at least {MIN_IMAGE_SIDE} px a side)")
    if arr.shape[2] == 4:
        alpha = arr[..., 3:4]
        arr = arr[..., :3] * alpha + (1.0 - alpha)
    if max_side is not None and max(h, w) > max_side:
        import cv2

        scale = max_side / max(h, w)
        new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
        arr = cv2.resize(arr, (new_w, new_h), interpolation=cv2.INTER_AREA)
        if arr.ndim == 2:
            arr = arr[..., None]
    arr = np.clip(arr, 0.0, 1.0).astype(np.float32)
    if gray:
        if arr.shape[2] == 3:
            arr = (arr @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[..., None]
    elif arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None].contiguous()


# ----------------------------------------------------------------------------------------------------------
# saving


def tensor_to_uint8(image: torch.Tensor) -> np.ndarray:
    """Float image tensor in [0, 1] -> uint8 array ``(H, W, 3)`` (values clipped, rounded).

    Args:
        image: ``(1, C, H, W)``, ``(C, H, W)`` or ``(H, W)`` with C in {1, 3}; a gray image is repeated to
            3 channels. Any device and float dtype.

    Raises:
        ValueError: any other shape.
    """
    t = image.detach()
    if t.dim() == 4:
        if t.shape[0] != 1:
            raise ValueError(f"expected a single image (1, C, H, W), got batch of {t.shape[0]}")
        t = t[0]
    if t.dim() == 2:
        t = t[None]
    if t.dim() != 3 or t.shape[0] not in (1, 3):
        raise ValueError(
            f"expected an image (1, C, H, W) or (C, H, W) with C in {{1, 3}}, got {tuple(image.shape)}"
        )
    if t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    arr = t.float().clamp(0, 1).mul(255.0).round().to(torch.uint8).cpu().numpy()
    return np.ascontiguousarray(arr.transpose(1, 2, 0))


def save_image(image: torch.Tensor | np.ndarray, path: str | os.PathLike, quality: int = 95) -> Path:
    """Write an image to PNG/JPEG (any Pillow format, chosen by the suffix), atomically.

    Args:
        image: tensor ``(1, C, H, W)`` or ``(C, H, W)`` in [0, 1] (C = 1 is saved as gray, C = 3 as RGB), or
            a uint8 array ``(H, W, 3)`` / ``(H, W)``.
        path: output file; the parent folder is created.
        quality: JPEG quality.

    Returns:
        ``Path(path)``.

    Raises:
        UserError: unknown image suffix. OutputDirError: the folder cannot be written.
    """
    from PIL import Image

    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise UserError(f"unknown image file type {path.suffix!r} for {path} (use .png or .jpg)")
    if isinstance(image, np.ndarray):
        arr = image if image.dtype == np.uint8 else tensor_to_uint8(image_to_tensor(image))
        gray = arr.ndim == 2
    else:
        t = image.detach()
        gray = (t.dim() == 4 and t.shape[1] == 1) or (t.dim() == 3 and t.shape[0] == 1)
        arr = tensor_to_uint8(t)
        if gray:
            arr = arr[..., 0]
    pil = Image.fromarray(np.ascontiguousarray(arr))  # uint8 (H, W) -> "L", (H, W, 3) -> "RGB"
    options = {"quality": quality} if fmt == "JPEG" else {}
    with atomic_path(path) as tmp:
        try:
            pil.save(tmp, format=fmt, **options)
        except OSError as err:
            raise OutputDirError(f"cannot write {path}: {err}") from None
    return path


# ----------------------------------------------------------------------------------------------------------
# stroke JSON


@dataclass
class StrokeSet:
    """The strokes of one painting, as read by :func:`load_strokes`.

    Attributes:
        fmt: stroke format name (``"oil"``, ``"bezier13"``, ``"curve"``, ``"dots"``).
        param_names: names of the P columns of ``params``.
        params: ``(N, P)`` float32 tensor, in painting order, parameters normalised as the format says.
        height, width: canvas size in pixels the strokes were made for.
        background: canvas colour ``(r, g, b)`` in [0, 1], or None.
        extra: any further information the writer stored (dict).
    """

    fmt: str
    param_names: list[str]
    params: torch.Tensor
    height: int
    width: int
    background: list[float] | None = None
    extra: dict = field(default_factory=dict)


def _check_params(fmt: str, params: torch.Tensor, param_names: Sequence[str] | None) -> list[str]:
    if not isinstance(fmt, str) or not fmt:
        raise StrokeFormatError(f"stroke format must be a non-empty string, got {fmt!r}")
    if param_names is None:
        if fmt not in STROKE_FORMATS:
            raise StrokeFormatError(
                f"unknown stroke format {fmt!r} (known: {', '.join(STROKE_FORMATS)}); pass param_names"
            )
        param_names = stroke_format(fmt).param_names
    names = [str(n) for n in param_names]
    if params.dim() != 2 or params.shape[1] != len(names):
        raise StrokeFormatError(
            f"{fmt} strokes must be (N, {len(names)}) = ({', '.join(names)}), got shape {tuple(params.shape)}"
        )
    return names


def save_strokes(
    path: str | os.PathLike,
    fmt: str,
    params: torch.Tensor | np.ndarray,
    height: int,
    width: int,
    background: Sequence[float] | torch.Tensor | None = None,
    extra: dict | None = None,
    param_names: Sequence[str] | None = None,
) -> Path:
    """Write strokes to a JSON file atomically (layout in the module docstring).

    Args:
        path: output ``.json`` file.
        fmt: format name; its canonical column names come from ``common.strokes.STROKE_FORMATS``.
        params: ``(N, P)`` (or ``(1, N, P)``) stroke parameters, in painting order.
        height, width: canvas size in pixels.
        background: canvas colour, 3 floats in [0, 1], or None.
        extra: JSON-able dict stored under ``"extra"`` (e.g. per-pass stroke counts, tapered widths).
        param_names: column names when they differ from the canonical ones (e.g. dots with opacity).

    Raises:
        StrokeFormatError: unknown format without ``param_names``, or params of the wrong width.
    """
    t = torch.as_tensor(params).detach().float().cpu()
    if t.dim() == 3 and t.shape[0] == 1:
        t = t[0]
    names = _check_params(fmt, t, param_names)
    bg = None if background is None else [float(v) for v in torch.as_tensor(background).flatten().tolist()]
    doc = {
        "format": fmt,
        "param_names": names,
        "canvas": {"height": int(height), "width": int(width)},
        "background": bg,
        "strokes": rows_to_json(t),
        "extra": extra or {},
    }
    return save_json(doc, path, indent=None)


def load_strokes(path: str | os.PathLike) -> StrokeSet:
    """Read a stroke JSON file written by :func:`save_strokes`.

    Returns:
        A :class:`StrokeSet` with ``params`` as an ``(N, P)`` float32 tensor.

    Raises:
        StrokeFormatError: missing file, not JSON, missing keys, or rows of the wrong length.
    """
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StrokeFormatError(f"no such stroke file: {p}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise StrokeFormatError(f"cannot read stroke file {p}: {err}") from None
    if not isinstance(doc, dict) or not {"format", "param_names", "canvas", "strokes"} <= set(doc):
        raise StrokeFormatError(f"not a stroke file: {p} (needs format, param_names, canvas, strokes)")
    names = list(doc["param_names"])
    rows = doc["strokes"]
    try:
        params = torch.tensor(rows, dtype=torch.float32).reshape(len(rows), len(names))
        height, width = int(doc["canvas"]["height"]), int(doc["canvas"]["width"])
    except (TypeError, ValueError, RuntimeError, KeyError):
        raise StrokeFormatError(
            f"malformed stroke file {p}: each stroke needs {len(names)} numbers"
        ) from None
    _check_params(str(doc["format"]), params, names)
    return StrokeSet(
        str(doc["format"]), names, params, height, width, doc.get("background"), doc.get("extra") or {}
    )
