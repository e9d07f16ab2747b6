"""User-facing error types of StrokeLab.

Every error a user can cause (a bad path, an unreadable image, a stroke file of the wrong format, a missing
weights file, an unwritable output folder) is raised as a subclass of :class:`UserError`. Its message is the
single line that :func:`common.cli.run_main` prints as ``error: <message>`` before exiting with status 2.
Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "UserError",
    "ImageLoadError",
    "CheckpointError",
    "StrokeFormatError",
    "WeightsMissingError",
    "OutputDirError",
]


class UserError(Exception):
    """An error caused by the user's input; ``str(err)`` is the one line shown to the user."""


class ImageLoadError(UserError):
    """An image path is missing, is not an image, is truncated/corrupt, or is too small."""


class CheckpointError(UserError):
    """A checkpoint file is missing, corrupt, foreign, or does not match the model it is loaded into."""


class StrokeFormatError(UserError):
    """A stroke tensor or stroke JSON file does not follow its documented format."""


class WeightsMissingError(UserError):
    """Pretrained weights are not in the local cache (nothing is ever downloaded).

    The message names the exact file, the URL it can be fetched from, and the folder to put it in.
    Callers with an offline path catch this error, log it and continue without the weights.
    """


class OutputDirError(UserError):
    """An output folder cannot be created or written to."""
