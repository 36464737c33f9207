"""Temporary files beside a destination, safe in a folder other users can write.

Every file ketacli writes for the user (`--output`, `db backup`, `trend --svg/--html`, the
files of an export directory, `db restore`'s staging) is first written to a temporary
file created exclusively (O_CREAT|O_EXCL, so a planted symbolic link is never followed)
with an unpredictable name in the destination folder, mode 0600, fsynced, then renamed
over the destination (a symlink there is replaced, not followed) and the folder fsynced.
A temporary file left by a killed process (its pid no longer runs) is removed by the
next run that writes into the same folder.

Names: `.<destination name>.<pid>.<random>.ketacli-tmp`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

SUFFIX = ".ketacli-tmp"
_STALE = re.compile(r"^\..*\.(\d+)\.[^.]+" + re.escape(SUFFIX) + "$")


def _prefix(dest: Path) -> str:
    return f".{dest.name[:60]}.{os.getpid()}."


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def sweep(folder: Path) -> None:
    """Remove temporary files and folders of ours whose process is gone (never follows
    a link, never touches another user's files)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    me = os.getuid() if hasattr(os, "getuid") else None
    for name in names:
        m = _STALE.match(name)
        if not m or _alive(int(m[1])):
            continue
        path = Path(folder) / name
        with contextlib.suppress(OSError):
            st = os.lstat(path)
            if me is not None and st.st_uid != me:
                continue
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(path, ignore_errors=True)
            elif stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
                os.unlink(path)


def new_file(dest: Path) -> tuple[int, Path]:
    """An exclusive, unpredictable temporary file beside `dest`: (fd, path), mode 0600."""
    dest = Path(dest)
    sweep(dest.parent)
    fd, name = tempfile.mkstemp(prefix=_prefix(dest), suffix=SUFFIX, dir=dest.parent)
    os.fchmod(fd, 0o600)
    return fd, Path(name)


def new_dir(dest: Path) -> Path:
    """A private (0700) temporary folder beside `dest`, for writers that need a path
    (SQLite and its journal)."""
    dest = Path(dest)
    sweep(dest.parent)
    return Path(tempfile.mkdtemp(prefix=_prefix(dest), suffix=SUFFIX, dir=dest.parent))


def fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp: Path, dest: Path) -> None:
    """Rename the finished temporary file over `dest` (a symlink there is replaced) and
    make the rename durable."""
    os.replace(tmp, dest)
    fsync_dir(Path(dest).parent)


def discard(tmp: Path | None) -> None:
    if tmp is None:
        return
    with contextlib.suppress(OSError):
        if os.path.isdir(tmp) and not os.path.islink(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.unlink(tmp)


def is_real_dir(path: Path) -> bool:
    """A directory itself, not a symlink to one (a planted link is replaced, not followed)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False
