"""Run StrokeLab's methods on a bundled real photo, with nothing to download.

    python scripts/demo.py                        # segmentation-based painting of the astronaut photo
    python scripts/demo.py --method all           # every method, one after the other
    python scripts/demo.py --method cnp --photo chelsea --output_dir results/demo

The photos ship with scikit-image and scikit-learn (see ``common.data.bundled_photos``). Each method runs
through its own ``test.py`` entry point with small, quick settings, writes into ``OUTPUT_DIR/<method>/``
and the demo prints where the results are. Methods:

- ``segpaint``: segmentation-based parametric painting (realistic style, 256 px, 30 Adam steps per pass);
- ``cnp``: Compositional Neural Painter, 1000 oil strokes at 512 px with the shipped checkpoints;
- ``stipple``: weighted Voronoi stippling with 2048 stipples (plotter SVG included);
- ``linerefiner``: line art made from the photo (Canny edges) restyled by the shipped ``taper`` refiner;
- ``sketching``: a 48-stroke MROSS sketch with the offline edge objective.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import TYPE_CHECKING

from common.cli import ArgumentParser, prepare_output_dir, run_main
from common.errors import UserError

if TYPE_CHECKING:
    import numpy as np


def _line_art(photo: np.ndarray) -> np.ndarray:
    """Thin dark lines on white from a photo: Canny edges of the blurred gray image, (H, W, 3) uint8."""
    import cv2
    import numpy as np

    gray = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(cv2.GaussianBlur(gray, (5, 5), 1.4), 60, 140)
    lines = 255 - edges
    return np.repeat(lines[..., None], 3, axis=2)


#: method -> (entry module, its arguments; {photo}, {lines}, {out} are filled in per run, token by token).
DEMO_RUNS = {
    "segpaint": (
        "segpaint.test",
        "--image_path {photo} --save_dir {out} --style realistic --max_side 256 --iter_steps 30"
        " --exp_name demo",
    ),
    "cnp": ("compositor.test", "--img_path {photo} --stroke_num 1000 --output_dir {out}"),
    "stipple": ("stipple.test", "{photo} --method wvs --points 2048 --output_dir {out}"),
    "linerefiner": ("linerefiner.test", "--input {lines} --output {out} --style taper"),
    "sketching": (
        "sketching.test",
        "--target {photo} --num_strokes 48 --loss edge --num_iter 200 --output_dir {out}",
    ),
}
METHODS = tuple(DEMO_RUNS)


def _commands(method: str, photo: Path, lines: Path, out: Path, device: str) -> tuple[str, list[str]]:
    """The entry module and argument list that run ``method`` with the demo's settings."""
    module, template = DEMO_RUNS[method]
    paths = {"photo": str(photo), "lines": str(lines), "out": str(out)}
    return module, [token.format(**paths) for token in template.split()] + ["--device", device]


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--method", choices=(*METHODS, "all"), default="segpaint")
    parser.add_argument("--photo", default="astronaut", help="a bundled photo name (default: astronaut)")
    parser.add_argument("--output_dir", default="results/demo", help="output folder (default: results/demo)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    args = parser.parse_args(argv)
    from common.data import bundled_photos  # heavy imports after the flags: --help stays fast
    from common.image_io import image_to_tensor, save_image

    photos = bundled_photos()
    if args.photo not in photos:
        raise UserError(f"unknown bundled photo {args.photo!r}; choose one of: {', '.join(sorted(photos))}")
    out = prepare_output_dir(args.output_dir)
    photo_path = out / f"{args.photo}.png"
    save_image(image_to_tensor(photos[args.photo]), photo_path)
    lines_dir = prepare_output_dir(out / "line_art")
    lines_path = lines_dir / f"{args.photo}_lines.png"
    save_image(image_to_tensor(_line_art(photos[args.photo])), lines_path)

    methods = METHODS if args.method == "all" else (args.method,)
    for method in methods:
        method_out = out / method
        module, method_argv = _commands(method, photo_path, lines_path, method_out, args.device)
        print(f"== {method}: python -m {module} {' '.join(method_argv)}", flush=True)
        start = time.perf_counter()
        status = importlib.import_module(module).main(method_argv)
        if status:
            return int(status)
        print(f"== {method}: done in {time.perf_counter() - start:.0f} s; results in {method_out.resolve()}/")
    return 0


if __name__ == "__main__":
    run_main(main)
