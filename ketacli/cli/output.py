"""Where command output goes: stdout, or a file written atomically with mode 0600."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from ketacli.errors import Code, StorageError


@contextlib.contextmanager
def atomic(path: Path):
    """A temporary file beside `path` (exclusive, unpredictable name, never following a
    link: ketacli.safefile), renamed over it only when the block succeeds.

    Mode 0600 (the data is patient data); fsynced before the rename; on any failure
    nothing is left behind.
    """
    from ketacli import safefile

    path = Path(path)
    tmp = None
    try:
        try:
            fd, tmp = safefile.new_file(path)
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc.strerror}",
                               code=Code.OUTPUT_UNWRITABLE) from None
        with open(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        safefile.publish(tmp, path)
        tmp = None
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {exc.strerror}", code=Code.OUTPUT_UNWRITABLE) from None
    finally:
        safefile.discard(tmp)


@contextlib.contextmanager
def destination(path: Path | None):
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    from ketacli.safefile import is_real_dir

    if is_real_dir(path):
        raise StorageError(f"--output is a directory: {path}", code=Code.OUTPUT_UNWRITABLE)
    with atomic(path) as fh:
        yield fh


@contextlib.contextmanager
def directory(path: Path):
    path = Path(path)
    old = os.umask(0o077)
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise StorageError(f"cannot create {path}: {exc.strerror}",
                           code=Code.OUTPUT_UNWRITABLE) from None
    finally:
        os.umask(old)
    if not os.access(path, os.W_OK):
        raise StorageError(f"cannot write into {path}", code=Code.OUTPUT_UNWRITABLE)
    yield path


@contextlib.contextmanager
def progress(enabled: bool):
    """A live count on stderr (TTY only); yields tick(n)."""
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from ketacli.render.out import console

    with Progress(SpinnerColumn(), TextColumn("{task.description}"),
                  console=console(stderr=True), transient=True) as bar:
        task = bar.add_task("Exporting")

        def tick(n: int) -> None:
            bar.update(task, description=f"Exporting: {n:,} records")

        yield tick


def refuse_database(targets: list[Path], db: Path) -> None:
    """No output path may be the database or its -wal/-shm/-journal (exit 2)."""
    from ketacli.errors import Code, Invalid

    if any(_is_database(t, db) for t in targets):
        raise Invalid("--output is the database itself: choose another file",
                      code=Code.OUTPUT_IS_DATABASE)


def _is_database(target: Path, db: Path) -> bool:
    """Would writing `target` replace the database file (or its WAL / journal)?"""
    files = [db, *(db.with_name(db.name + s) for s in ("-wal", "-shm", "-journal"))]
    target = Path(target)
    for f in files:
        if target.resolve() == f.resolve():
            return True
        try:
            if os.path.samefile(target, f):
                return True
        except OSError:
            pass
    return False
