#!/usr/bin/env python3
"""A backend that computes nothing: it answers every case with outputs computed beforehand, so
that what a run spends besides the backend's reply time is the harness's own cost (the benchmark
of `fusecheck run`'s per-case overhead, README "Checking your own implementation").

    fusecheck export --suite smoke --out /tmp/answers
    python3 examples/backends/numpy_backend.py --accumulate blas /tmp/answers   # any offline backend
    fusecheck run --suite smoke --json run.json \\
        --backend-cmd "python3 examples/backends/testing/answer_backend.py /tmp/answers"

At start it reads case.json of every case folder under ANSWERS (ANSWERS/cases/*, or the folders
directly in ANSWERS) and maps each case id to its folder. For a request it copies that folder's
out/ (the .npy outputs, or rejected.json) into the request's out folder and replies ok (or
rejected); a case it has no answer for gets an error reply. Diagnostics go to stderr.
"""

import json
import os
import shutil
import sys


def case_folders(root):
    """The case folders of an export (root/cases/*) or of a plain folder of case folders."""
    base = os.path.join(root, "cases") if os.path.isdir(os.path.join(root, "cases")) else root
    for name in sorted(os.listdir(base)):
        folder = os.path.join(base, name)
        if os.path.isfile(os.path.join(folder, "case.json")):
            yield folder


def case_id(folder):
    with open(os.path.join(folder, "case.json"), encoding="utf-8") as file:
        return json.load(file)["case_id"]


def answer(request, answers):
    """Copies the precomputed outputs for the requested case; returns the reply."""
    case_dir, out = request["case"], request["out"]
    source = answers.get(case_id(case_dir))
    if source is None:
        return {"status": "error", "message": "no precomputed answer for this case", "case": case_dir}
    source_out = os.path.join(source, "out")
    rejection = os.path.join(source_out, "rejected.json")
    if os.path.isfile(rejection):
        with open(rejection, encoding="utf-8") as file:
            rejected = json.load(file)
        reply = {"status": "rejected", "message": rejected.get("message", ""), "case": case_dir}
        if "constraints" in rejected:
            reply["constraints"] = rejected["constraints"]
        return reply
    for rank in os.listdir(source_out):
        os.makedirs(os.path.join(out, rank), exist_ok=True)
        for name in os.listdir(os.path.join(source_out, rank)):
            shutil.copyfile(os.path.join(source_out, rank, name), os.path.join(out, rank, name))
    return {"status": "ok", "case": case_dir}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: answer_backend.py ANSWERS  (an export whose cases have out/ folders)")
    answers = {case_id(folder): folder for folder in case_folders(sys.argv[1])
               if os.path.isdir(os.path.join(folder, "out"))}
    print(f"answer_backend: {len(answers)} precomputed cases", file=sys.stderr)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = answer(json.loads(line), answers)
        except Exception as error:  # a verdict for the harness, never a dead backend
            reply = {"status": "error", "message": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
