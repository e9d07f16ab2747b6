"""CNP painter: "what to paint" in a region (the painter half of the Compositional Neural Painter).

Paper: T. Hu, R. Yi, H. Zhu, L. Liu, J. Peng, Y. Wang, C. Wang, L. Ma, "Stroke-based Neural Painting and
Stylization with Dynamically Predicted Painting Region", ACM MM 2023 (arXiv 2309.03504), Sec. 3.2.
The compositor ("where to paint") is in ``compositor/``; together they form CNP.

Model: a ResNet-18 (BasicBlock [2, 2, 2, 2], BatchNorm) reads the target patch I and the canvas patch C_t
(both 128 x 128, channel order (target, canvas) everywhere) and outputs 5 ``oil`` strokes x 8 parameters
(x, y, w, h, theta, R, G, B) in [0, 1] (sigmoid), in the patch's own coordinates. The strokes are
composited in order: C_{t+1} = render(S, C_t).

Losses (Eq. 3-6), per update on a (target, canvas) state drawn from the replay memory:

    L_pixel  = || C_{t+1} - I ||_2^2                              (mean squared error, beta_pixel = 1)
    L_adv    = - D(C_{t+1})                                  (WGAN generator term, critic D sees the canvas)
    gamma    = beta_w * |L_pixel| / |L_adv|     (detached, beta_w = 0.1: the adaptive weight of Eq. 6)
    L_painter = L_pixel + gamma * L_adv
    L_D      = D(C_{t+1}) - D(U) + lambda * (||grad D(x_hat)||_2 - 1)^2,   U ~ Uniform(0, 1) noise as the
               "real" samples, x_hat = eps U + (1 - eps) C_{t+1}, lambda = 10 (WGAN-GP).

Paper symbol -> code name:

    I, C_t, C_{t+1}        target, canvas, fake                   (painter/training.py)
    S (5 x 8 strokes)      Painter.forward(...) -> (B, 5, 8)       (painter/model.py)
    render                 PatchRenderer (analytic ``common.renderers.oil.render_oil``, or the FCN)
    D                      Critic (5 weight-normalised 5x5 stride-2 convs, TReLU)
    L_pixel, L_adv, gamma  l_pix, l_adv, gamma                    (painter/training.py)
    beta_w, lambda         PainterTrainConfig.beta_adv, .gp_weight
    replay memory          ReplayMemory (uint8 states, random eviction)

Departures from the paper / the original release, and why:

- Network (``PainterConfig.arch``; issue 10): the shipped painter is the *anchor painter*
  (``painter/anchor_model.py``), not the ResNet-18 (``--arch resnet18`` keeps the paper's). Measured
  on 32 held-out crops (painter/README.md): the ResNet-18 trained for 5500 CPU updates reached a
  fixed point after 2 calls (MSE after 1 / 5 / 20 / 40 calls 0.0452 / 0.0429 / 0.0429 / 0.0428) and
  its strokes hardly depended on the canvas (parameters changed by 0.028 with a black canvas, by
  0.114 with another target). The anchor painter reads (target, canvas, target - canvas, CoordConv),
  proposes one stroke per cell of 1 x 1, 2 x 2, 4 x 4, 8 x 8 and 16 x 16 grids (size bounded by two
  cells, colour = the cell's mean target colour + a learnt offset, angle from a (cos 2t, sin 2t)
  pair) with a score, and paints the 5 best (greedy, neighbours on the fine grids suppressed), coarse
  to fine. Its training samples/s on this CPU: 20.6 vs 11.2 for the ResNet-18 recipe (side by side,
  ``python -m painter.evaluate --throughput``). In 5-minute trials the 16 x 16 level took the MSE
  after 40 calls from 0.0283 (4 levels, stuck at the 8 x 8 stroke size) to 0.0210.
- Objective of the anchor painter (``--objective gains``, not in the paper): every proposal is
  trained on its own to remove as much squared error as it can when painted alone on the stored
  canvas (``stroke_gains``, through the exact differentiable ``oil`` renderer, relative to the patch's
  error floored at 1e-3), and the score regresses the log of that share (``gains_loss``); 24
  proposals per sample per update (the 5 chosen + 19 random). No WGAN term: the paper's critic
  exists to stop repeated large strokes, which the anchor grids and the greedy per-stroke gain rule
  out by construction (not measured separately). The floor: with 1e-6 the first long run collapsed
  at update 700 (every stroke invisible, held-out MSE 0.041 -> 0.274); gradients are clipped at norm 1.
- Optional elongated strokes (``PainterConfig.stroke_ratio`` / ``--stroke_ratio r``, off in the
  shipped painter): the thickness is r/2 to r times the length instead of bounded by the cell like the
  length. The shipped painter's strokes are squares (median long/short side 1.005 over a 1000-stroke
  painting of astronaut), so its paintings read as square dabs; a fine-tune with r = 0.5 from the
  run-4 snapshot (2966 updates) reached a held-out MSE after 40 calls of 0.0097 (square: 0.0094) and
  18.87 dB on astronaut at 1000 strokes (square: 19.91), with mostly horizontal strokes: not shipped
  (painter/README.md).
- Keep-best by a held-out validation (``val_mse``: mean MSE after 1, 5 and 20 calls from black on
  crops of ``painter.data.VAL_OPENCV``; ``--val_calls 5 20 40`` for the shipped painter's last run,
  whose paintings use the later calls) through ``common.training.TrainLoop``; the release kept the
  last snapshot only, and the previous CPU run here diverged at update 7500.

- Fixed channel order (target, canvas) everywhere; the release trained with (target, canvas) but called
  the painter with (canvas, target) in the compositor and at test time (a bug).
- gamma divides by |L_adv| (the release divided by the signed value, flipping the gradient when D > 0).
- Training renders with the analytic, differentiable ``oil`` renderer by default (``--renderer oil``):
  on a CPU it is cheaper than the 11 M-parameter FCN and exact, so the painter learns the strokes that are
  drawn at test time. ``--renderer PATH`` trains through a trained FCN as in the paper.
- The brush texture is procedural (``common.renderers.oil.brush_texture``), not the release's PNGs.
- Output-layer initialisation with a small-stroke prior (5 strokes of 0.25 x 0.25 of the patch at the
  centre and quadrant centres, FC weights x 0.1): with the few hundred updates a shared CPU allows, a
  default initialisation collapses to "every stroke covers the whole patch" (observed: mean w = 0.91,
  h = 0.85 after 121 updates), which the paper's 2 M iterations train out of.
- Two CoordConv planes (row, column) after (target, canvas) (``PainterConfig.coord``; checkpoints
  without the field load as before): a painter whose output is pooled globally has to learn *where* the
  error is, and a short training does not learn it from padding alone (Learning to Paint's actor uses
  the same planes).
- Optional pyramid pixel loss (``--pyramid L``: MSE averaged with the MSE of 2x ... 2^L average-pooled
  copies). The brush's soft edge is about a pixel wide, so the plain MSE gives a stroke's position and
  size a gradient only from errors right at its edge; pooled residuals reach a few pixels further. The
  shipped painter uses L = 3.
- Optional nested rollouts (``--nested p``): a fraction p of the rollouts start from the canvas a
  compositor sub-region sees, i.e. a parent region 1.5-4x larger painted from black by the current
  painter (8 calls) and cropped to the sub-box, with the photo under the sub-box as the target. With
  black starts only, the memory holds nothing but the painter's own first calls on a patch, and the
  painter learned to repeat the same strokes (validation MSE after 40 and after 200 strokes equal).
  The shipped painter uses p = 0.5.
- Optional stroke-supervised warm start (``--pretrain_steps N``, Paint Transformer's self-training idea;
  off by default and not used for the shipped painter): synthetic (canvas, canvas + 5 random strokes)
  pairs with the strokes as labels, L1 on the parameters, output slot k matched to the labelled stroke
  nearest its anchor (``painter.model.STROKE_ANCHORS``). A 1750-update trial on the CPU reached a
  matched position error of 0.18 (0.25 for a constant guess): too slow to pay off at this budget.
- CPU-sized defaults (batch 8, rollout 8 calls per global step, memory 4000 states) instead of batch 32,
  40 calls and 1000 stored batches (the shipped painter was trained with the paper's 40 calls); data
  are random square crops of random size (10 % to 100 % of the shorter side) resized to the patch, so
  the painter sees the scales of the compositor's regions; the release's save condition (inverted:
  saving almost every step) is fixed: every ``--save_every`` updates.
- The release's leftover Paint Transformer code (``painter_model.py`` with a syntax error) is not ported.
"""
