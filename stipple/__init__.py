"""Deep stippling: classical stipplers (weighted Voronoi, weighted LBG) and a network that draws stipples.

Papers
------
- Network: "A Deep Learning Method for 2D Image Stippling" (Li et al., Computer Graphics International 2021,
  LNCS 13002, pp. 301-312; the release's README says ICIG). A stipple drawing is a point set; an image encoder
  gives a style code that drives a point-generating decoder, trained with Chamfer and spectrum losses. The
  full text is paywalled: the architecture below follows the third-party release
  (``OfirGiladBGU/A_Deep_Learning_Method_for_2D_Image_Stippling``, revision 3741ffe's 2-D AdaIN grid decoder,
  itself after Lim, Ibing & Kobbelt, SGP 2019), with its flaws fixed (see Departures).
- Weighted Voronoi stippling: Secord, NPAR 2002 (``stipple.stipplers.weighted_voronoi_stippling``).
- Weighted Linde-Buzo-Gray stippling: Deussen, Spicker & Zheng, TOG 36(6) 2017 (``lbg_stippling``).

Losses (``stipple.losses``; P the emitted points, Q the reference stipples, G the grid side)
------------------------------------------------------------------------------------------
- Chamfer:   L_CD = 1/|P| sum_p min_q |p - q|^2 + 1/|Q| sum_q min_p |p - q|^2   (common.losses.chamfer)
- Spectrum:  L_spec = mean_{r=1..kmax} | log(eps + RAPS_P(r)) - log(eps + RAPS_Q(r)) |, with
             RAPS(r) = mean_{|k| in [r, r+1)} P(k), P(k) = |sum_j exp(-2 pi i k . x_j)|^2 / N the exact
             periodogram on integer frequencies, k = 0 excluded                  (common.losses.spectrum)
- Colour:    L_col = mean_p |c_p - I(x_p)|^2, I bilinearly sampled at the (detached) predicted positions
- Density:   L_dens = mean_cells (lambda_c - n_c)^2, n_c = reference stipples in cell c
- Total:     L = G^2 L_CD + 0.1 L_spec + L_col + L_dens

Paper / release symbol -> code name
-----------------------------------
- style code z (1024-d)                -> ``StippleNet.to_style`` output; w = ``StippleNet.style_mlp(z)``
- AdaIN(x, w) = IN(x) (1 + gamma(w)) + beta(w) -> ``stipple.model.AdaIN``
- learned constant 4 x 4               -> ``StippleNet.const``; grid decoder -> ``StippleNet.blocks``
- density / location / colour heads    -> ``density_head`` (lambda), ``location_head`` (K offsets),
  ``color_head`` (K colours)
- rho = 1 - I (stipple density)        -> ``stipple.stipplers.density_from_image``
- Voronoi cell V_i, mass m_i, centroid -> ``stipple.voronoi.cell_stats`` (``mass``, ``centroid``)
- LBG disc area A, hysteresis h        -> ``disc_area``, ``hyst`` in ``lbg_stippling``

Departures from the release and the papers, and why
---------------------------------------------------
1. The density head is trained (L_dens against the reference per-cell occupancy) and decides which cells
   emit stipples (error diffusion of lambda to integer counts, exact total). The release picks cells by
   ``topk`` of a density that never receives a gradient, so it stays at its random initialisation.
2. Several stipples per cell: each cell has K = 6 slots and emits n_c of them, so dark regions get more
   stipples than light ones on the sqrt(N) x sqrt(N) grid the release uses (its 32 x 32 grid for 1024 points
   emits exactly one point per cell, which cannot follow tone). During training the slots a cell uses are
   the reference count (teacher forcing).
3. Targets are the stippler's exact float point lists (``points/``); a PNG-only dataset takes dot centres
   from connected components of the target. The release samples dark PIXELS as points, over-weighting
   large dots.
4. The spectrum loss uses the exact periodogram, excludes k = 0 and compares log RAPS. The release splats
   Gaussians on a grid (B x N x W^2 memory, high frequencies damped) and sum-normalises a spectrum whose DC
   bin dominates.
5. ``skip`` (default on): the decoder also sees the input's density map pooled to each level. With only a
   global 1024-d code, the decoder has to rebuild the image layout from a vector; on a CPU budget of minutes
   that does not converge. ``--no_skip`` trains the release's code-only decoder.
6. Encoder: ResNet-50 / ResNet-18 are frozen and kept in eval mode (the release's ``model.train()`` lets the
   frozen BatchNorm statistics drift). No weights can be downloaded here: without the torch.hub file the
   training says which file is missing and trains the encoder from random initialisation (the offline path,
   recorded in the checkpoint provenance). The shipped checkpoint uses ``--encoder scratch``, a small
   trainable CNN, because a ResNet trained from scratch does not fit the CPU budget.
7. Colour loss: MSE (as the release's code, its README says L1) at detached positions, so colour does not
   pull stipples around; ImageNet normalisation is applied inside the ResNet encoder, so inference cannot
   forget it (the release's inference does).
8. Radii are not predicted: every stipple's disc area is tone-matched to the density mass around it (the
   classical stipplers use the same rule, pi r^2 = cell mass), so the ink of the drawing reproduces the tone.
9. Priors (both on by default in train.py, ``--no_density_prior`` / ``--no_slot_prior`` turn them off): the
   density head predicts a log-correction of the proportional allocation lambda0_c = rho_c / mean(rho)
   (rho_c the cell's mean density), and the slot offsets are a correction, in logit space, of a fixed
   progressive low-discrepancy pattern per cell (R2 sequence with a random shift per cell). Both heads'
   last layers start at zero, so the untrained network already stipples by darkness without a lattice; the
   first CPU-trained version without them (280 steps) drew a visible 32 x 32 lattice (all cells shared one
   offset pattern) and a weak density. What the network learns is the correction; the README reports the
   untrained-with-priors network beside the trained one so the learned part can be judged.
10. More stipples than the trained count: the image is cut into t x t tiles (t = ceil(sqrt(N / N_train))),
   each tile's density is weighted by its darkness, and N stipples are allocated over all tiles' cells.

Classical stipplers: what cost the 2.7 dB against the published WVS, and what changed (issue 13)
------------------------------------------------------------------------------------------------
Measure: fruits.jpg (opencv-doc, 512 x 480), N = 5000, 50 Lloyd iterations, one thread, "peer tone PSNR"
(``stipple.evaluate.peer_tone_psnr``: equal discs r = 0.5 sqrt(HW / (pi N)), Gaussian blur sigma 3 px on
both, render normalised to the input's blurred mean / std); 2-core CPU shared with ~10 jobs (load 8-11), so
seconds are compared only within one run. One factor at a time, from today's path (20.50 dB):

- Jump-flooding labels are not the cause: exact nearest-site labels (k-d tree) at the same raster give
  20.43 dB. JFA warm-started from the previous iteration's labels (4 passes instead of 11 once sites move
  less than a few pixels; 100 % agreement with brute force in ``tests/stipple``) gives 20.49 dB in 20.2 s
  against 53.4 s (same run): free speed.
- Centroid accuracy at the cell borders is the main cause. A finer raster (256 instead of 64 px per point,
  cold JFA) gives 22.07 dB but is ~7x slower; resolving only the border pixels into 4 x 4 sub-pixels
  labelled exactly among their 3 x 3 neighbourhood's sites (``voronoi.cell_stats_refined``) gives 22.27 dB.
  Refining only the last 5 / 10 of the 50 iterations gives 21.02 / 21.36 dB: the positions need the
  accurate centroids throughout.
- Density normalisation: min-max stretching rho per image (the darkest pixel 1, the lightest 0; Secord
  normalises the image) gives +0.77 dB (21.27 dB with warm JFA): sparse stipples in the lightest areas are
  noise under a 3-px blur. Radii still follow the true density, so the tone-matched ink is unchanged.
- Combined (warm JFA + stretch): 128 px per point 22.47 dB in 45.9 s; 2 x 2 border sub-pixels 22.70 dB in
  45.5 s; 4 x 4 sub-pixels 22.99 dB in 109.8 s, against today's path 47.1 s in the same run. The default is
  2 x 2 sub-pixels at 64 px per point (``weighted_voronoi_stippling(subpixel=2, normalize=True,
  warm_start=True)``): 22.70 dB in 48.4 s where today's code took 84.3 s (same run, load 8.7-9.0).
- Our exact reference of Secord's method (density zoomed 4x by nearest neighbour, ~790 px per point,
  exact k-d-tree labels, raw density; runs/ only, not shipped) gives 22.69 dB on fruits and 21.27 dB on
  messi5, below the 23.2 / 22.5 dB quoted for the peer, so part of the quoted figure comes from a density
  convention we could not reproduce from the paper's text. ``scripts/bench_stipple.py`` (section ``peer``)
  measures both photos side by side with today's path.

"""
