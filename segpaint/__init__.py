"""Segmentation-based parametric painting (segpaint).

Paper: Manuel Rodriguez Ladron de Guevara, Matthew Fisher, Aaron Hertzmann, "Segmentation-Based Parametric
Painting", arXiv 2311.14271 (2023). Release: github.com/manuelladron/semantic_based_painting (paper era
1fec47a); this is a re-implementation from the paper and notes, no code copied.

Method. An image I (H x W, in [0, 1]) is painted with quadratic Bezier strokes (the 13-parameter Learning to
Paint stroke, format ``bezier13``, see ``common/renderers/bezier13.py``) in P passes from coarse to fine.
Each pass covers the canvas with 128-px windows (20-px overlap); every window gets T strokes initialised on a
grid with colours sampled from the image, and the stroke parameters theta of all windows are optimised
together by Adam (a fresh optimiser per pass). Passes after the first use error-driven attention windows;
with semantic masks, each region is painted in turn.

Losses (per window of canvas C_theta and image crop I):

    L(theta) = 1/|Omega| sum_{x in Omega} |C_theta(x) - I(x)| + beta * L_perc(C_theta, I)   (paper Eq. 1)
    C_theta = C_0 * prod_i (1 - a_i) + sum_i c_i a_i prod_{j>i} (1 - a_j)      ("over" compositing)
    L_perc = mean over VGG16 layers l of (1 - cos(phi_l(C), phi_l(I)))  (cosine over channels, as STROTSS)

Omega is all window pixels, or a region's pixels in a mask pass. ``--global_loss`` adds
``mean |down2(paste(C)) - down2(I)|`` on the whole canvas at half resolution.

Symbol map (paper -> code):
    I                    image / ``target`` crops (``segpaint.patches.crop``)
    C, C_0               ``painted`` / ``base`` window canvases (``segpaint.painter.render_windows``: the B
                         windows are the images of one ``render_bezier13`` batch, composited with the
                         box-over operation of ``common.compositing``)
    theta, s_p           ``raw`` stroke parameters (B, T, 13); T = ``SegPaintConfig.strokes_per_patch[p]``
    a_i (alpha_i), c_i   ``common.renderers.bezier13.bezier13_alpha`` (analytic) or the neural FCN; colour
    beta                 ``SegPaintConfig.w_perc`` (``--w_perc``)
    P passes, widths     ``strokes_per_patch`` / ``brush_sizes`` (max radius in LtP units, halved per pass)
    attention maps, V    ``segpaint.patches.attention_windows`` (top-K windows by mean L1 error)
    alpha_k (masks)      ``segpaint.segmentation.segment`` (DETR panoptic or SLIC), used in ``paint``
    pasting              ``segpaint.patches.paste_blend`` (grid) / ``paste_window`` (attention)

Departures from the paper and the release, and why:
    1. Renderer: analytic coverage from the distance to the curve (``bezier13``) by default; the paper's
       neural renderer is available with ``--renderer neural`` (our FCN trained by ``segpaint/train.py`` to
       imitate the analytic one). Strokes use absolute control points in (x, y) order (LtP: relative middle
       point, row first), so they can be stored in canvas coordinates.
    2. Grid: windows are spread evenly so that they cover the image at its own size with >= 20-px overlaps;
       the release instead resizes the image (with distortion) to 108 n + 20 px. Images smaller than 128 px
       use one window of their own size. Images longer than ``--max_side`` (512) are downscaled first
       (release: /3 or /4 above 1800 px).
    3. Realistic budget: 16, 36, 49, 64 strokes per window (paper: 36, 49, 64, 81; release: 9, 49, 64, 81),
       so a 512-px image (25 windows here, 16 in the paper's resized grid) gets ~4000 strokes as in Table 3.
       Brushes 0.8, 0.4, 0.2, 0.1 (paper's finest 0.1; release 0.05).
    4. Perceptual term: beta = 0.01 for realistic as in the paper (release default 0); it is used only when
       the VGG16 weights are in the local torch.hub cache, otherwise the run logs a note and records it in
       metrics.json. Input is ImageNet-normalised from [0, 1] (release: assumes [-1, 1], a quirk).
    5. Mask passes use L1 on the region (paper) instead of the release's masked MSE, run ``iter_steps``
       iterations (release: hard-coded 300), take each window crop just before the region is painted (release
       bug: stale crops pasted over earlier regions), and give unlisted regions their own budget (release bug:
       budget carried over from the previous mask).
    6. Mask constraint as in the release (rejection, not the paper's colour * alpha_k): a stroke survives if
       at least ``mask_keep_fraction`` (0.9; release 98% of pixels) of its alpha lies in the region.
    7. Segmentation: DETR panoptic only from the local Hugging Face cache; otherwise SLIC superpixels
       (scikit-image) with a generic budget of 8 regions, largest first, the same stroke budget for every
       region (``strokes_per_patch`` of the pass) instead of the per-class table.
    8. Flags: real booleans (``--texturize/--no-texturize``, ``--global_loss``, ``--video``), never
       ``type=bool``; CUDA is used when present (HEAD runs on MPS/CPU only); no early stopping or patch
       filtering (HEAD-only changes).
    9. Texturize: a procedural bristle modulation of the finished painting written as a separate image (the
       release re-renders each stroke with a brush bitmap we do not ship).
   10. Outputs: the final strokes are stored (bezier13 JSON in canvas coordinates, SVG); the release keeps no
       parameter dump. ``painting.png`` is the pasted result; re-rendering the JSON strokes in order gives a
       close but not identical image (no cross-fades), reported as ``strokes_rerender`` in metrics.json.
   11. Budget: the default preset runs 50 Adam steps per pass (83 for expressionist), 1/6 of the paper's and
       the release's 300 (500), so that a 512-px photo is painted in minutes on a CPU (issue 16); ``--preset
       paper`` restores 300. Measured (segpaint/README.md): 50 steps give L1 0.0301 / 0.0249 / 0.0250 on
       astronaut / coffee / chelsea at 512 px; fewer steps with a larger lr lost 0.002-0.004 L1 on a crop.
"""
