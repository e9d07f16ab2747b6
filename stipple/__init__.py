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
- Repulsion: L_rep = mean_p relu(1 - |p - nn(p)| / (0.85 s_p))^2, nn(p) the nearest other predicted point,
             s_p = the cell side / sqrt(n_c) the local dot spacing  (``repulsion_loss``; departure 15)
- Total:     L = N L_CD + 0.1 L_spec + L_col + L_dens + 0.1 L_rad + 40 L_tone + L_rep (the shipped network;
             N the reference count; the 2025 network: N L_CD + 0.1 L_spec + L_col + L_dens + L_rad
             + 10 L_tone, where N = G^2 at one stipple per cell)

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
2. Several stipples per cell: each cell has K slots and emits n_c of them, so dark regions get more
   stipples than light ones (the shipped network: K = 16 at 4 stipples per cell on average; the 2025
   network: K = 6 at one). During training the slots a cell uses are the reference count (teacher forcing).
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
   square counts. Here stride-2 convolutions bring the image (RGB + rho) to one feature per cell (the
   shipped network: three, 8 px per cell; the 2025 one: two, 4 px per cell), the style code is the mean of
   these features through a 3-layer MLP, and residual blocks (shipped: 4, dilations 1, 2, 4, 1; 2025: 5,
   dilations 1, 2, 4, 1, 2) modulated by AdaIN(w), each also seeing the cell's mean density, make the
   heads' input. Any count 256..16384 and any aspect ratio use one network: the grid has
   round(sqrt(N / n_cell * H / W)) x round(sqrt(N / n_cell * W / H)) cells (n_cell the stipples per cell in
   training: 4 shipped, 1 in 2025), and error diffusion of the density gives exactly N.
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
   pattern: shipped, a window of a progressive blue-noise torus (``prior="blue"``, departure 15); 2025, a
   progressive R2 low-discrepancy pattern per cell with a random shift per cell (``prior="r2"``). Both
   heads start at zero, so the untrained network already stipples by darkness without a lattice.
10. Points free of the grid: a slot lies within +-``reach`` cells of its cell's centre (shipped: 1.0 of
   its 8-px cells; 2025: 1.5 of 4-px cells), so neighbouring cells' stipples interleave; the earlier sigmoid
   offsets kept every stipple inside its cell.
11. Tone loss (ours): the bench's tone measure as a loss, through the differentiable ``dots`` renderer.
12. Optional relaxation: ``predict_stipples(relax=k)`` (test.py ``--relax k``) runs k weighted Lloyd steps on
   the predicted points (``stipple.stipplers.lloyd_relax``: the exact cells of the WVS below); the bench times
   one step separately. Measured with the 2025 network (flat 50 % gray 512 px; fruits / camera / home at
   1024 and 4096 points; load 7-12): one step lifts the nearest-neighbour mean/std on flat gray from 3.37 to
   7.22 (two steps 9.48, WVS 20.3) and the peer tone PSNR (equal discs: where the points are) by 0.5-3.1 dB
   (fruits 4096: 16.89 -> 19.81), but it RAISES the lattice peak at |k| = sqrt(N) (1024: 1.73 -> 5.42, 4096:
   2.40 -> 10.06) and the angular anisotropy (+0.23 -> +0.72 dB, +0.21 -> +0.95 dB): the network puts about
   one stipple per grid cell, and Lloyd steps pull such a set towards the square lattice of the cells. A step
   costs 0.11-0.33 s (0.25-1.4 s for the earlier 2 raster steps), more than the network itself, so with it the
   network is no longer 100x faster than WVS. It is therefore not the default. With the shipped network
   (bench, 18 cells) one step changes the tone PSNR by -0.19 to +0.76 dB at 0.02-0.35 s.
13. Training data: crops of the bundled photos and of Debian opencv-doc's photos (fruits, home, messi5 and
   the scikit-image benchmark photos held out; near-duplicate calibration boards dropped), plus synthetic
   tone images, with the 8 symmetries of the square applied to image and points together.
14. Tone calibration (ours, on by default since issue 13's third pass): ``predict_stipples(calibrate=k)``
   (test.py ``--calibrate k``, default 1; 0 = the raw network; ``stipple.inference.calibrate_tone``) renders
   the stipples small (4 px per dot spacing, scale 0.25-0.5 of the image), blurs render and input by the dot
   spacing (the tone metric's scale) and multiplies each radius by sqrt(wanted ink / present ink) at its
   centre (per step within [0.6, 1.6]), k times; positions are kept. Why: the network's render is too light
   on dark photos where its stipples overlap (2025 network, fruits.jpg, 4096 points: blurred render mean
   0.383 against the input's 0.348; WVS 0.352; its tone error mostly at coarse scales: 26.7 / 27.5 dB at 2x
   / 4x the blur, WVS 36.5 / 37.8); the shipped network still misses fruits.jpg by 1.12 / 1.33 / 1.72 dB
   raw. Cost: the first version (half-size render through the ordered compositor, two steps) took 2-3x the
   network and cost the 100x target (x30-x68). Now the render is the order-free transmittance of
   ``common.renderers.dots.dots_transmittance`` (black dots: no depth layers; render of 4096 stipples at
   256 px 7.9 -> 6.4 ms, 16384 calibrations 52 -> 19 ms), the blurs run with OpenCV after an area
   reduction to sigma ~ 2 px (equal to the torch blur within 3e-7), and one step is the default: 1.7-2.3 /
   5-6.4 / 9.4-10.4 ms CPU at 1024 / 4096 / 16384 points (scale 0.25 / 0.5 / 0.5). Measured
   (``scripts/bench_stipple.py``, 18 cells, side by side, load 2.5-3.0): with one step the gap to WVS is
   -1.00 to 0.29 dB on all 18 cells (fruits 0.29 / 0.29 / 0.09; raw -0.67 to 1.72) and the network with it
   is x102 to x188 faster than WVS in CPU time (raw x148 to x256; messi5 and home at 1024 points x102 /
   x109 are the tight cells). It raises the tone metric directly (it calibrates to that blur; on WVS's own
   stipples two steps gave +0.48 dB, fruits 4096), and it leaves the peer tone PSNR (equal discs) unchanged.
15. The shipped network (issue 13, third pass): several stipples per cell, blue-noise slots, repulsion.
   Why the 2025 network clumped (flat 50 % gray, 512 px, 2000 points, nearest-neighbour distance mean/std;
   runs/s13/diag.py): 3.37 trained, 3.62 with the same design untrained (heads at zero: the priors alone),
   2.94 for one uniform point per cell, WVS 20.32, uniform random 1.91. So the prior made the clumps, not the
   training (which moved the slots 0.21 cells on average and lowered it a little): at one stipple per cell, an
   independent random shift per cell puts two stipples of neighbouring cells arbitrarily close (a jittered
   grid). The same R2 pattern at 4 stipples per cell gives 6.0-7.3 (well spaced inside a cell).
   What a cheaper network costs (CPU ms, 1 thread, a 480 x 512 image, 1024 / 4096 / 16384 points, min of 5,
   load 2.8, runs/s13/cost.py; the count diffusion and the resize included): 2025 network (4-px cells, 64
   channels, 5 blocks, K = 6) 8.8 / 27.5 / 104.5; 8-px cells, 64 channels, 3 blocks, K = 16: 4.6 / 10.1 /
   31.5; the same with 4 blocks 4.4 / 11.0 / 33.5 (shipped); 48 channels, 3 blocks: 3.8 / 8.5 / 25.9; 4-px
   cells at 2 stipples per cell, 3 blocks, K = 12: 4.9 / 11.7 / 44.5. The decoder's cost is per cell, so 4
   stipples per 8-px cell (a third stride-2 convolution) cut it by 4.
   The design: 8-px cells with 4 stipples each on average (K = 16 slots, reach 1.0 cell), 4 decoder blocks,
   and a slot prior that is blue noise ACROSS cells: ``stipple.model.blue_noise_slots`` builds, once, a 64 x
   64-cell torus by stratified best-candidate sampling (Mitchell 1991), one slot per cell per round and 32
   candidates each; slot k of a cell is round k, so the slots the cells emit (the first n of each) are a
   prefix of the rounds, and every prefix is well spaced: NN mean/std 8.3 / 8.1 / 8.0 / 8.0 for the first 1 /
   2 / 4 / 8 rounds (relaxing each round against the earlier ones gave 7.5-13.6 after 100 s of generation and
   0.1-0.35 dB of tone: not taken). The pattern is a buffer of the checkpoint; a grid takes a window of it at
   a shift drawn from ``seed`` (``predict_stipples(seed=)``, test.py ``--seed``), a random one per training
   batch. Untrained, this network gives 7.80 on flat gray. The network never sees where its slots lie in the
   window, so its offsets can only follow the image (edges), not repair the pattern; the repulsion term L_rep
   keeps Chamfer from pulling two slots onto one reference stipple.
   Training: the tone weight 40 and the radius weight 0.1 (held-out tone at steps 50 / 100 / 150: 16.54 /
   16.52 / 16.41 dB with 10 / 1, 17.10 / 17.14 / 17.04 dB with 40 / 0.1); the pairs regenerated with today's
   WVS (exact cells, Hilbert initial sites, 50 iterations); keep-best by the held-out tone averaged over
   render scales 1, 2 and 4 (the bench renders 1024 / 4096 / 16384 stipples of a 512-px photo at 4 / 2 / 1
   times the network's input; the 2025 network's held-out gap to the WVS targets grows from 0.26 dB at scale 1
   to 0.58 / 0.65 dB at scales 2 / 4: dots about a pixel wide carry the anti-aliased rim's extra ink, and the
   photos' gaps grow the same way, fruits.jpg at 1024 points 0.85 / 1.14 / 1.21 dB (step-350 snapshot)
   rendered at 128 / 256 / 512 px). Training the tone loss itself at scales 1, 2 and 4 (``--tone_scales``) was
   tried for 230 steps from step 471 and lowered that held-out figure (17.62 -> 17.02 dB), so the shipped
   network trains it at scale 1. Held-out tone at scales 1 / 2 / 4: 17.55 / 18.25 / 18.18 dB (2025 network
   17.32 / 17.87 / 17.78, the WVS targets 17.59 / 18.45 / 18.43).
   Measured (scripts/bench_stipple.py, README table; WVS and network side by side, load 2.3-3.0): CPU time
   x152 to x260 faster than WVS on all 18 cells (wall x114 to x287; the 2025 network x66 to x104); tone gap to
   WVS -0.67 to 1.72 dB (mean 0.37; 2025: 0.18 to 2.75, mean 0.93), within 1 dB on 15 of 18 cells, fruits.jpg
   1.12 / 1.33 / 1.72 dB (2025: 1.82 / 2.75 / 2.52); with ``--calibrate 2`` (the old calibration) -1.00 to
   0.30 dB on all 18 at x30 to x68; with the default single step on the fast path (departure 14) -1.00 to
   0.29 dB at x102 to x188; flat gray NN mean/std 7.08 (2025: 3.37, WVS 20.32); spectrum peak at sqrt(N)
   1.31 / 1.41 and anisotropy -4.47 / -3.73 dB at N = 1024 / 4096 (WVS 7.16 / 10.41 and -0.55 / -1.40;
   2025: 1.73 / 2.40 and +0.23 / +0.21). Tried and not taken (fruits / camera / home, 1024-16384 points):
   1-3 cheap k-nearest-neighbour spreading steps after the network (NN 8.9-10.3 on flat gray, tone -0.3 to
   +0.4 dB, 1.5-62 ms); radii scaled by the local k-NN area (-0.2 to +0.4 dB, 2-34 ms).

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
