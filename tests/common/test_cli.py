"""common.cli and common.errors through a real subprocess: one-line errors, exit codes, no tracebacks."""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from common.cli import float_in, int_in, non_negative_int, positive_float, positive_int, prepare_output_dir
from common.errors import OutputDirError

SCRIPT = textwrap.dedent(
    '''
    """Tiny entry script used by the tests."""
    from common.cli import ArgumentParser, add_common_args, positive_int, prepare_output_dir, run_main


    def main(argv=None):
        parser = ArgumentParser(description=__doc__)
        add_common_args(parser, output_dir_default="out")
        parser.add_argument("--img", required=True)
        parser.add_argument("--n", type=positive_int, default=1)
        parser.add_argument("--crash", choices=["none", "bug", "interrupt"], default="none")
        args = parser.parse_args(argv)
        if args.crash == "bug":
            raise RuntimeError("a real bug")
        if args.crash == "interrupt":
            raise KeyboardInterrupt
        out = prepare_output_dir(args.output_dir)
        from common.image_io import load_image, save_image  # torch is imported only past the cheap checks

        image = load_image(args.img)
        save_image(image, out / "copy.png")
        return 0


    if __name__ == "__main__":
        run_main(main)
    '''
)


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "tiny_script.py"
    path.write_text(SCRIPT)
    return path


@pytest.fixture
def png(tmp_path: Path, photo) -> Path:
    from common.image_io import save_image

    return save_image(photo, tmp_path / "in.png")


def _run(script: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=60)


def _assert_one_line_error(proc: subprocess.CompletedProcess, code: int, fragment: str) -> None:
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]
    assert "Traceback" not in proc.stderr


def test_success_writes_output(script, png, tmp_path):
    out = tmp_path / "out"
    proc = _run(script, "--img", str(png), "--output_dir", str(out))
    assert proc.returncode == 0, proc.stderr
    assert (out / "copy.png").is_file()


def test_bad_flag_value_is_one_line(script, png):
    _assert_one_line_error(_run(script, "--img", str(png), "--n", "-3"), 2, "--n")
    _assert_one_line_error(_run(script, "--img", str(png), "--n", "abc"), 2, "expected an integer")
    _assert_one_line_error(_run(script, "--img", str(png), "--device", "gpu"), 2, "--device")
    _assert_one_line_error(_run(script, "--img", str(png), "--unknown"), 2, "unrecognized")


def test_missing_image(script, tmp_path):
    out = tmp_path / "out"
    proc = _run(script, "--img", str(tmp_path / "nope.png"), "--output_dir", str(out))
    _assert_one_line_error(proc, 2, "nope")
    assert not (out / "copy.png").exists()


def test_non_image_in_process(tmp_path, capsys):
    """Same script body, run in this process through run_main (saves a torch import in a subprocess)."""
    from common.cli import run_main

    namespace: dict = {}
    exec(compile(SCRIPT, "tiny_script.py", "exec"), namespace)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        run_main(namespace["main"], ["--img", str(text), "--output_dir", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: not an image file")
    assert not (out / "copy.png").exists()


def test_unwritable_output_dir(script, png, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    _assert_one_line_error(_run(script, "--img", str(png), "--output_dir", str(blocker / "sub")), 2, "output")


def test_interrupt_and_real_bug(script, png):
    proc = _run(script, "--img", str(png), "--crash", "interrupt")
    assert proc.returncode == 130
    assert proc.stderr.strip() == "error: interrupted"
    proc = _run(script, "--img", str(png), "--crash", "bug")
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "a real bug" in proc.stderr


def test_argparse_types():
    assert positive_int("3") == 3 and non_negative_int("0") == 0 and positive_float("0.5") == 0.5
    assert float_in(0, 1)("1") == 1.0 and int_in(2, 4)("4") == 4
    for parse, text in [
        (positive_int, "0"),
        (non_negative_int, "-1"),
        (positive_float, "0"),
        (positive_float, "inf"),
        (float_in(0, 1), "1.5"),
        (int_in(2, 4), "5"),
        (int_in(2, 4), "2.5"),
    ]:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


def test_prepare_output_dir(tmp_path):
    made = prepare_output_dir(tmp_path / "a" / "b")
    assert made.is_dir()
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputDirError, match="existing file"):
        prepare_output_dir(tmp_path / "f")


def test_config_kwargs_takes_the_flags_that_name_config_fields():
    import dataclasses

    from common.cli import ArgumentParser, config_kwargs

    @dataclasses.dataclass
    class Cfg:
        steps: int = 10
        lr: float = 0.1

    parser = ArgumentParser(thread_policy=False)
    parser.add_argument("--steps", type=int, default=Cfg.steps)
    parser.add_argument("--output_dir", default="runs/x")
    args = parser.parse_args(["--steps", "3"])
    assert Cfg(**config_kwargs(Cfg, vars(args))) == Cfg(steps=3, lr=0.1)  # output_dir is not a field
    with pytest.raises(TypeError):
        config_kwargs(dict, {"steps": 1})
