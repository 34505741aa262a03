#!/usr/bin/env python3
"""Deliberately broken backends for testing FuseCheck's live protocol handling.

    misbehave.py MODE [--on SUBSTRING]

Behaves like numpy_backend.py, except on cases whose id contains SUBSTRING (every case if
--on is not given), where it misbehaves according to MODE:

    crash           writes a line to stderr, then exits with status 3 without replying
    hang            never replies
    garbage         replies with a line that is not JSON
    unknown-status  replies {"status": "maybe"}
    error           replies {"status": "error", "message": ...}
    wrong-shape     writes the first output with its last row missing
    wrong-dtype     writes the first output as float32
    truncated       writes the first output with its last bytes cut off
    missing         leaves the first output out
    two-replies     replies twice (the second line arrives unrequested)
    quiet-exit      replies ok, then exits before the next request
    late-reply      replies ok, then 0.3 s later replies ok again (to the same case, echoed)

The thin wrappers crash_backend.py, hang_backend.py, garbage_backend.py,
wrong_shape_backend.py and truncated_backend.py run one mode each.
"""

import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy_backend  # noqa: E402

MODES = ("crash", "hang", "garbage", "unknown-status", "error", "wrong-shape", "wrong-dtype",
         "truncated", "missing", "two-replies", "quiet-exit", "late-reply")


def first_output(out):
    """The path of rank 0's first output file (output.npy or y1.npy)."""
    folder = os.path.join(out, "rank0")
    for name in ("output.npy", "y1.npy"):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    raise RuntimeError(f"no output written in {folder}")


def spoil(mode, out):
    """Damages the outputs numpy_backend wrote."""
    path = first_output(out)
    if mode == "wrong-shape":
        array = np.load(path)
        np.save(path, array[:-1])
    elif mode == "wrong-dtype":
        np.save(path, np.load(path).astype("<f4"))
    elif mode == "truncated":
        size = os.path.getsize(path)
        with open(path, "r+b") as file:
            file.truncate(size - 3)
    elif mode == "missing":
        os.remove(path)


def main(argv):
    if not argv or argv[0] not in MODES:
        raise SystemExit(f"usage: misbehave.py {{{','.join(MODES)}}} [--on SUBSTRING]")
    mode = argv[0]
    trigger = argv[argv.index("--on") + 1] if "--on" in argv else ""
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        folder, out = request["case"], request["out"]
        with open(os.path.join(folder, "case.json"), encoding="utf-8") as file:
            case_id = json.load(file)["case_id"]
        if trigger not in case_id:
            status, message, constraints = numpy_backend.run_case(folder, out)
            numpy_backend.reply(status, message, constraints, case=folder)
            continue
        print(f"misbehave: {mode} on {case_id}", file=sys.stderr, flush=True)
        if mode == "crash":
            os._exit(3)
        elif mode == "hang":
            while True:
                time.sleep(60)
        elif mode == "garbage":
            print("this is not JSON", flush=True)
        elif mode == "unknown-status":
            print(json.dumps({"status": "maybe"}), flush=True)
        elif mode == "error":
            numpy_backend.reply("error", "misbehave: deliberate error")
        elif mode in ("wrong-shape", "wrong-dtype", "truncated", "missing"):
            numpy_backend.run_case(folder, out)
            spoil(mode, out)
            numpy_backend.reply("ok")
        elif mode == "two-replies":
            numpy_backend.run_case(folder, out)
            numpy_backend.reply("ok")
            numpy_backend.reply("ok")
        elif mode == "late-reply":
            numpy_backend.run_case(folder, out)
            numpy_backend.reply("ok", case=folder)
            time.sleep(0.3)
            numpy_backend.reply("ok", case=folder)
        elif mode == "quiet-exit":
            numpy_backend.run_case(folder, out)
            numpy_backend.reply("ok")
            sys.exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
