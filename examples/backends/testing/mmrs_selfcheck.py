#!/usr/bin/env python3
"""Self-check of the MatmulReduceScatter ("mmrs") support of the example backends.

Until the harness exports mmrs cases, this builds case folders by hand (case.json and .npy files
as docs/backend-protocol.md describes, with the attributes the harness is to write), runs
numpy_backend.py and mpi_backend.py over them (offline mode, and one case in live mode) and
checks what they wrote:

- integer-valued inputs (every product, partial and cross-rank sum an integer below 2^24, so
  exact in fp32 in any order): both backends must equal, bit for bit, the exact float64 sum
  rounded once to T (round-to-nearest-even, computed here independently of the backends);
- random (non-integer) inputs: numpy_backend.py must equal this script's own golden bit for bit
  (fp32 partials in k order, bias added after, fp32 sum in rank order, one rounding); the MPI
  backend (cross-rank sum in MPI's order) and numpy_backend.py --accumulate blas (k in BLAS's
  order) must be within one ulp of T plus the fp32 reordering bound
  (ws*k + ws) * 2^-24 * sum_s (|x1_s| @ |x2_s| + |bias_s|);
- the hand-derived cases of Tests/FuseCheckEnginesTests/MatmulReduceScatterReferenceTests.swift
  (row blocks, x2 transposed, bias on every rank, one rounding, the bf16 tie, and
  ((2^24 + 1) + 1) - 2^24 = 0 in rank order, which only the NumPy backend must reproduce);
- the validator against the tables of Tests/FuseCheckOpsTests/MatmulReduceScatterConstraintTests.swift;
- invalid cases: both backends reject with exactly the expected constraint ids, in catalogue order.

Usage:
    python3 examples/backends/testing/mmrs_selfcheck.py [--keep DIR] [--no-mpi]

Exit status 0 when every check passes. Needs NumPy; the MPI part needs mpirun and mpi4py.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
BACKENDS = os.path.dirname(HERE)
NUMPY_BACKEND = os.path.join(BACKENDS, "numpy_backend.py")
MPI_BACKEND = os.path.join(BACKENDS, "mpi_backend.py")
NPY = {"float16": "<f2", "bfloat16": "<u2", "float32": "<f4"}
SHORT = {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32"}


# ---------------------------------------------------------------------------------------------
# Independent numerics (not numpy_backend.py's code)
# ---------------------------------------------------------------------------------------------

def f32_to_bf16_bits(values):
    """float32 values to bfloat16 bits, round to nearest even (the usual bias trick; finite only)."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def bf16_bits_to_f32(bits):
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def to_f32(stored, dtype):
    return bf16_bits_to_f32(stored) if dtype == "bfloat16" else np.asarray(stored).astype(np.float32)


def store(values_f32, dtype):
    """float32 values rounded once (RNE) to dtype, as stored in .npy."""
    if dtype == "bfloat16":
        return f32_to_bf16_bits(values_f32)
    return np.asarray(values_f32, dtype=np.float32).astype(np.float16)  # IEEE RNE


def store_exact64(values_f64, dtype):
    """float64 values (integers below 2^24, so exact in float32) rounded once to dtype."""
    values_f64 = np.asarray(values_f64, dtype=np.float64)
    assert np.all(np.abs(values_f64) < 2.0 ** 24) and np.all(values_f64 == np.rint(values_f64))
    if dtype == "float16":
        return values_f64.astype(np.float16)  # one rounding from float64, IEEE RNE
    return f32_to_bf16_bits(values_f64.astype(np.float32))  # float32 exact here, then RNE


def ulp(values_f32, dtype):
    """The spacing of dtype at |values| (its subnormal spacing at the bottom)."""
    precision, min_exp = (11, -24) if dtype == "float16" else (8, -133)
    _, exponent = np.frexp(np.abs(values_f32).astype(np.float64))
    return np.ldexp(1.0, np.maximum(exponent - precision, min_exp))


# ---------------------------------------------------------------------------------------------
# Case folders
# ---------------------------------------------------------------------------------------------

def write_case(root, index, spec):
    """Writes one case folder; returns (folder, per-rank float32 inputs or None when invalid)."""
    dtype, ws, platform = spec["dtype"], spec["ws"], spec.get("platform", "a3")
    m, k, n = spec["m"], spec["k"], spec["n"]
    transposed, with_bias = spec.get("x2_transposed", False), spec.get("bias", False)
    data, seed = spec.get("data", "int"), spec.get("seed", 1)
    rng = np.random.default_rng(seed)
    case_id = (f"mmrs:{platform}:{SHORT[dtype]}:ws={ws}:m={m}:k={k}:n={n}"
               + (":x2t" if transposed else "") + (":bias" if with_bias else "") + f":data={data}:seed={seed}")
    folder = os.path.join(root, f"{index:04d}-" + case_id.replace(":", "_"))
    shapes = {"x1": [m, k], "x2": [n, k] if transposed else [k, n]}
    if with_bias:
        shapes["bias"] = [n]
    shapes.update(spec.get("shapes", {}))
    dtypes = {name: dtype for name in shapes}
    dtypes.update(spec.get("dtypes", {}))
    ranks = []
    for r in range(ws):
        os.makedirs(os.path.join(folder, f"rank{r}"))
        tensors = {}
        for name, shape in shapes.items():
            if "values" in spec:  # hand-written logical values (x2 as (k, n))
                values = np.asarray(spec["values"](r)[name], dtype=np.float32)
                if name == "x2" and transposed:
                    values = np.ascontiguousarray(values.T)
            elif data == "int":
                # Up to 20: products up to 400, sums of a few thousand, so the one rounding to T
                # is exercised (fp16 integers are exact only to 2048, bf16 to 256), yet every
                # fp32 partial and sum stays an exact integer (below 2^24).
                limit = 64 if name == "bias" else 20
                values = rng.integers(-limit, limit + 1, size=shape).astype(np.float32)
            else:
                values = rng.standard_normal(size=shape).astype(np.float32) * (4.0 if name == "bias" else 1.0)
            stored = store(values, dtypes[name]) if dtypes[name] != "float32" else values
            np.save(os.path.join(folder, f"rank{r}", f"{name}.npy"), stored.astype(NPY[dtypes[name]]))
            tensors[name] = to_f32(stored, dtypes[name])
        ranks.append(tensors)
    two_d = lambda s: len(s) == 2  # noqa: E731
    attributes = {
        "world_size": spec.get("world_size", ws),
        "m": shapes["x1"][0] if two_d(shapes["x1"]) else 0,
        "k": shapes["x1"][1] if two_d(shapes["x1"]) else 0,
        "n": (shapes["x2"][0 if transposed else 1]) if two_d(shapes["x2"]) else 0,
        "x1_transposed": spec.get("x1_transposed", False),
        "x2_transposed": transposed,
        "bias": with_bias,
        "reduce_op": spec.get("reduce_op", "sum"),
        "comm_turn": spec.get("comm_turn", 0),
        "hcom": spec.get("hcom", "hcom_group"),
        "output_dtype": spec.get("output_dtype", dtype),
    }
    case = {
        "format": 1,
        "case_id": case_id,
        "op": "mmrs",
        "operator": "MatmulReduceScatter",
        "platform": platform,
        "dtype": dtype,
        "world": {"size": ws, "ws": ws, "ranks": [{"rank": r} for r in range(ws)]},
        "attributes": attributes,
        "inputs": {name: {"file": f"{name}.npy", "dtype": dtypes[name], "npy_dtype": NPY[dtypes[name]],
                          "shape": shape} for name, shape in shapes.items()},
        "outputs": ["output"],
    }
    with open(os.path.join(folder, "case.json"), "w", encoding="utf-8") as file:
        json.dump(case, file, indent=2, sort_keys=True)
    return folder, ranks


def gauge(spec, ranks):
    """sum_s (|x1_s| @ |x2_s| + |bias_s|) in float64: the magnitude every reordering error scales with."""
    total = 0.0
    for tensors in ranks:
        x2 = tensors["x2"].T if spec.get("x2_transposed", False) else tensors["x2"]
        total = total + np.abs(tensors["x1"]).astype(np.float64) @ np.abs(x2).astype(np.float64)
        if "bias" in tensors:
            total = total + np.abs(tensors["bias"]).astype(np.float64)[np.newaxis, :]
    return total


def partials_f32(spec, ranks):
    """This script's golden partials: fp32, k ascending (product exact in fp32), bias after."""
    result = []
    for tensors in ranks:
        x1 = tensors["x1"]
        x2 = tensors["x2"].T if spec.get("x2_transposed", False) else tensors["x2"]
        acc = np.zeros((x1.shape[0], x2.shape[1]), dtype=np.float32)
        for kk in range(x1.shape[1]):
            acc = (acc + np.multiply.outer(x1[:, kk], x2[kk, :])).astype(np.float32)
        if "bias" in tensors:
            acc = (acc + tensors["bias"][np.newaxis, :]).astype(np.float32)
        result.append(acc)
    return result


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------

FAILURES = []


def check(condition, what):
    print(("  ok    " if condition else "  FAIL  ") + what)
    if not condition:
        FAILURES.append(what)


def read_output(folder, spec, rank):
    dtype = spec["dtype"]
    path = os.path.join(folder, "out", f"rank{rank}", "output.npy")
    if not os.path.exists(path):
        return None, f"{path} missing"
    array = np.load(path, allow_pickle=False)
    expected_shape = (spec["m"] // spec["ws"], spec["n"])
    if array.dtype.str != NPY[dtype] or array.shape != expected_shape:
        return None, f"rank {rank} output is {array.dtype.str}{array.shape}, expected {NPY[dtype]}{expected_shape}"
    return array, None


def check_valid(label, folder, spec, ranks, exact_for_any_order):
    ws, dtype = spec["ws"], spec["dtype"]
    rows = spec["m"] // ws
    parts = partials_f32(spec, ranks)
    if spec.get("data", "int") == "int":
        exact = sum(p.astype(np.float64) for p in parts)  # every term an integer: exact
        golden = store_exact64(exact, dtype)
        rounded = int(np.count_nonzero(to_f32(golden, dtype).astype(np.float64) != exact))
        print(f"        ({rounded} of {exact.size} exact sums are not representable in {dtype}: rounded)")
    else:
        total = parts[0].copy()
        for p in parts[1:]:
            total = (total + p).astype(np.float32)
        golden = store(total, dtype)
    magnitude = gauge(spec, ranks)
    if os.path.exists(os.path.join(folder, "out", "rejected.json")):
        check(False, f"{label}: {os.path.basename(folder)} was rejected: "
                     + open(os.path.join(folder, "out", "rejected.json")).read())
        return
    worst = 0.0
    mismatches = 0
    for r in range(ws):
        array, problem = read_output(folder, spec, r)
        if problem:
            check(False, f"{label}: {os.path.basename(folder)}: {problem}")
            return
        want = golden[r * rows:(r + 1) * rows]
        got_bits, want_bits = array.view(np.uint16), want.view(np.uint16)
        mismatches += int(np.count_nonzero(got_bits != want_bits))
        if not exact_for_any_order:
            got, ref = to_f32(array, dtype).astype(np.float64), to_f32(want, dtype).astype(np.float64)
            terms = ws + ws * spec["k"]  # any order of the k products and of the ws partials
            bound = ulp(ref, dtype) + terms * 2.0 ** -24 * magnitude[r * rows:(r + 1) * rows]
            excess = np.abs(got - ref) / bound
            worst = max(worst, float(excess.max(initial=0.0)))
    if exact_for_any_order:
        check(mismatches == 0, f"{label}: {os.path.basename(folder)}: bit-exact ({mismatches} elements differ)")
    else:
        check(worst <= 1.0, f"{label}: {os.path.basename(folder)}: {mismatches} elements differ from the "
                            f"rank-order golden, worst |diff| / (1 ulp + reorder bound) = {worst:.3f}")


def check_rejected(label, folder, expected_ids):
    path = os.path.join(folder, "out", "rejected.json")
    if not os.path.exists(path):
        check(False, f"{label}: {os.path.basename(folder)} not rejected (expected {expected_ids})")
        return
    with open(path, encoding="utf-8") as file:
        rejection = json.load(file)
    ids = rejection.get("constraints")
    check(ids == expected_ids and all(i in rejection["message"] for i in expected_ids),
          f"{label}: {os.path.basename(folder)} rejected with {ids} ({rejection['message']})")


def run_offline(backend, folders, extra=()):
    command = [sys.executable, backend, *extra, *folders]
    finished = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        print(finished.stderr, file=sys.stderr)
    return finished.returncode


def run_live(backend, folder, extra=()):
    """One request over stdin in live mode; returns the reply object."""
    out = os.path.join(folder, "out")
    request = json.dumps({"case": os.path.abspath(folder), "out": os.path.abspath(out)}) + "\n"
    finished = subprocess.run([sys.executable, backend, *extra], input=request, capture_output=True, text=True,
                              timeout=300, check=False)
    lines = [line for line in finished.stdout.splitlines() if line.strip()]
    return json.loads(lines[0]) if len(lines) == 1 else {"status": f"bad stdout {finished.stdout!r}"}


# ---------------------------------------------------------------------------------------------
# The cases
# ---------------------------------------------------------------------------------------------

VALID = [
    dict(dtype="float16", ws=2, m=4, k=256, n=5),
    dict(dtype="bfloat16", ws=2, m=6, k=256, n=3, x2_transposed=True, bias=True),
    dict(dtype="float16", ws=4, m=8, k=512, n=7, bias=True, platform="a2"),
    dict(dtype="bfloat16", ws=4, m=4, k=300, n=4),
    dict(dtype="float16", ws=4, m=0, k=256, n=3),                       # m = 0: a valid no-op
    dict(dtype="float16", ws=2, m=4, k=256, n=6, x2_transposed=True, bias=True, data="random", seed=7),
    dict(dtype="bfloat16", ws=4, m=8, k=256, n=5, bias=True, data="random", seed=8),
]

INVALID = [
    (dict(dtype="float16", ws=2, m=4, k=100, n=3), ["MMRS-K-RANGE"]),
    (dict(dtype="float16", ws=2, m=3, k=256, n=3), ["MMRS-M-DIVISIBLE"]),
    (dict(dtype="bfloat16", ws=2, m=4, k=256, n=3, reduce_op="max"), ["MMRS-REDUCE-OP"]),
    (dict(dtype="float16", ws=2, m=4, k=256, n=3, bias=True, shapes={"bias": [4]}), ["MMRS-BIAS-SHAPE"]),
    (dict(dtype="float16", ws=2, m=4, k=256, n=3, bias=True, shapes={"bias": [1, 3]}), ["MMRS-BIAS-SHAPE"]),
    (dict(dtype="float16", ws=2, m=4, k=256, n=3, platform="a2", world_size=16), ["MMRS-WORLD-SIZE"]),
    (dict(dtype="float16", ws=2, m=4, k=256, n=3, dtypes={"x2": "float32"}, shapes={"x1": [4, 100]}),
     ["MMRS-X2-DTYPE", "MMRS-K-MATCH", "MMRS-K-RANGE"]),
    (dict(dtype="float16", ws=2, m=4, k=256, n=3, x1_transposed=True, comm_turn=1, hcom=""),
     ["MMRS-X1-NOT-TRANSPOSED", "MMRS-COMM-TURN", "MMRS-GROUP-EMPTY"]),
    (dict(dtype="float16", ws=2, m=4, k=256, n=3, shapes={"x1": [4, 0]}, hcom="g" * 128),
     ["MMRS-K-MATCH", "MMRS-K-ZERO", "MMRS-GROUP-LENGTH"]),
    (dict(dtype="float16", ws=2, m=4, k=256, n=3, dtypes={"x1": "float32", "bias": "float32"}, bias=True,
          output_dtype="float16", shapes={"x2": [256, 3, 1]}),
     ["MMRS-X1-DTYPE", "MMRS-X2-DTYPE", "MMRS-OUTPUT-DTYPE", "MMRS-X2-2D"]),
]


# ---------------------------------------------------------------------------------------------
# The validator against Tests/FuseCheckOpsTests/MatmulReduceScatterConstraintTests.swift's tables
# ---------------------------------------------------------------------------------------------

def manifest(platform="a2", dtype="float16", ws=8, m=32, k=256, n=128, x2_transposed=False, bias=False):
    """The case.json of the Swift tests' Call.baseline (valid: ws 8, m 32, k 256, n 128)."""
    inputs = {"x1": {"dtype": dtype, "shape": [m, k]},
              "x2": {"dtype": dtype, "shape": [n, k] if x2_transposed else [k, n]}}
    if bias:
        inputs["bias"] = {"dtype": dtype, "shape": [n]}
    return {"op": "mmrs", "platform": platform, "dtype": dtype, "inputs": inputs,
            "world": {"size": ws, "ws": ws},
            "attributes": {"world_size": ws, "x1_transposed": False, "x2_transposed": x2_transposed,
                           "bias": bias, "reduce_op": "sum", "comm_turn": 0, "hcom": "hcom_group",
                           "output_dtype": dtype}}


def group_name(size, unit="g"):
    unit_bytes = len(unit.encode("utf-8"))
    name = unit * (size // unit_bytes) + "a" * (size % unit_bytes)
    assert len(name.encode("utf-8")) == size
    return name


def validator_cases():
    """(label, case.json, expected ids), the Swift tests' tables transcribed."""
    cases = []
    for platform in ("a2", "a3"):
        for dtype in ("float16", "bfloat16"):
            for transposed in (False, True):
                for bias in (False, True):
                    cases.append((f"baseline {platform} {dtype} x2t={transposed} bias={bias}",
                                  manifest(platform, dtype, x2_transposed=transposed, bias=bias), []))
    dtypes = ("float16", "bfloat16", "float32")
    for dt in dtypes:
        c = manifest(dtype=dt)
        cases.append((f"x1 dtype {dt}", c, ["MMRS-X1-DTYPE"] if dt == "float32" else []))
    for x1 in dtypes[:2]:
        for other in dtypes:
            c = manifest(dtype=x1)
            c["inputs"]["x2"]["dtype"] = other
            cases.append((f"x1 {x1} x2 {other}", c, [] if other == x1 else ["MMRS-X2-DTYPE"]))
            c = manifest(dtype=x1)
            c["attributes"]["output_dtype"] = other
            cases.append((f"x1 {x1} output {other}", c, [] if other == x1 else ["MMRS-OUTPUT-DTYPE"]))
            c = manifest(dtype=x1, bias=True)
            c["inputs"]["bias"]["dtype"] = other
            cases.append((f"x1 {x1} bias {other}", c, [] if other == x1 else ["MMRS-BIAS-DTYPE"]))
    for shape in ([], [1024], [1, 32, 256], [2, 2, 8, 256]):
        c = manifest()
        c["inputs"]["x1"]["shape"] = shape
        cases.append((f"x1 shape {shape}", c, ["MMRS-X1-2D"]))
    for shape in ([], [256], [1, 256, 128], [2, 2, 256, 128]):
        for bias in (False, True):
            c = manifest(bias=bias)
            c["inputs"]["x2"]["shape"] = shape
            cases.append((f"x2 shape {shape} bias={bias}", c, ["MMRS-X2-2D"]))
    c = manifest()
    c["attributes"]["x1_transposed"] = True
    cases.append(("x1 transposed", c, ["MMRS-X1-NOT-TRANSPOSED"]))
    for shape, transposed, expected in (([256, 128], False, []), ([128, 256], True, []),
                                        ([128, 256], False, ["MMRS-K-MATCH"]), ([256, 128], True, ["MMRS-K-MATCH"]),
                                        ([257, 128], False, ["MMRS-K-MATCH"]), ([128, 255], True, ["MMRS-K-MATCH"])):
        c = manifest(x2_transposed=transposed)
        c["inputs"]["x2"]["shape"] = shape
        cases.append((f"x2 stored {shape} x2t={transposed}", c, expected))
    for k, expected in ((0, ["MMRS-K-ZERO"]), (1, ["MMRS-K-RANGE"]), (255, ["MMRS-K-RANGE"]), (256, []),
                        (257, []), (4096, []), (65534, []), (65535, ["MMRS-K-RANGE"]),
                        (65536, ["MMRS-K-RANGE"]), (1 << 20, ["MMRS-K-RANGE"])):
        for transposed in (False, True):
            cases.append((f"k {k} x2t={transposed}", manifest(k=k, x2_transposed=transposed), expected))
    c = manifest()
    c["inputs"]["x2"]["shape"] = [255, 128]
    cases.append(("x2 k 255", c, ["MMRS-K-MATCH"]))
    sizes = {"a2": (2, 4, 8), "a3": (2, 4, 8, 16, 32)}
    for platform in ("a2", "a3"):
        for ws in (-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 24, 32, 33, 64, 128):
            cases.append((f"world_size {ws} on {platform}", manifest(platform, ws=ws),
                          [] if ws in sizes[platform] else ["MMRS-WORLD-SIZE"]))
    for platform, ws, m, expected in (
            ("a2", 2, 0, []), ("a2", 2, 1, ["MMRS-M-DIVISIBLE"]), ("a2", 2, 2, []), ("a2", 2, 3, ["MMRS-M-DIVISIBLE"]),
            ("a2", 4, 2, ["MMRS-M-DIVISIBLE"]), ("a2", 4, 4, []), ("a2", 4, 6, ["MMRS-M-DIVISIBLE"]),
            ("a2", 8, 7, ["MMRS-M-DIVISIBLE"]), ("a2", 8, 8, []), ("a2", 8, 9, ["MMRS-M-DIVISIBLE"]),
            ("a2", 8, 12, ["MMRS-M-DIVISIBLE"]), ("a3", 16, 8, ["MMRS-M-DIVISIBLE"]), ("a3", 16, 16, []),
            ("a3", 32, 31, ["MMRS-M-DIVISIBLE"]), ("a3", 32, 32, []), ("a3", 32, 33, ["MMRS-M-DIVISIBLE"]),
            ("a3", 32, 48, ["MMRS-M-DIVISIBLE"]), ("a2", 3, 4, ["MMRS-WORLD-SIZE"]),
            ("a2", 16, 8, ["MMRS-WORLD-SIZE"]), ("a2", 0, 5, ["MMRS-WORLD-SIZE"]), ("a3", -2, 3, ["MMRS-WORLD-SIZE"])):
        cases.append((f"m {m} ws {ws} on {platform}", manifest(platform, ws=ws, m=m), expected))
    for op, expected in (("sum", []), ("", ["MMRS-REDUCE-OP"]), ("avg", ["MMRS-REDUCE-OP"]),
                         ("max", ["MMRS-REDUCE-OP"]), ("min", ["MMRS-REDUCE-OP"]), ("prod", ["MMRS-REDUCE-OP"]),
                         ("SUM", ["MMRS-REDUCE-OP"]), ("sum ", ["MMRS-REDUCE-OP"]), ("su", ["MMRS-REDUCE-OP"])):
        c = manifest()
        c["attributes"]["reduce_op"] = op
        cases.append((f"reduce_op {op!r}", c, expected))
    for turn in (-(2 ** 63), -1, 0, 1, 2, 2 ** 63 - 1):
        c = manifest()
        c["attributes"]["comm_turn"] = turn
        cases.append((f"comm_turn {turn}", c, [] if turn == 0 else ["MMRS-COMM-TURN"]))
    for shape in ([128], [127], [129], [256], [32], [4], [0], [], [1, 128], [128, 1], [32, 128]):
        for transposed in (False, True):
            c = manifest(x2_transposed=transposed, bias=True)
            c["inputs"]["bias"]["shape"] = shape
            cases.append((f"bias shape {shape} x2t={transposed}", c, [] if shape == [128] else ["MMRS-BIAS-SHAPE"]))
    for name, expected in (("", ["MMRS-GROUP-EMPTY"]), ("g", []), (group_name(127), []),
                           (group_name(128), ["MMRS-GROUP-LENGTH"]), (group_name(129), ["MMRS-GROUP-LENGTH"]),
                           (group_name(127, "\u00e9"), []), (group_name(128, "\u00e9"), ["MMRS-GROUP-LENGTH"]),
                           (group_name(127, "\U0001F600"), []),
                           (group_name(128, "\U0001F600"), ["MMRS-GROUP-LENGTH"])):
        c = manifest()
        c["attributes"]["hcom"] = name
        cases.append((f"hcom of {len(name.encode())} bytes", c, expected))
    # Several violations, in catalogue order.
    cases.append(("k 255 and world_size 3", manifest(ws=3, k=255), ["MMRS-K-RANGE", "MMRS-WORLD-SIZE"]))
    c = manifest(m=12)
    c["attributes"]["reduce_op"] = "max"
    cases.append(("m 12 on 8 and max", c, ["MMRS-M-DIVISIBLE", "MMRS-REDUCE-OP"]))
    c = manifest(bias=True)
    c["inputs"]["bias"] = {"dtype": "bfloat16", "shape": [64]}
    cases.append(("bf16 bias of 64 for fp16", c, ["MMRS-BIAS-DTYPE", "MMRS-BIAS-SHAPE"]))
    c = manifest()
    c["inputs"]["x1"]["shape"] = [32, 0]
    cases.append(("x1 k 0 against x2 k 256", c, ["MMRS-K-MATCH", "MMRS-K-ZERO"]))
    c = manifest()
    c["inputs"]["x1"]["shape"] = [1, 32, 256]
    c["attributes"]["hcom"] = group_name(129)
    cases.append(("3-D x1 and 129-byte hcom", c, ["MMRS-X1-2D", "MMRS-GROUP-LENGTH"]))
    c = manifest("a2", m=20)
    c["attributes"].update(hcom=group_name(200), comm_turn=3, reduce_op="avg", x1_transposed=True,
                           output_dtype="float32", bias=True)
    c["inputs"]["bias"] = {"dtype": "float32", "shape": [1, 1]}
    c["inputs"]["x2"]["dtype"] = "bfloat16"
    cases.append(("catalogue order", c, ["MMRS-X2-DTYPE", "MMRS-OUTPUT-DTYPE", "MMRS-BIAS-DTYPE",
                                         "MMRS-X1-NOT-TRANSPOSED", "MMRS-M-DIVISIBLE", "MMRS-REDUCE-OP",
                                         "MMRS-COMM-TURN", "MMRS-BIAS-SHAPE", "MMRS-GROUP-LENGTH"]))
    # Absurd values: no exception.
    extremes = (-(2 ** 63), -(2 ** 63) + 1, -1, 0, 1, 2 ** 63 - 2, 2 ** 63 - 1)
    for a in extremes:
        for b in extremes:
            for platform in ("a2", "a3"):
                c = manifest(platform, ws=a, bias=True)
                c["inputs"]["x1"]["shape"], c["inputs"]["x2"]["shape"] = [b, a], [a, b]
                c["inputs"]["bias"]["shape"] = [b]
                c["attributes"]["comm_turn"] = a
                cases.append((f"absurd {a} {b}", c, None))
                c = manifest(platform, ws=b, x2_transposed=True, bias=True)
                c["inputs"]["x1"]["shape"], c["inputs"]["x2"]["shape"] = [a, b], [b, a]
                c["inputs"]["bias"]["shape"] = [a, b]
                cases.append((f"absurd {a} {b} transposed", c, None))
                c = manifest(platform, ws=8)
                c["inputs"]["x1"]["shape"], c["inputs"]["x2"]["shape"] = [a, 256], [256, b]
                cases.append((f"absurd m {a} n {b}", c, None))
    return cases


def check_validator():
    sys.path.insert(0, BACKENDS)
    import numpy_backend as nb  # noqa: E402

    wrong = []
    cases = validator_cases()
    for label, case, expected in cases:
        try:
            ids = [cid for cid, _ in nb.violations(case)]
        except Exception as error:  # noqa: BLE001
            wrong.append(f"{label}: {type(error).__name__}: {error}")
            continue
        if expected is not None and ids != expected:
            wrong.append(f"{label}: {ids}, expected {expected}")
    for line in wrong:
        print("        " + line)
    check(not wrong, f"validator: {len(cases)} cases of the Swift constraint tests' tables, {len(wrong)} wrong")


# ---------------------------------------------------------------------------------------------
# Hand cases: MatmulReduceScatterReferenceTests.swift's, derived by hand there
# ---------------------------------------------------------------------------------------------

K = 256


def sparse(rows, columns, entries):
    array = np.zeros((rows, columns), dtype=np.float32)
    for row, column, value in entries:
        array[row, column] = value
    return array


HAND_X1 = [sparse(4, K, [(0, 0, 1), (1, 1, 2), (2, 0, 1), (2, 1, 1), (3, 255, -1)]),
           sparse(4, K, [(0, 10, 3), (2, 10, -1), (3, 20, 1), (3, 21, 2)])]
HAND_X2 = [sparse(K, 3, [(0, 0, 1), (0, 1, 2), (1, 1, 1), (1, 2, 3), (255, 0, 4), (255, 2, 1)]),
           sparse(K, 3, [(10, 0, 1), (10, 1, 1), (10, 2, 1), (20, 2, 5), (21, 0, 1), (21, 1, -1)])]


def hand_world(bias=None):
    def values(r):
        tensors = {"x1": HAND_X1[r], "x2": HAND_X2[r]}
        if bias is not None:
            tensors["bias"] = np.asarray(bias[r], dtype=np.float32)
        return tensors
    return values


def column_world(column, x1_scale=None):
    """ws 4, m 4, n 1: rank s's partial is column[s] in row 0 (x1_s = 1 or x1_scale[s] at k 0)."""
    def values(r):
        scale = 1 if x1_scale is None else x1_scale[r]
        return {"x1": sparse(4, K, [(0, 0, scale)]), "x2": sparse(K, 1, [(0, 0, column[r])])}
    return values


#: (spec, {rank: expected output values}, whether the expectation depends on the cross-rank order)
HAND = [
    (dict(dtype="float16", ws=2, m=4, k=K, n=3, values=hand_world(), data="hand"),
     {0: [4, 5, 3, 0, 2, 6], 1: [0, 2, 2, -2, -2, 4]}, False),
    (dict(dtype="float16", ws=2, m=4, k=K, n=3, x2_transposed=True, values=hand_world(), data="hand"),
     {0: [4, 5, 3, 0, 2, 6], 1: [0, 2, 2, -2, -2, 4]}, False),
    (dict(dtype="float16", ws=2, m=4, k=K, n=3, bias=True, values=hand_world([[0.5, 0, -1], [0.25, 1, 0]]),
          data="hand"),
     {0: [4.75, 6, 2, 0.75, 3, 5], 1: [0.75, 3, 1, -1.25, -1, 3]}, False),
    (dict(dtype="float16", ws=2, m=4, k=K, n=3, bias=True, values=hand_world([[0, 0, 0], [1, 2, 4]]), data="hand"),
     {0: [5, 7, 7, 1, 4, 10], 1: [1, 4, 6, -1, 0, 8]}, False),
    # ((2^24 + 1) + 1) - 2^24 = 0 in fp32 in rank order (another order may give 2).
    (dict(dtype="float16", ws=4, m=4, k=K, n=1, values=column_world([4096, 1, 1, -4096], [4096, 1, 1, 4096]),
          data="hand"),
     {0: [0], 1: [0], 2: [0], 3: [0]}, True),
    # 1 + 2^-11 + 2^-11, rounded once: 1 + 2^-10.
    (dict(dtype="float16", ws=2, m=2, k=K, n=1, data="hand",
          values=lambda r: {"x1": sparse(2, K, [(0, 0, 1), (0, 1, 2.0 ** -11)] if r == 0 else [(0, 0, 2.0 ** -11)]),
                            "x2": sparse(K, 1, [(0, 0, 1), (1, 0, 1)])}),
     {0: [1 + 2.0 ** -10], 1: [0]}, False),
    # bf16: 256 + 1 = 257 is a tie between 256 and 258: 256.
    (dict(dtype="bfloat16", ws=2, m=2, k=K, n=1, data="hand",
          values=lambda r: {"x1": sparse(2, K, [(1, 0, 1)]), "x2": sparse(K, 1, [(0, 0, 256 if r == 0 else 1)])}),
     {0: [0], 1: [256]}, False),
]


def check_hand(label, folder, spec, expected, order_sensitive, exact_order):
    outputs = {}
    for r in range(spec["ws"]):
        array, problem = read_output(folder, spec, r)
        if problem:
            check(False, f"{label}: {os.path.basename(folder)}: {problem}")
            return
        outputs[r] = to_f32(array, spec["dtype"]).ravel().tolist()
    good = all(outputs[r] == [float(v) for v in values] for r, values in expected.items())
    if order_sensitive and not exact_order:
        print(f"  info  {label}: {os.path.basename(folder)}: {outputs} (golden {expected}; "
              f"cross-rank order is the backend's, either is allowed)")
        return
    check(good, f"{label}: {os.path.basename(folder)}: {outputs}")


def build(root, backend_name):
    valid, invalid = [], []
    base = os.path.join(root, backend_name)
    for index, spec in enumerate(VALID):
        folder, ranks = write_case(base, index, spec)
        valid.append((folder, spec, ranks))
    for index, (spec, ids) in enumerate(INVALID, start=len(VALID)):
        folder, _ = write_case(base, index, spec)
        invalid.append((folder, spec, ids))
    hand = []
    for index, (spec, expected, order_sensitive) in enumerate(HAND, start=len(VALID) + len(INVALID)):
        folder, _ = write_case(base, index, spec)
        hand.append((folder, spec, expected, order_sensitive))
    return valid, invalid, hand


def main(argv):
    keep = argv[argv.index("--keep") + 1] if "--keep" in argv else None
    use_mpi = "--no-mpi" not in argv
    if use_mpi and shutil.which("mpirun") is None:
        print("mpirun not found: skipping the MPI backend")
        use_mpi = False
    root = keep or tempfile.mkdtemp(prefix="mmrs-selfcheck-")
    runs = [("numpy", NUMPY_BACKEND, ()), ("numpy-blas", NUMPY_BACKEND, ("--accumulate", "blas"))]
    if use_mpi:
        runs.append(("mpi", MPI_BACKEND, ()))
    check_validator()
    try:
        for label, backend, extra in runs:
            print(f"{label}: {os.path.basename(backend)} {' '.join(extra)}".rstrip())
            valid, invalid, hand = build(root, label)
            folders = [f for f, _, _ in valid] + [f for f, _, _ in invalid] + [f for f, _, _, _ in hand]
            status = run_offline(backend, folders, extra)
            check(status == 0, f"{label}: offline run exit status {status}")
            for folder, spec, ranks in valid:
                # Integer data is exact in any order; random data is bit-exact only for the
                # sequential NumPy backend (rank order, k order).
                exact = spec.get("data", "int") == "int" or label == "numpy"
                check_valid(label, folder, spec, ranks, exact)
            for folder, spec, ids in invalid:
                check_rejected(label, folder, ids)
            for folder, spec, expected, order_sensitive in hand:
                check_hand(label, folder, spec, expected, order_sensitive, exact_order=label != "mpi")
            # Live mode: one valid and one invalid case over stdin/stdout.
            live_valid, live_spec, live_ranks = valid[2]
            shutil.rmtree(os.path.join(live_valid, "out"))
            os.makedirs(os.path.join(live_valid, "out"))
            answer = run_live(backend, live_valid, extra)
            check(answer.get("status") == "ok", f"{label}: live reply {answer}")
            check_valid(label + " live", live_valid, live_spec, live_ranks, True)
            live_invalid = invalid[0][0]
            shutil.rmtree(os.path.join(live_invalid, "out"))
            os.makedirs(os.path.join(live_invalid, "out"))
            answer = run_live(backend, live_invalid, extra)
            check(answer.get("status") == "rejected" and answer.get("constraints") == ["MMRS-K-RANGE"],
                  f"{label}: live reply {answer}")
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print(f"{len(FAILURES)} failure(s)" if FAILURES else "all checks passed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
