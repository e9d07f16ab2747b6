"""Today's renderers, loaded from git history, for side-by-side benchmarks (``--baseline`` in bench scripts).

The old compositing paths are not kept as second copies in the tree: a benchmark that compares "old" and
"new" loads the old source of a module from a fixed commit with ``git show`` and executes it as a
separate module, with its imports of other project modules redirected to their old versions too. Needs a
git checkout (a clear error otherwise).

``BASELINE_COMMIT`` is main just before the box-over compositing (issue 12) landed.
"""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

BASELINE_COMMIT = "359d920072ea91db6e204f1cf6360305c64438ee"
_ROOT = Path(__file__).resolve().parent.parent
_cache: dict[tuple, types.ModuleType] = {}


def _exec_old(module: str, commit: str, olds: dict[str, types.ModuleType]) -> types.ModuleType:
    path = module.replace(".", "/") + ".py"
    try:
        src = subprocess.run(
            ["git", "-C", str(_ROOT), "show", f"{commit}:{path}"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise RuntimeError(
            f"cannot read {path} at {commit[:10]} with git (a git checkout is needed)"
        ) from exc
    mod = types.ModuleType(f"baseline_{module.replace('.', '_')}")
    mod.__file__ = f"{commit[:10]}:{path}"
    sys.modules[mod.__name__] = mod  # dataclasses look their module up by name
    saved = {name: sys.modules.get(name) for name in olds}
    sys.modules.update(olds)
    try:
        exec(compile(src, mod.__file__, "exec"), mod.__dict__)
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old
    return mod


def load_baseline(
    module: str, redirect: tuple[str, ...] = (), commit: str = BASELINE_COMMIT
) -> types.ModuleType:
    """The module ``module`` (dotted name, e.g. ``"common.renderers.bezier13"``) as it was at ``commit``.

    Args:
        module: dotted module name inside the repository.
        redirect: dotted names of project modules that the old module imports (directly or through each
            other) and that must be the old versions too, in dependency order (a module's imports first);
            each is loaded the same way, seeing the old versions of the names before it.
        commit: git revision to read the files from.

    Returns:
        a fresh module object, registered in ``sys.modules`` only as ``baseline_<dotted_name>``.

    Raises:
        RuntimeError: no git, not a checkout, or a file absent at that commit.
    """
    key = (module, redirect, commit)
    if key not in _cache:
        olds: dict[str, types.ModuleType] = {}
        for name in redirect:
            olds[name] = _exec_old(name, commit, dict(olds))
        _cache[key] = _exec_old(module, commit, olds)
    return _cache[key]
