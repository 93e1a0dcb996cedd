"""Files: saved data read as UTF-8 text or JSON, a destination checked before any work, writes whole or not at all."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import InfoFlowError


def read_text(path: Path) -> str:
    """The text of the file ``path``, read as UTF-8 (a byte-order mark dropped), for loading saved data.

    Raises:
        InfoFlowError: the file cannot be read or is not UTF-8 (the message gives the first bad byte).
    """
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise InfoFlowError(f"Cannot read {path}: {err.strerror or err}.") from err
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InfoFlowError(f"{path} is not UTF-8 text (byte {err.start} is {raw[err.start]:#04x}).") from None


def read_json(path: Path, what: str) -> Any:
    """The JSON data of the file ``path`` (:func:`read_text`), for the ``load`` of saved data.

    Raises:
        InfoFlowError: the file cannot be read, is not UTF-8, is not JSON, or is nested too deeply to parse;
            ``what`` names what the file should have been (``"a saved graph"``).
    """
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InfoFlowError(f"{path} is not valid JSON: {err}.") from err
    except RecursionError:
        raise InfoFlowError(f"{path} is nested too deeply to be {what}.") from None
    except ValueError as err:  # e.g. an integer of more digits than Python converts
        raise InfoFlowError(f"{path} is not {what}: {err}.") from None


def check_destination(path: str | os.PathLike[str], suffixes: Sequence[str]) -> Path:
    """Check, before any work, that a file can be saved to ``path``; return it as a :class:`~pathlib.Path`.

    The suffix must be one of ``suffixes`` (the saved type's own table), in any case (``.JSON`` is ``.json``); the
    folder must exist and take a new file (a probe file is created there and removed, which also catches
    read-only file systems and ``/proc``); ``path`` must not be a folder or another non-file. ``save``
    calls it first; front ends call it before loading a model, so a bad destination fails in no time.

    Raises:
        InfoFlowError: saying which of these fails.
    """
    try:
        path = Path(path)
    except TypeError:
        raise InfoFlowError(f"The destination must be a file path, got {type(path).__name__}.") from None
    if path.suffix.lower() not in suffixes:
        raise InfoFlowError(f"Cannot save to {path.name!r}: use one of the suffixes {', '.join(suffixes)}.")
    folder = path.parent
    try:
        if path.is_dir():
            raise InfoFlowError(f"Cannot save to {path}: it is a folder. Give a file name inside it, or another name.")
        if path.exists() and not path.is_file():
            raise InfoFlowError(f"Cannot save to {path}: it exists and is not a regular file.")
        if not folder.is_dir():
            what = "is not a folder" if folder.exists() else "does not exist"
            raise InfoFlowError(f"Cannot save to {path}: the folder {folder} {what}.")
        probe = temp_path(path)
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        probe.unlink()
    except OSError as err:
        raise InfoFlowError(
            f"Cannot save to {path}: no file can be written in {folder} ({err.strerror or err})."
        ) from None
    return path


def temp_path(path: Path) -> Path:
    """A fresh hidden name beside ``path`` for writing it atomically."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` as UTF-8 through a temporary file in the same folder and ``os.replace``.

    Readers therefore see either the old file or the whole new one, never a partial write.

    Raises:
        InfoFlowError: the file cannot be written (the system's reason in the message); nothing is left behind.
    """
    path = Path(path)
    try:
        _write_through_temp(path, text)
    except OSError as err:
        raise InfoFlowError(f"Could not write {path}: {err.strerror or err}.") from err


def _write_through_temp(path: Path, text: str) -> None:
    tmp = temp_path(path)
    # os.open with 0o666 lets the umask set the permissions, as a plain open() would (mkstemp forces 0o600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        # newline="" keeps the text's own line endings (the CSV writer has already chosen them).
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
