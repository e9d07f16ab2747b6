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
   on the predicted points (``stipple.stipplers.lloyd_relax``: the exact cells of the WVS below); the bench
   times one step separately. Measured with the shipped network (flat 50 % gray 512 px; fruits / camera /
   home at 1024 and 4096 points; load 7-12): one step lifts the nearest-neighbour mean/std on flat gray from
   3.37 to 7.22 (two steps 9.48, WVS 20.3) and the peer tone PSNR (equal discs: where the points are) by
   0.5-3.1 dB (fruits 4096: 16.89 -> 19.81), but it RAISES the lattice peak at |k| = sqrt(N) (1024: 1.73 ->
   5.42, 4096: 2.40 -> 10.06) and the angular anisotropy (+0.23 -> +0.72 dB, +0.21 -> +0.95 dB): the
   network puts about one stipple per grid cell, and Lloyd steps pull such a set towards the square lattice
   of the cells. A step costs 0.11-0.33 s (0.25-1.4 s for the earlier 2 raster steps), more than the network
   itself, so with it the network is no longer 100x faster than WVS. It is therefore not the default.
13. Training data: crops of the bundled photos and of Debian opencv-doc's photos (fruits, home, messi5 and
   the scikit-image benchmark photos held out; near-duplicate calibration boards dropped), plus synthetic
   tone images, with the 8 symmetries of the square applied to image and points together.
14. Tone calibration (ours, optional): ``predict_stipples(calibrate=k)`` (test.py ``--calibrate k``,
   ``stipple.inference.calibrate_tone``) renders the stipples at half size, blurs render and input by the
   dot spacing (the tone metric's scale) and multiplies each radius by sqrt(wanted ink / present ink) at its
   centre (per step within [0.6, 1.6]), k times; positions are kept. Why: the network's render is too light
   on dark photos, its clumped stipples overlapping (fruits.jpg, 4096 points: blurred render mean 0.383
   against the input's 0.348; WVS 0.352; bias +0.02..+0.11 in every gray bin below 0.5; its tone error is
   mostly at coarse scales: 26.7 / 27.5 dB at 2x / 4x the blur, WVS 36.5 / 37.8). Measured on the bench's 18
   cells (README): the tone gap to WVS goes from 0.18..2.75 dB to -0.51..0.52 dB with k = 2 (k = 1:
   fruits 1024 / 4096 / 16384 at 22.11 / 23.55 / 24.59 dB, gaps 0.58 / 1.09 / 1.06; a quarter-size render
   or a blur of 2x the spacing were 0.3-0.8 dB worse). The render dominates its time (85 %): 2 steps cost
   22 / 41 / 106 ms CPU at 1024 / 4096 / 16384 points, 2-3x the network. It raises the tone metric
   directly (it calibrates to that blur; on WVS's own stipples it gives +0.48 dB, fruits 4096), and it
   leaves the peer tone PSNR (equal discs) unchanged. Not the default, since it costs the speed target.

Classical stipplers: what cost the 2.7 dB against the published WVS, and what changed (issue 13)
------------------------------------------------------------------------------------------------
Measure: fruits.jpg (512 x 480) and messi5.jpg (512 x 320) from opencv-doc, N = 5000, 50 Lloyd iterations,
one thread, "peer tone PSNR" (``stipple.evaluate.peer_tone_psnr``: equal discs r = 0.5 sqrt(HW / (pi N)),
Gaussian blur sigma 3 px on both, render normalised to the input's blurred mean / std), the mean of seeds
0, 1, 2 (one seed varies by up to 0.9 dB with independent initial sites); 2-core CPU shared with other jobs
(load 6-12), so seconds are compared only within one run (``runs/exp2`` logs, not shipped).

Earlier session, from today's path (20.50 dB on fruits): jump-flooding labels were not the cause (exact
k-d-tree labels 20.43 dB); centroid accuracy at cell borders and the min-max density stretch (the
ReScience replication also stretches: 1 - normalize(gray)) were; that default (64 px per point, 2 x 2
border sub-pixels, stretch, warm jump flooding) gave 22.70 / 21.93 dB in 48 / 40 s.

This session, one factor at a time (fruits / messi5):

- Exact cells (``stipple.exact_cells``): the clipped Voronoi polygons of the sites (Delaunay dual, sites near
  the border mirrored), the image's own piecewise-constant density integrated exactly along each scanline
  by Secord's row prefix sums, 2 scanlines per pixel row; independent initial sites, plain Lloyd:
  23.28 / 21.86 dB (seeds 23.05 23.45 23.33 / 21.33 21.99 22.26) in 12.6 / 21.5 s. This reproduces the
  quoted 23.2 / 22.5 dB within the seed spread: with the same initialisation as the peer, exact cells are
  what the peer computes.
- Over-relaxed steps s <- s + omega (c - s) with independent initial sites: omega 1.5: 23.68 / 22.29 dB,
  omega 1.8: 23.80 / 22.41 dB; omega 1.8 with 4 scanlines per row 23.95 / 22.65 dB.
- The initial sites are the remaining cause. Independent samples of rho put a Poisson number of sites in
  every region (+- sqrt(n)); Lloyd iterations fix the local arrangement within a few iterations but move
  sites between distant regions very slowly, so after 50 iterations the local counts still carry that
  noise, which the 3-px blur shows. Stratified initial sites along a Hilbert curve over the pixels (every
  run of the curve holding mass M gets M N / total sites within one; ``stipplers._hilbert_sample``) give,
  with exact cells and plain Lloyd (the default): 25.69 / 25.90 dB (seeds 25.64 25.62 25.82 / 26.11 25.77
  25.83) in 5.6 / 6.7 s. The same initial sites with the earlier raster default: 25.87 / 25.91 dB in 36.1 /
  16.6 s, so the initialisation is the +3 dB, and the exact cells are the speed. With Hilbert sites:
  omega 1.8: 25.55 / 25.57 dB (no gain, so omega = 1 stays the default); 6 scanlines per row 25.74 / 25.86;
  0 iterations (the initial sites alone) 16.42 / 17.70 dB; 10 iterations 24.78 / 25.75 dB in 0.7 s.
- Flat 50 % gray, 512 px, 2000 points, NN distance mean/std: 20.32 with Hilbert sites (15.86 with
  independent ones, 14.64 for the earlier default, 14.2 quoted for the peer). Blue noise on flat gray: a
  sharper ring at the mean spacing (peak 7.16 / 10.41 at N = 1024 / 4096 against 3.44 / 3.32 before) and
  higher angular anisotropy (-0.55 / -1.40 dB against -3.51 / -4.02 dB): the sites relax into larger
  near-hexagonal domains (the renders show no curve pattern).
- Our exact reference of Secord's method at the peer's zoom (3x nearest, ~440 px per point, exact k-d-tree
  labels, stretched density, independent initial sites) gives 22.64 / 21.59 dB: the same as the exact
  cells above within the seed spread, at 40 s.

The defaults are ``weighted_voronoi_stippling(method="exact", init="hilbert", overrelax=1.0)`` (scanlines
per row: about 12 per stipple spacing, at least 2); ``method="raster"`` keeps the torch jump-flooding path
(GPU-capable). The exact path runs on the CPU (Qhull) whatever the input's device.
"""
