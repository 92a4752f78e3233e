"""Kill `keras-vae train` at every write event, rerun the same command, count the survivors.

The run (tests/helpers/resume_harness.py): 128 shapes, batch 64, 2 epochs, latent 2, no
pictures, exported to EXPORT/run/1. A clean run first lists its write events (every
open-for-write, rename, remove and mkdir under the run and export directories); then,
for each event k, a fresh run is SIGKILLed just before event k and the same command is
rerun. A run survives when the rerun exits 0 and leaves history.csv with every epoch
once, metrics.json, a whole model.keras, one whole export version 1, no backup/ and no
temporary files.

Run:  python benchmarks/resume_after_kill.py [--every 1]
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "helpers"))
import resume_harness  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=1, help="try every n-th kill point")
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
        events, problems = resume_harness.events(workdir)
    assert problems == [], problems
    print(f"a clean run makes {len(events)} write events")
    failures = []
    points = range(1, len(events) + 1, args.every)
    for k in points:
        with tempfile.TemporaryDirectory() as workdir:
            problems = resume_harness.kill_and_resume(workdir, k)
        _, call, path = events[k - 1]
        print(
            f"kill before event {k:3d} ({call} {os.path.basename(path)}): "
            f"{'survived' if not problems else problems}",
            flush=True,
        )
        if problems:
            failures.append(k)
    print(
        f"{len(points) - len(failures)} of {len(points)} killed runs survived "
        f"({time.perf_counter() - start:.0f} s)"
    )


if __name__ == "__main__":
    main()
