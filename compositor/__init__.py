"""CNP compositor: "where to paint" (the compositor half of the Compositional Neural Painter), the test-time
painting pipeline, the neural FCN renderer trainer, the DT loss demo and stroke-based stylization.

Paper: T. Hu, R. Yi, H. Zhu, L. Liu, J. Peng, Y. Wang, C. Wang, L. Ma, "Stroke-based Neural Painting and
Stylization with Dynamically Predicted Painting Region", ACM MM 2023 (arXiv 2309.03504), Sec. 3.3-3.4.

Compositor (DDPG). State s_t = (I, C_t); action a_t = a box (two corners, sorted, minimum side); the
environment crops the box from I and C_t, resamples both to the painter's patch, lets the frozen painter
paint 4 x 5 = 20 strokes, and renders them at their absolute positions on the canvas.

    R_ori    = (||I - C_t||^2 - ||I - C_{t+1}||^2) / ||I||^2                                   (Eq. 1)
    R_phasic = beta * R_ori,  beta = 1 if d > 0.005 else f(1 - d),
               f(x) = alpha * ln((1 + x + eps) / (1 - x + eps)),  d = ||I - C_{t+1}|| / ||I||       (Eq. 2)
    critic   L_Q = (Q(s, a) - [r + gamma (1 - done) Q'(s', mu'(s'))])^2
    actor    L_mu = -lambda Q(s, mu(s)) + w_bc ||mu(s) - a_teacher(s)||^2,  lambda = alpha_q / mean|Q|

Stylization (Eq. 11): S* = argmin_S l_sty L_style + l_con L_content + l_DT L_DT, with Gram/feature losses
on VGG-19 and L_DT = mean_p DT(E_s)(p) E_gt(p) (Eq. 8-10, ``common/losses/dt.py``).

Paper symbol -> code name:

    I, C_t                 target, canvas                       (compositor/env.py, compositor/paint.py)
    a_t, box r_t           action (B, 4), action_to_box         (compositor/model.py)
    mu, Q                  Actor, Critic (compositor/model.py), DDPG (compositor/ddpg.py)
    R_ori, R_phasic, beta  phasic_reward(mode="plain" / "paper" / "piecewise")      (compositor/env.py)
    gamma, tau             DDPG(gamma=0.95 ** 5, tau)
    DT, L_DT, E_s, E_gt    distance_transform, dt_loss, sobel_edges + binarize_ste, canny_edges
    L_style, L_content     StyleObjective                        (compositor/stylize_loss.py)

Departures from the paper / the original release, and why:

- Mode 1's regions, the default ``--policy multiscale`` (issue 10, third session; not in the paper;
  ``compositor.paint.paint_multiscale``): greedy look-ahead over the cells of the 1, 2, 4, ... 32-cell
  grids at once, opened as a quadtree (the whole image and its quarters first; painting a cell makes its 4
  sub-cells candidates); every painter call goes to the candidate, at any scale, whose trial call removes
  the most squared error from the image. This replaces the fitted schedule of ``--policy lookahead`` below
  as the default (still available, about 2.4 x faster: 1000 strokes of astronaut in 10.7 s wall / 7.8 s
  CPU against 4.5 / 3.3 s, 1 thread, load 3.5). A/B against it, one factor, same painter (update 2000 of
  run 3), 512 px, black ground, PSNR dB multiscale / schedule: at 200 strokes astronaut 16.71 / 16.55,
  coffee 20.08 / 19.62, chelsea 22.92 / 22.34, fruits 22.04 / 21.97, home 19.63 / 19.60, messi5 (held out)
  19.06 / 18.83, rocket (a painter training photo) 25.09 / 24.59; at 500 strokes 18.50 / 18.04, 21.90 /
  21.37, 24.53 / 24.22, 23.29 / 23.13, 21.11 / 20.74, 20.60 / 20.08, 26.53 / 25.75 (same order); at 1000
  strokes +0.04 (astronaut), +0.24 (coffee), +0.15 (chelsea), +0.08 (fruits), +0.25 (home), +0.31
  (messi5), +0.37 dB (rocket); at 5000 strokes better on astronaut, fruits and home (+0.20, +0.09, +0.18)
  but worse on coffee, chelsea, messi5 and rocket (-0.82, -0.34, -1.15, -0.17 dB): for large budgets the
  fitted schedule still paints better (benchmark table in compositor/README.md; the greedy's cause not
  understood). Mode 1 above mode 3 in all 28 cells of the benchmark (smallest +0.17 dB), against three
  ties and one loss with the schedule. Variants measured (astronaut / fruits / chelsea, 1000 strokes,
  black ground): every grid fully open from the start (trial calls on all 1365 cells) 20.01 / 24.41 /
  25.97 but 32 to 54 s of painting; the quadtree with every touched cell re-tried after each call 19.95 /
  24.31 / 25.80 (12.7 to 16.3 s); the shipped rule, where only the painted scale and the finer ones are
  re-tried at once and coarser candidates are refreshed lazily (when their last gain could still win),
  19.91 / 24.27 / 25.75 (about 15 % fewer trials); also lazy at the scales finer than the next one 19.91 /
  24.27 / 25.59 (chelsea loses: a coarse call over finished fur raises the fur cells' gains, which a lazy
  rule misses); a fully lazy rule bounding each stale gain by its cell's error increase 19.90 / 24.26 /
  25.45; only the finest painted scale and the next finer one as candidates (the "current and next finer"
  rule) 17.05 / 23.29 / 22.83; retiring a cell's ancestors once it is painted 19.54 / 23.92 / 25.16;
  candidates dropped once their gain is negative 19.90 / 24.30 / 25.70; the measured area grown by a
  quarter side instead of a half 19.89 / 24.26 / 25.65. The large crops of coarse cells are cut from
  half-size copies of the canvas (``crop_pyramid``: a whole-image crop read 64 samples per output pixel),
  16.4 -> 12.7 s with the same PSNR to 0.04 dB.
- The toned ground (``--ground mean``; not in the paper, whose canvas is black, and not the default;
  ``compositor.paint.ground_colour``): the canvas starts at the photo's mean colour, as a painter lays a
  ground, so the first calls are not spent on black corners; ``strokes.json``'s ``background`` and the
  SVG's canvas rectangle carry it, and the final re-render, ``--refine`` and the process video start from
  it. A/B, 512 px, multiscale regions, PSNR dB mean / black: at 200 strokes better on all seven photos:
  astronaut 16.80 / 16.71, coffee 20.32 / 20.08, chelsea 22.98 / 22.92, fruits 22.21 / 22.04, home 19.79 /
  19.63, messi5 19.34 / 19.06, rocket 25.10 / 25.09 (mode 3 +0.02 to +0.24 on the same photos); at 1000
  strokes mixed: astronaut 19.89 / 19.91, coffee 23.17 / 23.08, chelsea 25.22 / 25.75, fruits 24.23 /
  24.27, and with mode 3 -0.25 (chelsea) to +0.36 (messi5). Chelsea's -0.53 dB would put mode 1 below mode
  3 there, so black stays the default. After one painter call on astronaut at 128 px, 18.8 % of the canvas
  is near-black with the black ground (the photo itself: 13.0 %), 1.1 % with the toned one
  (``tests/cnp/test_multiscale.py``).
- ``--policy lookahead`` (issue 10, second session; the default until the multiscale regions;
  ``compositor.paint.paint_lookahead``): a coarse-to-fine scale schedule for the stroke budget
  (``scale_schedule``: the whole image, then grids halving down from the finest G = round(5 (T /
  200)^0.72) cells per side for T painter calls, i.e. 1-2 at 200 strokes, 1-2-5 at 1000, 1-2-4-8-16
  at 5000; the finest three phases take 64 / 24 / 8 % of the calls), and inside each phase every
  painter call goes to the cell where a trial call removes the most error, measured on the cell grown
  by half a side (``trial_gains``; lazy greedy). The trained actor is not used by default
  (``--policy actor`` keeps the paper's compositor with the release's schedule, ``--policy teacher``
  its imitation teacher). Diagnosis, shipped painter of update 900, 512 px, 1 thread, PSNR dB
  (32 x 32 mosaic / actor / teacher / mode 3), 1000 strokes: astronaut 17.35 / 15.30 / 16.13 / 18.31,
  coffee 20.87 / 18.34 / 20.17 / 21.75, chelsea 24.51 / 21.09 / 23.15 / 24.72, fruits 23.23 / 20.56 /
  21.79 / 23.17, home 20.53 / 18.73 / 19.76 / 20.53. The actor chose the whole image (median region
  side 1.0 on astronaut, coffee, chelsea, fruits), so mode 1 was the painter calling 200 times on the
  whole image, stuck at its stroke size (chelsea 21.09 dB at 200, 1000 and 5000 strokes); the teacher's
  one-call greedy boxes went fine too early (median side 1/16 on fruits and home at 1000 strokes).
  Neither reached mode 3's grid. With the same scale schedule (1, 2 x 2, 4 x 4, 8 x 8; 1000 strokes,
  astronaut / fruits): grid cells in raster order 18.28 / 22.78, the actor's best anchor of the phase's
  side 15.93 / 21.59, the box of largest visible error 16.37 / 22.39, the exact look-ahead 18.70 /
  23.06. Measuring the trial's gain inside the cell only let the greedy alternate between neighbouring
  cells that each call damaged (whole image then 5 x 5 cells, astronaut: 15.1 dB vs 18.3 for the
  grid); with the half-side margin 18.58. A 5 x 5 final phase measured better on fruits (23.28 vs
  23.06) and worse on astronaut (18.58 vs 18.70); 3 x 3 / 6 x 6 phases 18.56 on astronaut. At 5000
  strokes (phases to 16 x 16) the look-ahead gave 22.32 dB on astronaut against 19.64 for mode 3. The
  finest grid, measured with the painter shipped now (chelsea / fruits / astronaut): at 1000 strokes
  1-2-4-8 25.33 / 23.85 / 19.40, 1-2-4-6 25.52 / 24.00 / 19.43, 1-2-5 with 4 / 12 / 84 % of the calls
  25.71 / 23.95 / 19.79, 1-2-5 with the shares above 25.60 / 24.19 / 19.87 (shipped; mode 3 25.58 /
  23.95 / 19.33); at 5000 strokes (chelsea / fruits) to 16 x 16 28.58 / 27.01 (shipped), to 11 x 11
  28.30 / 26.71, to 8 x 8 27.63 / 26.00; the exponent 0.72 fits 5 cells at 1000 and 16 at 5000. Cost:
  about 1.5 to 2.5 x mode 3's painting time (one batched trial per call, whose strokes are then
  painted; compositor/README.md).
- Issue 10, the actor (third session, against the painter shipped now): retrained by imitation of
  mode 1's look-ahead picker (``--teacher lookahead``, the default; ``env.lookahead_box``: the
  picker's rule for a 40-region episode of one call each, 14 calls on the whole image, then the 2 x 2
  cell whose trial call removes the most error; the previous greedy teacher is ``--teacher greedy``),
  from the previous actor's weights, 57 episodes of 40 updates in 40 min, keep-best episode 54. Held-out
  validation (``compositor.validation``: 16 crops of 64 px of the VAL_OPENCV photos, 200 strokes each
  painted by ``compositor.paint``), MSE / PSNR: imitation actor 0.00778 / 21.68 dB, previous actor
  0.01055 / 20.60, raster grid (mode 3) 0.00992 / 20.69, look-ahead picker 0.00759 / 21.76,
  multi-scale picker (mode 1's default) 0.00734 / 21.93. The actor beats the grid at this budget and
  stays below both look-ahead pickers. With the release's region schedule at
  1000 strokes (butterfly at 256 px, 40 regions of 5 sub-regions each): imitation actor 17.98 dB,
  previous actor 15.17, grid 18.47.
- Issue 10, DDPG from that imitation actor (third session; not shipped): the paper's phasic reward
  (Eq. 1-2, ``--reward paper``), 160 critic-only updates first (``--critic_warmup``), then 1280 updates
  of critic and actor (actor loss ``-lambda Q`` plus the imitation term towards the look-ahead teacher,
  teacher acting on 10 % of the steps, noise 0.1, Adam 1e-4 / 3e-4, tau 0.01, batch 32), 36 episodes
  in 59.5 min at 1 thread. The critic's loss fell (0.39 -> 0.0003), but no DDPG-updated actor beat
  the imitation actor on the held-out validation: 0.00784 at best (episode 10), 0.00797-0.00834
  afterwards, 0.00813 / 21.43 dB at the end, against 0.00778 / 21.68 dB; the keep-best snapshot
  stayed the unchanged imitation actor, and imitation ships. With d = ||I - C|| / ||I|| of 0.1-0.3 on
  these crops, d > 0.005 at every step, so the phasic beta is 1 and the paper's reward equals R_ori
  here (its amplification needs a canvas within 0.5 % of the target). Other held-out figures
  (``python -m compositor.validation``, PSNR dB): the five VAL_OPENCV photos at 256 px, 1000 strokes
  (actors with the release's schedule of 40 regions x 5 sub-regions): previous actor 17.91,
  imitation 20.13, DDPG's last 20.21, grid 21.04, look-ahead 21.31, multi-scale 21.66; the crops on
  test.py's toned ground (``--ground mean``, 200 strokes): previous 20.66, imitation 21.23, DDPG's
  last 21.41, grid 20.57, look-ahead 21.59, multi-scale 21.97. DDPG's last actor is ahead of
  imitation there by 0.08 and 0.18 dB, behind on the keep-best figure by 0.25 dB (the rule chosen
  before the run); at 1000 strokes no learned actor reaches the grid, and none reaches the look-ahead
  or multi-scale picker on any of the three figures.
- Training runs on ``common.training.TrainLoop`` (keep-best by the held-out ``val_mse_actor``: 16 crops
  of ``painter.data.VAL_OPENCV``, each painted with 200 strokes through ``compositor.paint``, the code
  path of ``--policy actor``; the log prints the grid's and the look-ahead's figures on the same
  crops); ``--opencv`` adds the opencv-doc training photos. Before, the figure was one ``PaintEnv``
  episode on 8 crops (no clamping of strokes, no final re-render).

- Boxes have a minimum side (``CompositorConfig.min_box`` = 0.08 of the region); the release had none,
  so a 1-pixel box could be blown up to a 128-pixel patch.
- One input channel order (target, canvas) for painter and actor (the release mixed both orders).
- The environment and the test pipeline render every stroke at its absolute position on the full
  canvas with the analytic renderer, instead of pasting a resized 128 patch back (no resampling blur).
  The final re-render of all strokes at full resolution (the release's ``final_decode``) therefore
  reproduces the canvas exactly; it is still the image written to disk. A stroke painted on a
  non-square box becomes a parallelogram, replaced by the rectangle with the same length axis and area.
- Test time: 5 strokes (one painter call) per sub-region, as in the release's test.py (training uses
  4 calls = 20 strokes per region; ``--per_region 20`` paints like training, and measured worse: with
  the greedy teacher on coffee at 500 strokes 14.54 dB vs 16.14 dB with the first-stop checkpoints);
  at most 50 top-level regions (the release: 200; 20 or 10 measured worse on 2 of 3 photos tried),
  each split into k sub-regions by the actor when the budget needs more (k = 1: the region itself is
  painted, no second actor call). The
  stroke count is exact (the last call is truncated); the release's mode 3 painted about 5x the budget,
  here it paints exactly --stroke_num strokes (whole image, then a 5 x 5 grid).
- Aspect ratio kept (the release squashed to 512 x 512); any --size; CPU support; no CUDA at import.
- Reward: the paper's phasic form is the default; the release's piecewise multipliers (0.25 / 125 /
  125 / 250) are ``--reward piecewise``. As transcribed, the paper's beta is < 1 for d > ~1e-4, so it damps
  rather than amplifies late rewards; both are offered and the choice is recorded in the checkpoint.
- Actor head (not in the paper; ``CompositorConfig.head``): by default the actor scores 284 anchor boxes
  (square, sides 1, 1/2, 1/4, 1/8 of the region, stride half a side) and acts with the best one; the
  DDPG actor update differentiates through the softmax-weighted mean box. ``head="corners"`` is the
  paper's 4 sigmoids. Regressing corners towards the imitation teacher, whose boxes jump between
  equally good places, learned the mean of those places: a 400-update corner actor repainted about one
  central box (validation MSE 0.0253 against 0.0112 for a grid and 0.0106 for the teacher). Both heads
  get two CoordConv planes after (target, canvas).
- Imitation warm start (not in the paper): on a shared 2-core CPU a few hundred DDPG updates are possible
  (the paper: 2 M steps), so the actor loss adds a behaviour-cloning term towards a teacher: by
  default the look-ahead picker's box (above), with ``--teacher greedy`` the greedy one-call teacher
  (``env.teacher_box``: of four candidate anchor boxes of side 1, 1/2, 1/4, 1/8, each placed on the
  largest error visible at its scale, the one whose trial painter call lowers the MSE most; its label
  is computed once per stored state), the
  first ``--bc_episodes`` episodes train the actor by imitation only, and a fraction of the episode steps
  act with the teacher. ``--bc_weight 0 --teacher_prob 0 --bc_episodes 0`` gives plain DDPG;
  ``--critic_warmup N`` (not in the paper) trains the critic alone for the first N DDPG updates, so that
  an actor started from imitation does not follow an untrained critic. The actors before this session
  were imitation-only (74 episodes with half of the steps acting with the greedy teacher, then more
  with a fifth, so that most stored states are the actor's own, DAgger style; 40 updates of batch 32
  per episode): an earlier actor fine-tuned with 3 episodes of DDPG collapsed onto one region.
  ``compositor/test.py --policy teacher`` paints with the teacher itself (ablation).
- CPU-sized training defaults (8 environments, 10 steps per episode, 10 updates per episode, tau 0.01,
  exploration noise 0.1) instead of 32 / 100 / 50, tau 0.001, no noise; the critic is a ResNet-18 without
  normalisation layers (the release's weight-normalised TReLU ResNet).
- FCN renderer: trained with Learning-to-Paint's schedule (1e-4 -> 1e-5 -> 1e-6 at 40 % / 80 %) rather
  than the release's constant 1e-6; 3 output channels (alpha, intensity, edge) so one checkpoint serves
  painting and stylization (the release's trainer built 2 channels while test.py loaded 3).
- Stylization optimises the strokes through the analytic renderer and uses the Sobel edges of the
  rendered painting as E_s; loss weights are relative to each term's first value (see stylize_loss.py);
  ``--random_vgg`` is an offline path when the VGG-19 weights are not cached.
- ``--video`` writes MP4/GIF through imageio (the release needed a missing ``black.jpg``); the printed
  metrics are measured on the final re-rendered canvas (the release measured the first-pass canvas).
"""
