"""Line refiner: a full-resolution residual GAN that restyles thin line drawings (LineRelifer, in PyTorch).

Method
------
hepesu/LineRelifer (Keras 2 / TF1, no paper; reference notes B.1-B.3, with Simo-Serra et al., "Learning to
Simplify" SIGGRAPH 2016 and "Mastering Sketching" TOG 2018 as the anchors for full-convolutional line
networks with an adversarial term). A generator G maps a drawing with thin uniform lines x to the same
drawing in an artist's line style y; a global discriminator D judges whole crops.

- ``model.py``: :class:`~linerefiner.model.LineGenerator` (Conv3x3-64, 4 residual blocks, Conv1x1, tanh,
  white-point levels; no stride, receptive field 19 px, 63 px with ``dilated``),
  :class:`~linerefiner.model.LineDiscriminator` (Conv4x4/2 16-32-64-128, Dropout, Conv 256, Dropout,
  Linear), :class:`~linerefiner.model.RefinerConfig`.
- ``synth.py`` / ``damage.py``: procedural pairs: the same random vector strokes rendered damaged like a
  real drawing (input: gaps, specks, dust, double lines, pen 1-4 px, blur, gray paper) and in a named style
  (target), with the core ``curve`` renderer, plus the ground truth of the damage (gap ends, speck labels).
  Styles: ``taper`` (brush pen, pressure taper), ``nib`` (calligraphy nib at 45 degrees).
- ``metrics.py``: gaps bridged (connected components), specks removed, line precision/recall at 2 px,
  white paper.
- ``training.py`` / ``train.py``: the adversarial step and held-out validation; the loop (resume, keep-best,
  DDP) is ``common.training.TrainLoop``.
- ``inference.py`` / ``test.py``: tiled inference equal to whole-image inference, pre/post-processing.

Losses (images in [-1, 1], sigma = logistic, BCE(p, l) = -[l log p + (1 - l) log(1 - p)], means over pixels
and batch)::

    L_D = 1/2 [ BCE(sigma(D(y)), 1) + BCE(sigma(D(G(x))), 0) ]
    L_G = lambda_mse * mean( w * (G_raw(x) - y_raw)^2 )  +  lambda_adv * BCE(sigma(D(G(x))), 1)
    lambda_mse = 20, lambda_adv = 1
    G(x) = levels(G_raw(x)), levels(u) = min(1, u / p) in [0, 1] units, p = white_point = 0.95
    y_raw = 1 where y is paper, else u(y) * p;   w = 1 + diff_weight * |x - y| ([0, 1] units)

The release's loss is the case p = 0 (no curve) and diff_weight = 0 (w = 1).

Symbol map
----------
=========================  ===========================================================================
paper / release            code
=========================  ===========================================================================
x (``data/norm``)          input drawing, ``synth.render_input`` / ``FolderPairs`` ``inputs/``
y (``data/line``)          target drawing, ``synth.render_target`` / ``FolderPairs`` ``targets/``
G, D                       ``model.LineGenerator``, ``model.LineDiscriminator`` (D returns logits)
loss_weights [20, 1]       ``RefinerConfig.mse_weight``, ``RefinerConfig.adv_weight``
L_G, L_D                   ``training.generator_loss``, ``training.discriminator_loss``
Adam(2e-4, beta1 0.5)      ``RefinerConfig.lr``, ``RefinerConfig.beta1``
x / 127.5 - 1, (y+1)/2     ``training.to_signed``, ``training.to_unit``
predict.py whole image     ``inference.refine_whole``; tiled version ``inference.refine_tiled``
w(s) = w0 sin(pi s)^g      ``synth.LineStyle`` (taper by arc length from the nearer end, see below)
w0 + w1 |sin(th - th_n)|   ``synth.LineStyle`` ``w_base``, ``w_nib``, ``nib_angle``
=========================  ===========================================================================

Departures from the release, and why
------------------------------------
- Data: the release trains on private pairs (LineDistiller + LineNormalizer outputs); none ship, so pairs are
  synthesised (reference B.6). The style parameters are fixed per named style (not random per stroke) and the
  taper depends on arc length from the nearer stroke end (over 14 px for ``taper``), not on the relative
  position s along the whole stroke, so the target is a function of what the receptive field can see.
  Real pairs in the original's layout can still be used (``--pairs_dir DIR``: ``DIR/inputs``,
  ``DIR/targets``).
- Augmentation: the release rotates, shifts, zooms and flips the two streams in lockstep; the synthetic
  generator already draws strokes at random positions/orientations, so only real pairs get (joint) flips.
- D sees its output as a logit and the losses use BCE-with-logits (numerically stabler than sigmoid + BCE);
  D's Linear layer is sized from ``crop_size`` (8 x 8 x 256 at the release's 256 px).
- One iteration is one D step on the mean of the real and fake BCE, then one G step on the same batch (the
  release calls ``train_on_batch`` separately on real and fake batches and draws a fresh batch for G): half
  the data generation and one generator forward pass fewer per step, on a CPU-only budget.
- Damage (``damage.py``): the release's inputs are LineNormalizer outputs with whatever gaps the artist left;
  here gaps of 1-12 px along strokes and at T-junctions, specks, dust, jittered double lines, pens of 1-4 px,
  scanner blur and gray paper are drawn on purpose, at rates that make every 64 px crop carry damage, because
  the first checkpoints (0-3 disc gaps per 256^2 px, 19 px receptive field, 10 minutes each) tapered both
  ends of a gap instead of bridging it: 22-24 % of gaps <= 8 px closed on the bench, paper at 0.84-0.86.
- Dilated residual blocks (dilations 1-2-4-8, receptive field 63 px, same parameter count): a pixel in the
  middle of a 12 px gap must see both stroke ends and their directions. Short A/B trials (5 minutes each,
  taper, validation on 32 held-out pairs, share of gaps <= 8 px closed at steps 150 / 200 / 250): 64 channels
  x 4 dilated blocks 0.32 / - / - (186 steps in 5 min at load 10); 32 channels x 6 dilated blocks (37 px
  radius, 2.7x fewer multiply-adds) 0.10 / 0.10 / 0.06, best 0.10 after 379 steps; so 64 x 4 dilated.
- Difference-weighted MSE ``w = 1 + 4 |x - y|`` (``diff_weight``): the damage changes few pixels, so plain
  MSE learns gaps slowly. Trials as above: with it 0.36 / 0.40 / 0.66 (best gap score 0.65 after 338 steps),
  without 0.32 / 0.24 / 0.32 (adversarial term off) and 0.32 at 150 (on); 96 px crops x 4 instead of 64 px x
  8: 0.16 / 0.32 / 0.44. The adversarial term changed nothing measurable in 5 minutes; it is kept (release).
- White paper: the release leaves a curves adjustment to an image editor and its tanh output can never
  reach 1.0 (the first checkpoints left paper at 0.98 on white, 0.84-0.86 on the bench's gray paper). Here
  the generator ends with a levels curve (white point 0.95) and is fitted before it, paper aiming at +1
  (``raw_target``): fitting after the clamp left paper hovering at the clamp's edge (taper run, step 500:
  17 % of the paper exactly white, mean 0.949), fitting before it brought 96 % back within 50 steps.
- Validation and keep-best: the release saves weights every 250 iterations without validation; here every
  100 steps 48 held-out pairs are scored and the generator with the best ``target_score`` = gaps <= 8 px
  closed x line F1 x specks removed x paper exactly white is kept (gap closing alone, guarded by the others,
  since a model that smears ink closes every gap).
- The nib generator starts from the taper one (``--init``): the damage to undo is the same, only the line
  style differs, and each style had 37-39 minutes of a shared 2-core CPU (the release: 10,001 iterations
  of batch 8 on 256 px crops). Recipe and numbers: ``checkpoints/README.md`` and ``linerefiner/README.md``.
- Output is a raster drawing, so test.py writes the PNG and ``metrics.json`` but no stroke JSON or SVG
  (there are no strokes to export).
- Inference is tiled with margins wider than the receptive field (same result as the release's single
  pass, bounded memory; the release needs more than 8 GB for HD), BatchNorm is folded into the convolutions,
  all-white interior tiles are filled with the network's paper response, and ``--threshold``/``--curve``
  replace the image-editor post-processing the release suggests. Dark-background input is inverted and
  colour is converted to gray instead of being read blindly as gray.
- Options beyond the release: ``--dilated``, ``--diff_weight``, ``--white_point``, ``--init``, ``--blocks``,
  ``--channels``, ``--bf16`` (training and inference).
"""
