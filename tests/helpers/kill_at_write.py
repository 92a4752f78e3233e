"""Runs `keras-vae ARGS` and SIGKILLs itself just before its N-th write event (fault injection).

    python kill_at_write.py N EVENTS_LOG ROOT [ROOT ...] -- ARGS...

A write event is any call, on a path under one of the ROOTs, that changes the file system:
opening a file for writing, os.replace/rename/remove/unlink/mkdir/makedirs/rmdir,
shutil.rmtree. Each is logged to EVENTS_LOG (one line: the call and its path) before it
runs. N = 0 kills nowhere: the run just logs its events, so a harness learns how many
kill points there are. The kill comes before the event, so every state between two
writes is reached by some N.
"""

import builtins
import os
import shutil
import signal
import sys


def main():
    separator = sys.argv.index("--")
    kill_at, log_path, roots = int(sys.argv[1]), sys.argv[2], sys.argv[3:separator]
    roots = [os.path.abspath(root) for root in roots]
    args = sys.argv[separator + 1 :]
    count = 0
    log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 (open for the process's life)

    def event(name, path):
        nonlocal count
        path = os.path.abspath(os.fspath(path))
        if not any(path == root or path.startswith(root + os.sep) for root in roots):
            return
        count += 1
        log.write(f"{count} {name} {path}\n")
        log.flush()
        if count == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def watch(module, name, path_of=lambda *a, **k: a[0]):
        real = getattr(module, name)

        def watched(*args, **kwargs):
            event(name, path_of(*args, **kwargs))
            return real(*args, **kwargs)

        setattr(module, name, watched)

    for name in ("replace", "rename"):  # logged by their target: what becomes visible
        watch(os, name, path_of=lambda source, target, *rest, **kwargs: target)
    for name in ("remove", "unlink", "mkdir", "makedirs", "rmdir"):
        watch(os, name)
    watch(shutil, "rmtree")
    real_open = builtins.open

    def watched_open(file, mode="r", *rest, **kwargs):
        if isinstance(file, (str, bytes, os.PathLike)) and any(c in mode for c in "wax+"):
            event("open", file)
        return real_open(file, mode, *rest, **kwargs)

    builtins.open = watched_open
    from keras_vae.cli import main as cli_main

    sys.exit(cli_main(args))


if __name__ == "__main__":
    main()
