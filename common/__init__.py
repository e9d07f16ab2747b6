"""StrokeLab's shared core: everything two methods would otherwise write twice.

Modules (each documented in its own docstring; none has state at import time):

- ``errors``: ``UserError`` and its subclasses, the one-line messages users see.
- ``cli``: ``ArgumentParser`` with one-line errors, ``add_common_args`` (``--device``, ``--seed``,
  ``--offline``, ``--output_dir``), argparse types, ``run_main``, ``prepare_output_dir``.
- ``device``: ``get_device``, ``seed_everything``, ``autocast``, torchrun/DDP set-up, ``unwrap_model``.
- ``image_io``: load/validate/save images, atomic writes (umask modes), ``save_json``, stroke JSON.
- ``outputs``: the per-image output folder of every ``test.py`` (all or nothing) and the folder batch.
- ``strokes``: the stroke-format registry (names, parameter names, ranges, render, SVG, JSON rows).
- ``video``: process videos (MP4/GIF) and ``ProcessRecorder``.
- ``checkpoint``: one self-describing checkpoint file (weights + config + step + metrics + provenance).
- ``compositing``: alpha "over" compositing: sequential and parallel (cumulative product) on dense stacks,
  and the box-over operation every renderer uses (``composite_entries`` / ``composite_patches``: exact
  stroke order, cost proportional to the covered pixels, depth layers, custom backward, memory budget).
- ``renderers``: differentiable ``oil``, ``bezier13``, ``curve``, ``dots`` renderers and the neural FCN.
- ``losses``: pixel, VGG perceptual / Gram, DT, WGAN-GP, Chamfer, spectrum, CLIP losses.
- ``metrics``: L1, MSE, PSNR, SSIM.
- ``pretrained``: torchvision weights API / Hugging Face ``from_pretrained`` into the standard caches,
  downloading when online; ``--offline``; ``WeightsMissingError`` (one line) when weights cannot be had.
- ``svg``: SVG export of every stroke format and resvg rasterisation.
- ``data``: bundled offline photos (``BENCH_PHOTOS`` held out) and ``ImageFolderDataset``.

Conventions: images ``(B, 3, H, W)`` float sRGB in [0, 1]; positions normalised (x = column / W,
y = row / H); sizes as fractions of ``min(H, W)``; angles in radians.
"""
