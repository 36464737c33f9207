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
            raise StorageError(f"cannot write the output file: {exc.strerror}",
                               code=Code.OUTPUT_UNWRITABLE) from None
        with open(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        safefile.publish(tmp, path)
        tmp = None
    except OSError as exc:
        raise StorageError(f"cannot write the output file: {exc.strerror}",
                           code=Code.OUTPUT_UNWRITABLE) from None
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
        raise StorageError("--output is a directory", code=Code.OUTPUT_UNWRITABLE)
    with atomic(path) as fh:
        yield fh


@contextlib.contextmanager
def directory(path: Path):
    path = Path(path)
    old = os.umask(0o077)
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise StorageError(f"cannot create the output folder: {exc.strerror}",
                           code=Code.OUTPUT_UNWRITABLE) from None
    finally:
        os.umask(old)
    if not os.access(path, os.W_OK):
        raise StorageError("cannot write into the output folder", code=Code.OUTPUT_UNWRITABLE)
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


def refuse_database(targets: list[Path], db: Path | str) -> None:
    """No output path may be the database, its -wal/-shm/-journal or its clinic key
    file (exit 2). `db` is the store's path: a file, or a PostgreSQL URL."""
    from ketacli.errors import Code, Invalid
    from ketacli.store.keys import key_path
    from ketacli.store.pg import is_url

    if not is_url(str(db)) and any(_is_database(t, Path(db)) for t in targets):
        raise Invalid("--output is the database itself: choose another file",
                      code=Code.OUTPUT_IS_DATABASE)
    if any(_same_file(t, [key_path(db)]) for t in targets):
        # writing over the key loses the chain's proof, and an encrypted database with it
        raise Invalid("--output is the clinic key file: choose another file",
                      code=Code.OUTPUT_IS_DATABASE)


def _is_database(target: Path, db: Path) -> bool:
    """Would writing `target` replace the database file (or its WAL / journal)?"""
    return _same_file(target, [db, *(db.with_name(db.name + s)
                                     for s in ("-wal", "-shm", "-journal"))])


def _same_file(target: Path, files: list[Path]) -> bool:
    """Is `target` (or would it be, once written) one of `files`?"""
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


def reader_closed() -> StorageError:
    return StorageError("the reader closed the output early; nothing was marked notified",
                        code=Code.READER_CLOSED)


def delivered(stream) -> None:
    """Return once every byte written to `stream` has reached its reader: flushed; on a
    pipe, drained by the reader (exit 4 when it closes early, nothing marked); a regular
    file fsynced. A terminal or an in-memory stream: flushed."""
    import select
    import stat

    try:
        stream.flush()
        fd = stream.fileno()
    except BrokenPipeError:
        raise reader_closed() from None
    except (AttributeError, OSError, ValueError):
        return
    mode = os.fstat(fd).st_mode
    if stat.S_ISREG(mode):
        with contextlib.suppress(OSError):
            os.fsync(fd)
        return
    if not stat.S_ISFIFO(mode):
        return
    poll = select.poll()
    poll.register(fd, 0)  # POLLERR / POLLHUP are always reported: the reader went away
    while _unread(fd):
        if poll.poll(50):
            raise reader_closed()


def _unread(fd: int) -> int:
    """Bytes written into the pipe that its reader has not taken yet."""
    import array
    import fcntl
    import termios

    buf = array.array("i", [0])
    try:
        fcntl.ioctl(fd, termios.FIONREAD, buf, True)
    except OSError:
        return 0
    return buf[0]


def deliver(write, rows, output: Path | None, *, confirm: bool = True) -> None:
    """`write(rows, stream)` to the --output file (written, fsynced, renamed) or to stdout;
    with `confirm`, returning only once the reader has every byte (see `delivered`)."""
    if output is not None:
        with destination(output) as fh:
            write(rows, fh)
        return
    if not confirm:  # a plain listing: `| head` is fine
        write(rows, sys.stdout)
        return
    try:
        write(rows, sys.stdout)
        delivered(sys.stdout)
    except (BrokenPipeError, StorageError) as exc:
        if isinstance(exc, StorageError) and exc.code != Code.READER_CLOSED:
            raise
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        raise reader_closed() from None
