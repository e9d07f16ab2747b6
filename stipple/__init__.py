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
- Chamfer:   L_CD = 1/|P| sum_p min_q |p - q|^2 + 1/|Q| sum_q min_p |p - q|^2   (``matched_chamfer``: the
             value and gradient of common.losses.chamfer from one distance matrix without autograd)
- Spectrum:  L_spec = mean_{bins b} | log(eps + Pbar_P(b)) - log(eps + Pbar_Q(b)) |, Pbar(b) the mean of the
             exact periodogram P(k) = |sum_j exp(-2 pi i k . x_j)|^2 / N over bin b = (annulus of width 2 in
             |k| in [1, 1.25 G], one of 8 sectors of the angle of k in [0, pi))
             (``radial_angular_spectrum_loss``)
- Colour:    L_col = mean_p |c_p - I(x_p)|^2, I bilinearly sampled at the (detached) predicted positions
- Density:   L_dens = mean_cells (lambda_c - n_c)^2, n_c = reference stipples in cell c
- Radius:    L_rad = mean_p | log r_p - log r_q(p) |, q(p) the nearest reference stipple (tone-matched radius)
- Tone:      L_tone = mean_pixels (blur_sigma(render(P, r)) - gray)^2, sigma = dot spacing  (``tone_loss``)
- Total:     L = G^2 L_CD + 0.1 L_spec + L_col + L_dens + L_rad + 10 L_tone

Paper / release symbol -> code name
-----------------------------------
- image code z, style w = MLP(z)       -> ``StippleNet.style_mlp`` (of the mean encoder feature)
- AdaIN(x, w) = IN(x) (1 + gamma(w)) + beta(w) -> ``stipple.model.AdaIN``
- grid decoder                         -> ``StippleNet.blocks`` (residual AdaIN blocks at the cell grid)
- density / location / colour heads    -> ``density_head`` (lambda), ``location_head`` (K offsets),
  ``color_head`` (K colours); ours: ``radius_head`` (K radii)
- rho = 1 - I (stipple density)        -> ``stipple.stipplers.density_from_image``
- Voronoi cell V_i, mass m_i, centroid -> ``stipple.voronoi.cell_stats_refined`` (``mass``, ``centroid``)
- LBG disc area A, hysteresis h        -> ``disc_area``, ``hyst`` in ``lbg_stippling``

Departures from the release and the papers, and why
---------------------------------------------------
1. The density head is trained (L_dens against the reference per-cell occupancy) and decides which cells
   emit stipples (error diffusion of lambda to integer counts, exact total). The release picks cells by
   ``topk`` of a density that never receives a gradient, so it stays at its random initialisation.
2. Several stipples per cell: each cell has K = 6 slots and emits n_c of them, so dark regions get more
   stipples than light ones. During training the slots a cell uses are the reference count (teacher forcing).
3. Targets are the stippler's exact float point lists (``points/``); a PNG-only dataset takes dot centres
   from connected components of the target. The release samples dark PIXELS as points, over-weighting
   large dots.
4. The spectrum loss uses the exact periodogram, excludes k = 0, compares logs, and bins by annulus AND
   angle (8 sectors), up to |k| = 1.25 G so that the lattice frequency |k| = G of the cell grid is inside
   (the earlier version stopped at |k| = 24 < G = 32 and averaged over whole annuli, so it could not see
   the rows and columns the README reported). Per step a random 40 % of the frequencies with |k| >= 16 is
   evaluated (cost B N F). The release splats Gaussians on a grid and sum-normalises a DC-dominated spectrum.
5. The decoder is fully convolutional at the cell grid: the release's learned 4 x 4 constant upsampled to a
   fixed G x G cannot draw another grid, so the earlier version cut larger counts into tiles and took only
   square counts. Here two stride-2 convolutions bring the image (RGB + rho) to one feature per cell
   (4 px per cell), the style code is the mean of these features through a 3-layer MLP, and 5 residual
   blocks (dilations 1, 2, 4, 1, 2) modulated by AdaIN(w), each also seeing the cell's mean density, make
   the heads' input. Any count 256..16384 and any aspect ratio use one network: the grid has
   round(sqrt(N / n_cell * H / W)) x round(sqrt(N / n_cell * W / H)) cells (n_cell = 1 stipple per cell in
   training), and error diffusion of the density gives exactly N.
6. Encoder: the ResNet-50 / ResNet-18 options of the earlier version are gone (the cell-grid decoder needs
   per-cell features, and no ImageNet weights are in this machine's cache); the encoder is the small
   trainable stem above. A GPU run of the paper-size network was not possible in this session (no device).
7. Colour loss: MSE (as the release's code, its README says L1) at detached positions, so colour does not
   pull stipples around.
8. Radii are predicted (the release's per-point r): r = r0 exp(radius_head), r0 = sqrt(mean(rho) /
   (pi n)) cells (the radius that gives the image's mean tone with n stipples per cell), trained by L_rad
   against the reference's tone-matched radii and by L_tone. ``predict_stipples(radius="tone")`` (test.py
   ``--radius tone``) is the fallback: pi r^2 = box3(m) / box3(n) per cell, as the classical stipplers.
9. Priors: the density head predicts a log-correction of the proportional allocation
   lambda0_c = n_cell rho_c / mean(rho), and the slot offsets a correction, in atanh space, of a fixed
   progressive R2 low-discrepancy pattern per cell with a random shift per cell. Both heads start at zero,
   so the untrained network already stipples by darkness without a lattice.
10. Points free of the grid: a slot lies within +-1.5 cells of its cell's centre (``reach``), so
   neighbouring cells' stipples interleave; the earlier sigmoid offsets kept every stipple inside its cell.
11. Tone loss (ours): the bench's tone measure as a loss, through the differentiable ``dots`` renderer.
12. Optional relaxation: ``predict_stipples(relax=k)`` (test.py ``--relax k``) runs k weighted Lloyd steps
   on the predicted points (``stipple.stipplers.lloyd_relax``: 16 px per point, 2 x 2 border sub-pixels);
   the bench times it separately.
13. Training data: crops of the bundled photos and of Debian opencv-doc's photos (fruits, home, messi5 and
   the scikit-image benchmark photos held out; near-duplicate calibration boards dropped), plus synthetic
   tone images, with the 8 symmetries of the square applied to image and points together.

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
- ``scripts/bench_stipple.py`` (load 8.5-12): fruits 22.70 dB (today's path 20.50), messi5 21.93 dB (19.54);
  the published figures 23.2 / 22.5 dB are NOT reached. Flat 50 % gray, 2000 points: NN distance mean/std
  14.64 (today 11.37, target 14). Tone PSNR (sigma = dot spacing, own radii) is >= today's path and >= LBG
  on all 12 photo x count cells (1024, 4096). Seconds: 370.6 against today's path's 395.3 over those 12
  cells, but slower in 3 of them (camera 4096: 55.5 vs 49.5 s; fruits 1024: 15.6 vs 15.2; fruits 4096:
  69.4 vs 36.5). Suspected cause, not measured: with the stretched density more sites crowd into dark
  areas, share seed pixels, are re-drawn, and every re-draw makes the next labelling a cold 11-pass JFA.
- Threads: WVS, camera, 4096 points: 1 thread 28.5 s, 2 threads 304.6 s (load 9.2-10.3); the entry scripts
  use ``common.threads`` (free CPUs only, never oversubscribed).

"""
