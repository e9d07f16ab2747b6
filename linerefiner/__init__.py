"""Line refiner: a full-resolution residual GAN that restyles thin line drawings (LineRelifer, in PyTorch).

Method
------
hepesu/LineRelifer (Keras 2 / TF1, no paper; reference notes B.1-B.3, with Simo-Serra et al., "Learning to
Simplify" SIGGRAPH 2016 and "Mastering Sketching" TOG 2018 as the anchors for full-convolutional line
networks with an adversarial term). A generator G maps a drawing with thin uniform lines x to the same
drawing in an artist's line style y; a global discriminator D judges whole crops.

- ``model.py``: :class:`~linerefiner.model.LineGenerator` (Conv3x3-64, 4 residual blocks, Conv1x1, tanh; no
  stride, receptive field 19 px), :class:`~linerefiner.model.LineDiscriminator` (Conv4x4/2 16-32-64-128,
  Dropout, Conv 256, Dropout, Linear), :class:`~linerefiner.model.RefinerConfig`.
- ``synth.py``: procedural pairs: the same random vector strokes rendered thin and damaged (input) and in a
  named style (target), with the core ``curve`` renderer. Styles: ``taper`` (brush pen, pressure taper),
  ``nib`` (calligraphy nib at 45 degrees, width from direction).
- ``training.py`` / ``train.py``: the adversarial loop, resumable checkpoints, DDP under torchrun.
- ``inference.py`` / ``test.py``: tiled inference equal to whole-image inference, pre/post-processing.

Losses (images in [-1, 1], sigma = logistic, BCE(p, l) = -[l log p + (1 - l) log(1 - p)], means over pixels
and batch)::

    L_D = 1/2 [ BCE(sigma(D(y)), 1) + BCE(sigma(D(G(x))), 0) ]
    L_G = lambda_mse * || G(x) - y ||^2  +  lambda_adv * BCE(sigma(D(G(x))), 1)
    lambda_mse = 20, lambda_adv = 1

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
  position s along the whole stroke, so the target is a function of what the 19 px receptive field can see.
  Real pairs in the original's layout can still be used (``--pairs_dir DIR``: ``DIR/inputs``,
  ``DIR/targets``).
- Augmentation: the release rotates, shifts, zooms and flips the two streams in lockstep; the synthetic
  generator already draws strokes at random positions/orientations, so only real pairs get (joint) flips.
- D sees its output as a logit and the losses use BCE-with-logits (numerically stabler than sigmoid + BCE);
  D's Linear layer is sized from ``crop_size`` (8 x 8 x 256 at the release's 256 px).
- One iteration is one D step on the mean of the real and fake BCE, then one G step on the same batch (the
  release calls ``train_on_batch`` separately on real and fake batches and draws a fresh batch for G): half
  the data generation and one generator forward pass fewer per step, on a CPU-only budget.
- The shipped checkpoints were trained on a shared 2-core CPU for 10 minutes each, about 280 steps (the
  release: 10,001 iterations of batch 8 on 256 px crops): 64 px crops drawn 2-3x denser (10-30 strokes per
  256^2 px, so small crops are rarely blank), lr 5e-4, bfloat16 autocast and 100 MSE-only warm-up steps
  (``adv_warmup``) so that the few hundred affordable steps converge; see ``checkpoints/README.md``. They are
  under-trained: lines get the style's width and speckle is removed, but gaps are not bridged.
- Output is a raster drawing, so test.py writes the PNG and ``metrics.json`` but no stroke JSON or SVG
  (there are no strokes to export).
- Inference is tiled with margins wider than the receptive field (same result as the release's single
  pass, bounded memory; the release needs more than 8 GB for HD), BatchNorm is folded into the convolutions,
  all-white interior tiles are filled with the network's paper response, and ``--threshold``/``--curve``
  replace the image-editor post-processing the release suggests. Dark-background input is inverted and
  colour is converted to gray instead of being read blindly as gray.
- Options beyond the release: ``--dilated`` (dilations 1, 2, 4, 8 for wider gaps, receptive field 63 px),
  ``--blocks``, ``--channels``, ``--bf16`` inference.
"""
