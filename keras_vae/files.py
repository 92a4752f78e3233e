"""Atomic file writes: a reader never sees a half-written file; every file gets the umask's mode.

Temporary files are named `.<target>.<random>.tmp<suffix>` beside their target, and
temporary directories `.tmp-<what>-<random>`: `remove_leftovers` finds a killed run's
by these names, and nothing else.
"""

import contextlib
import glob
import os
import shutil
import tempfile

#: How our temporary names end or start; nothing else in our directories looks like this.
_TMP_FILE = ".*.tmp*"
_TMP_DIR = ".tmp-*"


def umask():
    """The process's umask (read without changing it for longer than a call)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish_mode(path):
    """Gives `path` (a file or a directory tree) the mode a new file or directory gets."""
    mask = umask()
    os.chmod(path, (0o777 if os.path.isdir(path) else 0o666) & ~mask)
    if os.path.isdir(path):
        for root, dirs, names in os.walk(path):
            for name in dirs:
                os.chmod(os.path.join(root, name), 0o777 & ~mask)
            for name in names:
                os.chmod(os.path.join(root, name), 0o666 & ~mask)


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yields a temporary path beside `path`; renames it onto `path` only on success.

    `suffix` keeps an extension that a writer insists on (Keras wants `.keras`). The
    file gets the mode the umask gives new files (`mkstemp` alone would make it 0600).
    On any error (or Ctrl-C) the temporary file is removed and `path` is untouched.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.", suffix=".tmp" + suffix, dir=directory
    )
    os.close(fd)
    try:
        yield tmp
        publish_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


@contextlib.contextmanager
def staging_dir(parent, what):
    """A hidden temporary directory `.tmp-<what>-*` in `parent`, always removed at the end.

    Its name is not an integer, so TF Serving ignores it while it is being written.
    Call `publish_mode` on it before renaming it into place.
    """
    tmp = tempfile.mkdtemp(prefix=f".tmp-{what}-", dir=parent)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text(path, text):
    """Writes `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)


def save_model(model, path):
    """`model.save(path)` atomically (the previous file survives a crash mid-write)."""
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)


def remove_leftovers(directory, dirs_named=_TMP_DIR):
    """Removes the temporary files (and `dirs_named` directories) a killed writer left.

    Returns the paths removed. Only names our writers use are touched, and links are
    removed, never followed.
    """
    removed = []
    for path in glob.glob(os.path.join(glob.escape(directory), _TMP_FILE)):
        if os.path.isfile(path) or os.path.islink(path):
            os.remove(path)
            removed.append(path)
    for path in glob.glob(os.path.join(glob.escape(directory), dirs_named)) if dirs_named else ():
        if os.path.islink(path):
            os.remove(path)
        elif os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def check_writable(path, what):
    """Raises PermissionError unless `path` (a directory, maybe not yet made) can be written.

    Checks the nearest existing ancestor, so nothing is created.
    """
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if os.path.exists(probe) and not os.path.isdir(probe):
        raise NotADirectoryError(f"Cannot write {what} to {path}: {probe} is not a directory.")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise PermissionError(f"Cannot write {what} to {path}: {probe} is not writable.")
