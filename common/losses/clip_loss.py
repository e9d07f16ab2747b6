"""CLIPasso's CLIP objective (Vinker et al., SIGGRAPH 2022), used by MROSS scene sketching.

Shape letters: B batch, V views (4 augmented + 1 original), H, W size (224 for CLIP).

For a sketch S and target image I, with CLIP RN101 image encoder activations ``CLIP_l`` after ResNet stage l
and the attention-pooled embedding ``CLIP_fc``, averaged over V jointly augmented views ``(A_v(S), A_v(I))``:

    L_geometric = sum_{l in {layer2, layer3}} w_l * mean_v || CLIP_l(A_v(S)) - CLIP_l(A_v(I)) ||_2^2
    L_semantic  = w_fc * mean_v ( 1 - cos(CLIP_fc(A_v(S)), CLIP_fc(A_v(I))) )
    L_CLIP      = L_geometric + L_semantic          (w_l = 1, w_fc = 0.1)

``||.||_2^2`` is the mean squared activation difference (CLIPasso's code), the views are 4 copies under one
random perspective (distortion 0.5, p = 1, fill 0) followed by a random resized crop (224, scale 0.8,
ratio 1), applied jointly to the (sketch, target) pair, plus the un-augmented pair. CLIP's own mean/std
normalisation is applied inside.

Weights come from ``weights_path`` (``--clip_weights``: OpenAI's TorchScript ``RN101.pt`` or an open_clip
``open_clip_model.safetensors`` / ``open_clip_pytorch_model.bin``), else from the caches open_clip itself
uses: ``~/.cache/clip/RN101.pt`` and the Hugging Face cache of ``timm/resnet101_clip.openai``; when neither
holds them and the machine is online (no ``--offline``, ``common.pretrained.download_allowed``), open_clip's
downloader (``pretrained="openai"``) fetches them into the Hugging Face cache. Otherwise
:class:`common.errors.WeightsMissingError` names the file to fetch and where to put it.
``random_weights=True`` builds RN101 with random weights through open_clip
(offline; for tests and timing only: the loss is then not semantic).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from common.errors import WeightsMissingError

__all__ = [
    "CLIP_MEAN",
    "CLIP_STD",
    "RN101_URL",
    "find_clip_weights",
    "clip_weights_hint",
    "load_clip_rn101",
    "augment_pairs",
    "CLIPConvLoss",
]

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
RN101_URL = (
    "https://openaipublic.azureedge.net/clip/models/"
    "8fa8567bab74a42d41c5915025a8e4538c3bdbe8804a470a72f30b0d94fab599/RN101.pt"
)
HF_REPO = "timm/resnet101_clip.openai"
HF_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
STAGES = ("stem", "layer1", "layer2", "layer3", "layer4")


def _openai_cache_file() -> Path:
    return Path(os.path.expanduser("~/.cache/clip")) / "RN101.pt"


def find_clip_weights() -> Path | None:
    """The first CLIP RN101 weights file found in the local caches (no network), or None.

    Looks at ``~/.cache/clip/RN101.pt`` (open_clip's / OpenAI's download cache) and the Hugging Face hub cache
    entry of ``timm/resnet101_clip.openai`` (``open_clip_model.safetensors`` or
    ``open_clip_pytorch_model.bin``).
    """
    if _openai_cache_file().is_file():
        return _openai_cache_file()
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    for name in HF_FILES:
        try:
            found = try_to_load_from_cache(HF_REPO, name)
        except Exception:
            found = None
        if isinstance(found, str) and os.path.isfile(found):
            return Path(found)
    return None


def _download_clip_weights() -> Path:
    """Fetch RN101's weights with open_clip's own downloader (``pretrained="openai"``: the Hugging Face repo
    ``timm/resnet101_clip.openai``, into the Hugging Face cache) when downloads are allowed.

    Raises:
        WeightsMissingError: offline, host unreachable, or the download failed (one line: what, where).
    """
    from huggingface_hub import constants

    from common.pretrained import download_allowed

    why = download_allowed(constants.ENDPOINT)
    if why is not None:
        raise WeightsMissingError(f"{clip_weights_hint()} [{why}]")
    import open_clip.pretrained as ocp

    try:
        return Path(ocp.download_pretrained(ocp.get_pretrained_cfg("RN101", "openai")))
    except Exception as err:  # noqa: BLE001 - any failed download: say so
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise WeightsMissingError(f"{clip_weights_hint()} [download failed: {reason}]") from None


def clip_weights_hint() -> str:
    """One line saying which CLIP file to fetch and where to put it."""
    return (
        f"CLIP RN101 weights not found: download {RN101_URL} to {_openai_cache_file()} "
        f"(or pass --clip_weights PATH to that file, or to {HF_FILES[0]} of the Hugging Face repo {HF_REPO})"
    )


def _load_state(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        # OpenAI's release is a TorchScript archive: read its tensors through torch.jit.
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            state = torch.jit.load(str(path), map_location="cpu").state_dict()
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise TypeError(f"unexpected checkpoint object {type(state).__name__}")
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_clip_rn101(weights_path: str | os.PathLike | None = None, random_weights: bool = False) -> nn.Module:
    """CLIP RN101's image encoder (open_clip ``ModifiedResNet``), frozen, eval mode, on the CPU.

    Args:
        weights_path: weights file (``RN101.pt``, ``*.safetensors``, ``*.bin``); None searches the caches
            (:func:`find_clip_weights`) and downloads into them when allowed.
        random_weights: build with random weights and read nothing (tests, timing).

    Returns:
        ``nn.Module`` mapping ``(B, 3, 224, 224)`` CLIP-normalised images to ``(B, 512)`` embeddings, with
        submodules ``layer1..layer4`` and ``attnpool``.

    Raises:
        WeightsMissingError: no weights file found or downloadable, a given path is missing, or the file
            does not load (the message says which file to fetch and where).
    """
    import logging

    path = None
    if not random_weights:  # find the file first: a missing file is reported before any model is built
        if weights_path is not None:
            path = Path(weights_path).expanduser()
            if not path.is_file():
                raise WeightsMissingError(f"--clip_weights file not found: {path}; {clip_weights_hint()}")
        else:
            path = find_clip_weights() or _download_clip_weights()
    import open_clip

    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # open_clip warns about random init at WARNING level
    try:
        model = open_clip.create_model("RN101", pretrained=None, quick_gelu=True)
    finally:
        logging.getLogger().setLevel(level)
    if path is not None:
        try:
            state = _load_state(path)
            for key in ("input_resolution", "context_length", "vocab_size"):
                state.pop(key, None)
            if any(k.startswith("visual.") for k in state):
                model.load_state_dict(state, strict=True)
            else:  # an image-tower-only state dict
                model.visual.load_state_dict(state, strict=True)
        except Exception as err:
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
            raise WeightsMissingError(f"cannot load CLIP RN101 weights from {path}: {reason}") from None
    visual = model.visual.float().eval()
    for p in visual.parameters():
        p.requires_grad_(False)
    return visual


def augment_pairs(sketch: torch.Tensor, target: torch.Tensor, num_augs: int = 4, size: int = 224):
    """CLIPasso's joint augmentation: ``num_augs`` random views of the (sketch, target) pair + the original.

    Each view draws one random perspective (distortion 0.5, p = 1, fill 0) and one random resized crop
    (scale 0.8, ratio 1) and applies both to the sketch and the target alike (differentiable, grid_sample and
    interpolation). Randomness comes from torch's global generator (seed it for reproducible runs).

    Args:
        sketch, target: ``(B, 3, H, W)`` float in [0, 1], same shape.
        num_augs: augmented views per pair (CLIPasso: 4).
        size: output side (224 for CLIP).

    Returns:
        ``(sketch_views, target_views)``, each ``((num_augs + 1) * B, 3, size, size)``; the last B are the
        originals (resized to ``size`` if needed).
    """
    from torchvision import transforms

    if sketch.shape != target.shape:
        raise ValueError(f"sketch and target shapes differ: {tuple(sketch.shape)} vs {tuple(target.shape)}")
    b = sketch.shape[0]
    pair = torch.cat([sketch, target], 0)  # (2B, 3, H, W)
    if pair.shape[-2:] != (size, size):
        pair = F.interpolate(pair, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    augment = transforms.Compose(
        [
            transforms.RandomPerspective(distortion_scale=0.5, p=1.0, fill=0),
            transforms.RandomResizedCrop(size, scale=(0.8, 0.8), ratio=(1.0, 1.0), antialias=True),
        ]
    )
    views = [augment(pair) for _ in range(num_augs)] + [pair]  # same random params for the whole pair batch
    sketches = torch.cat([v[:b] for v in views], 0)
    targets = torch.cat([v[b:] for v in views], 0)
    return sketches, targets


class CLIPConvLoss(nn.Module):
    """CLIPasso's ``CLIPConvLoss`` on CLIP RN101 (see the module docstring for the equations).

    Args:
        weights_path: CLIP weights file (``--clip_weights``), or None for the caches.
        random_weights: random RN101 (tests and timing; nothing is read).
        conv_weights: weights of the L2 terms on (stem, layer1, layer2, layer3, layer4); CLIPasso (0,0,1,1,0).
        fc_weight: weight of ``1 - cos`` on the embeddings (0.1).
        num_augs: augmented views per step (4).

    Forward:
        sketch, target: ``(B, 3, H, W)`` float in [0, 1] (resized to 224 when needed).
        augment: True to use ``num_augs`` augmented views plus the original; False for the original only
            (evaluation). Pass ``views=(sketch_views, target_views)`` from :func:`augment_pairs` to share the
            views with another loss.
        returns: dict with scalar tensors ``"loss"`` (total), ``"conv"`` (geometric) and ``"fc"`` (semantic).

    Raises:
        WeightsMissingError: weights absent or unreadable (message says what to fetch and where).
    """

    def __init__(
        self,
        weights_path: str | os.PathLike | None = None,
        random_weights: bool = False,
        conv_weights: Sequence[float] = (0.0, 0.0, 1.0, 1.0, 0.0),
        fc_weight: float = 0.1,
        num_augs: int = 4,
    ) -> None:
        super().__init__()
        if len(conv_weights) != len(STAGES):
            raise ValueError(f"conv_weights needs {len(STAGES)} values ({', '.join(STAGES)})")
        self.visual = load_clip_rn101(weights_path, random_weights=random_weights)
        self.conv_weights = [float(w) for w in conv_weights]
        self.fc_weight = float(fc_weight)
        self.num_augs = int(num_augs)
        self.register_buffer("mean", torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(CLIP_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> CLIPConvLoss:
        super().train(mode)
        self.visual.eval()  # frozen batch-norm statistics, always
        return self

    def features(self, images: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Activations after each stage and the embedding.

        Args:
            images: ``(B, 3, 224, 224)`` in [0, 1].

        Returns:
            ``([stem, layer1, layer2, layer3, layer4] activations, embedding (B, 512))``.
        """
        v = self.visual
        x = (images - self.mean) / self.std
        x = x.to(v.conv1.weight.dtype)
        acts = []
        x = v.stem(x)
        acts.append(x)
        last = max([i for i, w in enumerate(self.conv_weights) if w != 0] + [0])
        need_fc = self.fc_weight != 0
        for i, name in enumerate(STAGES[1:], start=1):
            if i > last and not need_fc:
                break
            x = getattr(v, name)(x)
            acts.append(x)
        emb = v.attnpool(x) if need_fc else None
        return acts, emb

    def forward(self, sketch: torch.Tensor, target: torch.Tensor, augment: bool = True, views=None):
        if views is None:
            if augment and self.num_augs > 0:
                views = augment_pairs(sketch, target, self.num_augs)
            else:
                views = augment_pairs(sketch, target, 0)
        s_views, t_views = views
        s_acts, s_emb = self.features(s_views)
        with torch.no_grad():
            t_acts, t_emb = self.features(t_views)
        conv = s_views.new_zeros(())
        for w, a, b in zip(self.conv_weights, s_acts, t_acts, strict=False):
            if w != 0:
                conv = conv + w * (a - b).square().mean()
        fc = s_views.new_zeros(())
        if s_emb is not None:
            fc = self.fc_weight * (1.0 - F.cosine_similarity(s_emb, t_emb, dim=1)).mean()
        return {"loss": conv + fc, "conv": conv, "fc": fc}
