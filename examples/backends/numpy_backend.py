#!/usr/bin/env python3
"""A complete NumPy implementation of FuseCheck's four fused operators, as a backend.

    AllGatherMatmul                   gather_out = concat_r x1_r;  output_r = gather_out @ x2_r (+ bias_r)
    AlltoAllAllGatherBatchMatMul      y2 = AllGather_tp(AllToAll_ep(x));  y3 = y2 @ weight (+ bias);  y1 = act(y3)
    MatmulReduceScatter               P_s = x1_s @ x2_s (+ bias_s);  output_r = row block r of sum_s P_s
    BatchMatMulReduceScatterAlltoAll  y = AllToAll_ep(ReduceScatter_tp(x @ weight) + bias)

It reads case folders and writes the outputs (or a rejection) as docs/backend-protocol.md says,
simulating every rank of the world in one process. Numerics follow the spec's golden
(docs: /work/shared/spec/ops.md section 3): fp32 accumulation in k order, bias added in fp32
after accumulation, the activation evaluated in float64 on the fp32 value, and one
round-to-nearest-even to float16/bfloat16 (bfloat16 by bit manipulation: NumPy has no bfloat16).
MatmulReduceScatter (reduce-scatter-ops.md section 7) sums the ranks' fp32 partials in fp32 in
rank order, ((P_0 + P_1) + P_2) + ..., before its one rounding; BatchMatMulReduceScatterAlltoAll
(section 8) likewise sums its TP group's partials in TP rank order, then adds the bias in fp32.

Usage:
    numpy_backend.py                  live mode: JSON Lines requests on stdin, replies on stdout
    numpy_backend.py FOLDER...        offline mode: run each case folder, or every case folder of
                                      an export (FOLDER/cases/*), writing FOLDER/out/

Options:
    --accumulate sequential|blas      sequential (default): k ascending, one rounding per step,
                                      the reference's order; blas: NumPy's float32 matmul
                                      (another valid order, much faster for large k)

Only NumPy is needed. Diagnostics go to stderr; stdout carries nothing but reply lines.
"""

import json
import os
import sys
import traceback

import numpy as np

#: The case-folder format this backend understands (case.json's "format").
FORMAT = 1

ACCUMULATE = "sequential"

# ---------------------------------------------------------------------------------------------
# Numbers: float16 / bfloat16 storage and round-to-nearest-even from float64
# ---------------------------------------------------------------------------------------------

#: (significand precision p, smallest quantum exponent, largest finite value) per 16-bit type.
_FORMATS = {
    "float16": (11, -24, 65504.0),
    "bfloat16": (8, -133, float.fromhex("0x1.fep127")),
}


def round_rne(values, dtype):
    """Rounds float64 (or float32) values to `dtype` once, to nearest with ties to even.

    Returns float64 values exactly representable in `dtype`. Overflow gives +-inf, NaN stays
    NaN, the sign of zero is kept. Works for normal and subnormal results alike: the quantum is
    2^(e - p) for a value in [2^(e-1), 2^e), but never below the type's smallest subnormal.
    """
    x = np.asarray(values, dtype=np.float64)
    if dtype == "float32":
        return x.astype(np.float32).astype(np.float64)
    precision, min_quantum, largest = _FORMATS[dtype]
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.isfinite(x)
        safe = np.where(finite, x, 0.0)
        _, exponent = np.frexp(safe)  # safe = m * 2^exponent, 0.5 <= |m| < 1
        quantum = np.maximum(exponent - precision, min_quantum)
        rounded = np.ldexp(np.rint(np.ldexp(safe, -quantum)), quantum)
        rounded = np.where(np.abs(rounded) > largest, np.copysign(np.inf, safe), rounded)
        return np.where(finite, rounded, x)


def bf16_bits_to_float(bits):
    """bfloat16 bit patterns (uint16) widened exactly to float32."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def float_to_bf16_bits(values):
    """Values already representable in bfloat16 (see round_rne) as their uint16 bit patterns."""
    narrow = np.asarray(values, dtype=np.float64).astype(np.float32)
    bits = (narrow.view(np.uint32) >> 16).astype(np.uint16)
    return np.where(np.isnan(narrow), np.uint16(0x7FC0) | (bits & np.uint16(0x8000)), bits).astype(np.uint16)


#: How each dtype is stored in .npy files.
NPY_STORAGE = {"float16": "<f2", "bfloat16": "<u2", "float32": "<f4", "int8": "|i1", "int32": "<i4", "int64": "<i8"}


def to_float32(raw, dtype):
    """A stored array (float16, uint16 bfloat16 bits, float32) as exact float32 values."""
    if dtype == "bfloat16":
        return bf16_bits_to_float(raw)
    return np.asarray(raw).astype(np.float32)


def to_storage(values, dtype):
    """float64 values representable in `dtype` as the array to save (<f2, <u2 bits, <f4)."""
    if dtype == "bfloat16":
        return float_to_bf16_bits(values).astype("<u2")
    if dtype == "float16":
        return np.asarray(values, dtype=np.float64).astype("<f2")  # exact: already representable
    return np.asarray(values, dtype=np.float64).astype("<f4")


def round_to_storage(values, dtype):
    """Rounds float32/float64 values to `dtype` once and returns the array to save."""
    return to_storage(round_rne(values, dtype), dtype)


# ---------------------------------------------------------------------------------------------
# Matmul and activations (spec sections 2 and 3)
# ---------------------------------------------------------------------------------------------

def matmul_fp32(a, b):
    """Batched a (..., M, K) @ b (..., K, N) with float32 accumulators.

    sequential: acc = +0, then acc += a[..., k] * b[k, ...] for k ascending. The product of two
    float16/bfloat16 values is exact in float32 (barring bfloat16 products below float32's
    subnormal range), so each step rounds once, like the reference's fused multiply-add.
    """
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    if ACCUMULATE == "blas":
        with np.errstate(all="ignore"):
            return np.matmul(a, b)
    shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
    acc = np.zeros(shape, dtype=np.float32)
    with np.errstate(all="ignore"):
        for k in range(a.shape[-1]):
            acc += a[..., :, k:k + 1] * b[..., k:k + 1, :]
    return acc


GELU_SCALE = 1.5957691216057308  # 2 * sqrt(2 / pi)
GELU_CUBIC = 0.044715
FAST_GELU_SCALE = 1.702


def activate(act_type, t):
    """actType 0..4 in float64 on the float32 values t (spec section 2), exactly as written there.

    At +-inf the formulas give inf/inf; the limits are returned instead: +inf for +inf, -0 for
    -inf (GELU, SiLU, FastGELU), +0 for ReLU(-inf).
    """
    x = np.asarray(t, dtype=np.float64)
    with np.errstate(all="ignore"):
        if act_type == 0:
            return x
        if act_type == 1:
            y = x / (1 + np.exp(-GELU_SCALE * (x + GELU_CUBIC * x * x * x)))
        elif act_type == 2:
            y = x / (1 + np.exp(-x))
        elif act_type == 3:
            # max(x, 0) with +0 for -0 (NumPy's maximum would keep -0); NaN stays NaN.
            y = np.where(np.isnan(x), x, np.where(x > 0, x, 0.0))
        elif act_type == 4:
            magnitude = np.abs(x)
            y = x / (1 + np.exp(-FAST_GELU_SCALE * magnitude)) * np.exp(FAST_GELU_SCALE / 2 * (x - magnitude))
        else:
            raise ValueError(f"actType {act_type}")
        negative_limit = 0.0 if act_type == 3 else -0.0
        y = np.where(np.isposinf(x), np.inf, y)
        return np.where(np.isneginf(x), negative_limit, y)


# ---------------------------------------------------------------------------------------------
# The constraint catalogue (spec section 5; ids as `fusecheck constraints` prints them)
# ---------------------------------------------------------------------------------------------

INPUT_DTYPES = ("float16", "bfloat16")
AGMM_WORLD_SIZES = {"a2": (2, 4, 8), "a3": (2, 4, 8, 16, 32)}
MMRS_WORLD_SIZES = {"a2": (2, 4, 8), "a3": (2, 4, 8, 16, 32)}
MMRS_REDUCE_OP = "sum"
GROUP_SIZES = (2, 4, 8, 16, 32)
GROUP_NAME_LIMIT = 128


def shape_text(shape):
    return "[" + ", ".join(str(d) for d in shape) + "]"


def agmm_violations(case):
    """Every broken AllGatherMatmul constraint as (id, detail), in catalogue order."""
    a = case["attributes"]
    x1, x2 = case["inputs"]["x1"], case["inputs"]["x2"]
    bias = case["inputs"].get("bias")
    dt = x1["dtype"]
    x1_2d, x2_2d = len(x1["shape"]) == 2, len(x2["shape"]) == 2
    k = x1["shape"][1] if x1_2d else 0
    x2_k = x2["shape"][1 if a["x2_transposed"] else 0] if x2_2d else 0
    n = x2["shape"][0 if a["x2_transposed"] else 1] if x2_2d else 0
    group = a["hcom"].encode("utf-8")
    checks = [
        ("AGMM-X1-DTYPE", not is_aiv(case) and dt not in INPUT_DTYPES, f"x1 dtype is {dt}"),
        ("AGMM-X2-DTYPE", x2["dtype"] != dt, f"x2 dtype is {x2['dtype']}, x1 is {dt}"),
        ("AGMM-OUTPUT-DTYPE", dt != "int8" and a["output_dtype"] != dt,
         f"output dtype is {a['output_dtype']}, x1 is {dt}"),
        ("AGMM-BIAS-DTYPE", bias is not None and bias["dtype"] != dt, "bias dtype differs from x1's"),
        ("AGMM-X1-2D", not x1_2d, f"x1 has shape {shape_text(x1['shape'])}"),
        ("AGMM-X2-2D", not x2_2d, f"x2 has shape {shape_text(x2['shape'])}"),
        ("AGMM-X1-NOT-TRANSPOSED", a["x1_transposed"], "x1 is marked transposed"),
        ("AGMM-K-MATCH", x1_2d and x2_2d and k != x2_k, f"x1 k = {k}, x2 k = {x2_k}"),
        ("AGMM-K-ZERO", x1_2d and k == 0, "k = 0"),
        ("AGMM-K-RANGE", x1_2d and k != 0 and not 256 <= k < 65535, f"k = {k}"),
        ("AGMM-WORLD-SIZE", not is_aiv(case) and a["world_size"] not in AGMM_WORLD_SIZES[case["platform"]],
         f"world_size = {a['world_size']} on {case['platform'].upper()}"),
        ("AGMM-GATHER-INDEX", a["gather_index"] != 0, f"gather_index = {a['gather_index']}"),
        ("AGMM-COMM-TURN", a["comm_turn"] != 0, f"comm_turn = {a['comm_turn']}"),
        ("AGMM-BIAS-SHAPE", bias is not None and (len(bias["shape"]) != 1 or (x2_2d and bias["shape"][0] != n)),
         f"bias has shape {shape_text(bias['shape']) if bias else ''}, n = {n}"),
        ("AGMM-GROUP-EMPTY", len(group) == 0, "hcom is empty"),
        ("AGMM-GROUP-LENGTH", len(group) >= GROUP_NAME_LIMIT, f"hcom is {len(group)} bytes"),
    ] + comm_mode_checks(case, "AGMM") + [
        ("AGMM-AIV-GATHER-OUTPUT", is_aiv(case) and not a["gather_output"], "gather_output is False with aiv"),
    ]
    return [(cid, detail) for cid, broken, detail in checks if broken]


def aagbmm_violations(case):
    """Every broken AlltoAllAllGatherBatchMatMul constraint as (id, detail), in catalogue order."""
    a = case["attributes"]
    x, w = case["inputs"]["x"], case["inputs"]["weight"]
    bias = case["inputs"].get("bias")
    ep, tp = case["world"]["ep"], case["world"]["tp"]
    dt = x["dtype"]
    shard, act = a["x_shard_type"], a["act_type"]
    x_3d, w_3d = len(x["shape"]) == 3, len(w["shape"]) == 3
    wt = a["weight_transposed"]
    experts = x["shape"][0] if x_3d else 0
    local_experts = w["shape"][0] if w_3d else 0
    hidden = w["shape"][2 if wt else 1] if w_3d else 0
    columns = w["shape"][1 if wt else 2] if w_3d else 0
    bias_dtype = "float32" if dt == "bfloat16" else dt
    if bias is None:
        bias_shape_broken = False
    elif not w_3d:
        bias_shape_broken = len(bias["shape"]) not in (2, 3)
    else:
        bias_shape_broken = bias["shape"] not in ([local_experts, columns], [local_experts, 1, columns])
    if x_3d and w_3d and shard in (0, 1):
        gathered = x["shape"][2] * tp if shard == 0 else x["shape"][2]
        h_broken = gathered != hidden
    else:
        h_broken = False
    group_ep, group_tp = a["group_ep"].encode("utf-8"), a["group_tp"].encode("utf-8")
    checks = [
        ("AAGBMM-PLATFORM", case["platform"] != "a3", f"platform is {case['platform'].upper()}"),
        ("AAGBMM-X-DTYPE", dt not in INPUT_DTYPES, f"x dtype is {dt}"),
        ("AAGBMM-WEIGHT-DTYPE", w["dtype"] != dt, f"weight dtype is {w['dtype']}, x is {dt}"),
        ("AAGBMM-OUTPUT-DTYPE", a["output_dtype"] != dt, f"output dtype is {a['output_dtype']}, x is {dt}"),
        ("AAGBMM-BIAS-DTYPE", bias is not None and dt in INPUT_DTYPES and bias["dtype"] != bias_dtype,
         f"bias dtype is {bias['dtype'] if bias else ''} for {dt} x"),
        ("AAGBMM-BIAS-SHAPE", bias_shape_broken, f"bias has shape {shape_text(bias['shape']) if bias else ''}"),
        ("AAGBMM-EP-SIZE", ep not in GROUP_SIZES, f"ep = {ep}"),
        ("AAGBMM-TP-SIZE", tp not in GROUP_SIZES, f"tp = {tp}"),
        ("AAGBMM-SHARD-TYPE", shard not in (0, 1), f"xShardType = {shard}"),
        ("AAGBMM-ACT-TYPE", act not in (0, 1, 2, 3, 4), f"actType = {act}"),
        ("AAGBMM-X-3D", not x_3d, f"x has shape {shape_text(x['shape'])}"),
        ("AAGBMM-WEIGHT-3D", not w_3d, f"weight has shape {shape_text(w['shape'])}"),
        ("AAGBMM-EXPERT-MATCH", x_3d and w_3d and local_experts * ep != experts,
         f"weight[0] = {local_experts}, ep = {ep}, x[0] = {experts}"),
        ("AAGBMM-H-MATCH", h_broken, f"x[2] = {x['shape'][2] if x_3d else 0}, H = {hidden}"),
        ("AAGBMM-E-RANGE", x_3d and not 2 <= experts <= 512, f"E = {experts}"),
        ("AAGBMM-LOCAL-EXPERTS-RANGE", w_3d and not 1 <= local_experts <= 32, f"E/ep = {local_experts}"),
        ("AAGBMM-H-RANGE", w_3d and not 1 <= hidden <= 65535, f"H = {hidden}"),
        ("AAGBMM-LOCAL-M-RANGE", w_3d and not 1 <= columns <= 65535, f"M/tp = {columns}"),
        ("AAGBMM-C-POSITIVE", x_3d and x["shape"][1] <= 0, f"x[1] = {x['shape'][1] if x_3d else 0}"),
        ("AAGBMM-GROUP-EP-EMPTY", len(group_ep) == 0, "groupEp is empty"),
        ("AAGBMM-GROUP-EP-LENGTH", len(group_ep) >= GROUP_NAME_LIMIT, f"groupEp is {len(group_ep)} bytes"),
        ("AAGBMM-GROUP-TP-EMPTY", len(group_tp) == 0, "groupTp is empty"),
        ("AAGBMM-GROUP-TP-LENGTH", len(group_tp) >= GROUP_NAME_LIMIT, f"groupTp is {len(group_tp)} bytes"),
        ("AAGBMM-GROUP-DISTINCT", len(group_ep) > 0 and group_ep == group_tp, "groupEp and groupTp are equal"),
        ("AAGBMM-Y3-WITHOUT-ACT", a["y3_requested"] and act == 0, "y3 requested with actType = 0"),
    ]
    return [(cid, detail) for cid, broken, detail in checks if broken]


def mmrs_violations(case):
    """Every broken MatmulReduceScatter constraint as (id, detail), in catalogue order.

    The checks of MatmulReduceScatter+Constraints.swift, one for one (reduce-scatter-ops.md
    section 9). m, k, n are read from the stored shapes like the Swift call's: 0 where x1 / x2
    are not 2-D. The one division (m by world_size) runs only for a world size of the platform's
    set, so no case can make a check fail with an exception.
    """
    a = case["attributes"]
    x1, x2 = case["inputs"]["x1"], case["inputs"]["x2"]
    bias = case["inputs"].get("bias")
    dt = x1["dtype"]
    x1_2d, x2_2d = len(x1["shape"]) == 2, len(x2["shape"]) == 2
    m = x1["shape"][0] if x1_2d else 0
    k = x1["shape"][1] if x1_2d else 0
    x2_k = x2["shape"][1 if a["x2_transposed"] else 0] if x2_2d else 0
    n = x2["shape"][0 if a["x2_transposed"] else 1] if x2_2d else 0
    ws = a["world_size"]
    sizes = AIV_WORLD_SIZES if is_aiv(case) else MMRS_WORLD_SIZES[case["platform"]]
    # Compared as UTF-8 bytes, like the Swift code (the vendor receives C strings).
    group = a["hcom"].encode("utf-8")
    reduce_op = a["reduce_op"].encode("utf-8")
    if bias is None:
        bias_shape_broken, bias_shape_detail = False, ""
    elif len(bias["shape"]) != 1:
        bias_shape_broken, bias_shape_detail = True, f"bias has shape {shape_text(bias['shape'])}"
    else:
        bias_shape_broken = x2_2d and bias["shape"][0] != n
        bias_shape_detail = f"bias length {bias['shape'][0]}, n = {n}"
    checks = [
        ("MMRS-X1-DTYPE", not is_aiv(case) and dt not in INPUT_DTYPES, f"x1 dtype is {dt}"),
        ("MMRS-X2-DTYPE", x2["dtype"] != dt, f"x2 dtype is {x2['dtype']}, x1 is {dt}"),
        ("MMRS-OUTPUT-DTYPE", dt != "int8" and a["output_dtype"] != dt,
         f"output dtype is {a['output_dtype']}, x1 is {dt}"),
        ("MMRS-BIAS-DTYPE", bias is not None and bias["dtype"] != dt,
         f"bias dtype is {bias['dtype'] if bias else ''}, x1 is {dt}"),
        ("MMRS-X1-2D", not x1_2d, f"x1 has shape {shape_text(x1['shape'])}"),
        ("MMRS-X2-2D", not x2_2d, f"x2 has shape {shape_text(x2['shape'])}"),
        ("MMRS-X1-NOT-TRANSPOSED", a["x1_transposed"], "x1 is marked transposed"),
        ("MMRS-K-MATCH", x1_2d and x2_2d and k != x2_k, f"x1 k = {k}, x2 k = {x2_k}"),
        ("MMRS-K-ZERO", x1_2d and k == 0, "k = 0"),
        ("MMRS-K-RANGE", x1_2d and k != 0 and not 256 <= k < 65535, f"k = {k}"),
        ("MMRS-WORLD-SIZE", ws not in sizes, f"world_size = {ws} on {case['platform'].upper()}"),
        ("MMRS-M-DIVISIBLE", x1_2d and ws in sizes and m % ws != 0, f"m = {m}, world_size = {ws}"),
        ("MMRS-REDUCE-OP", reduce_op != MMRS_REDUCE_OP.encode("utf-8"), f"reduce_op = \"{a['reduce_op']}\""),
        ("MMRS-COMM-TURN", a["comm_turn"] != 0, f"comm_turn = {a['comm_turn']}"),
        ("MMRS-BIAS-SHAPE", bias_shape_broken, bias_shape_detail),
        ("MMRS-GROUP-EMPTY", len(group) == 0, "hcom is empty"),
        ("MMRS-GROUP-LENGTH", len(group) >= GROUP_NAME_LIMIT, f"hcom is {len(group)} bytes"),
    ] + comm_mode_checks(case, "MMRS")
    return [(cid, detail) for cid, broken, detail in checks if broken]


def bmmrs_violations(case):
    """Every broken BatchMatMulReduceScatterAlltoAll constraint as (id, detail), in catalogue order.

    The checks of BatchMatMulReduceScatterAlltoAll+Constraints.swift, one for one
    (reduce-scatter-ops.md section 9, with section 8's table for the bias width). Sizes are read
    from the stored shapes like the Swift call's (0 where x / weight are not 3-D); sizes derived
    from ep or tp are checked only for a supported ep and tp, so no division can fail.
    """
    a = case["attributes"]
    x, w = case["inputs"]["x"], case["inputs"]["weight"]
    bias = case["inputs"].get("bias")
    ep, tp = a["ep_world_size"], a["tp_world_size"]
    dt = x["dtype"]
    shard = a["y_shard_type"]
    wt = a["weight_transposed"]
    x_3d, w_3d = len(x["shape"]) == 3, len(w["shape"]) == 3
    local_experts, rows, depth = x["shape"] if x_3d else (0, 0, 0)
    weight_depth = w["shape"][2 if wt else 1] if w_3d else 0
    width = w["shape"][1 if wt else 2] if w_3d else 0
    capacity = rows // ep if ep > 0 else 0
    scattered_width = width if shard == 1 else (width // tp if tp > 0 else 0)
    ep_ok, tp_ok = ep in GROUP_SIZES, tp in GROUP_SIZES
    bias_dtype = "float32" if dt == "bfloat16" else dt
    bias_rank_ok = bias is not None and (len(bias["shape"]) == 2
                                         or (len(bias["shape"]) == 3 and bias["shape"][1] == 1))
    bias_width_broken = False
    if bias_rank_ok and w_3d and shard in (0, 1) and (shard == 1 or (tp_ok and width % tp == 0)):
        bias_width_broken = bias["shape"][-1] != scattered_width
    group_ep, group_tp = a["group_ep"].encode("utf-8"), a["group_tp"].encode("utf-8")
    checks = [
        ("BMMRS-PLATFORM", case["platform"] != "a3", f"platform is {case['platform'].upper()}"),
        ("BMMRS-X-DTYPE", dt not in INPUT_DTYPES, f"x dtype is {dt}"),
        ("BMMRS-WEIGHT-DTYPE", w["dtype"] != dt, f"weight dtype is {w['dtype']}, x is {dt}"),
        ("BMMRS-OUTPUT-DTYPE", a["output_dtype"] != dt, f"output dtype is {a['output_dtype']}, x is {dt}"),
        ("BMMRS-BIAS-DTYPE", bias is not None and dt in INPUT_DTYPES and bias["dtype"] != bias_dtype,
         f"bias dtype is {bias['dtype'] if bias else ''} for {dt} x"),
        ("BMMRS-EP-SIZE", not ep_ok, f"ep = {ep}"),
        ("BMMRS-TP-SIZE", not tp_ok, f"tp = {tp}"),
        ("BMMRS-SHARD-TYPE", shard not in (0, 1), f"yShardType = {shard}"),
        ("BMMRS-X-3D", not x_3d, f"x has shape {shape_text(x['shape'])}"),
        ("BMMRS-WEIGHT-3D", not w_3d, f"weight has shape {shape_text(w['shape'])}"),
        ("BMMRS-BIAS-RANK", bias is not None and not bias_rank_ok,
         f"bias has shape {shape_text(bias['shape']) if bias else ''}"),
        ("BMMRS-BIAS-EXPERTS", bias_rank_ok and x_3d and bias["shape"][0] != local_experts,
         f"bias[0] = {bias['shape'][0] if bias else 0}, E/ep = {local_experts}"),
        ("BMMRS-BIAS-WIDTH", bias_width_broken,
         f"bias width {bias['shape'][-1] if bias else 0}, expected {scattered_width}"),
        ("BMMRS-EXPERT-MATCH", x_3d and w_3d and local_experts != w["shape"][0],
         f"x[0] = {local_experts}, weight[0] = {w['shape'][0] if w_3d else 0}"),
        ("BMMRS-M-MATCH", x_3d and w_3d and depth != weight_depth, f"x[2] = {depth}, weight M/tp = {weight_depth}"),
        ("BMMRS-ROWS-DIVISIBLE", x_3d and rows > 0 and ep_ok and rows % ep != 0, f"x[1] = {rows}, ep = {ep}"),
        ("BMMRS-H-DIVISIBLE", w_3d and shard == 0 and tp_ok and width % tp != 0, f"H = {width}, tp = {tp}"),
        ("BMMRS-C-DIVISIBLE", x_3d and rows > 0 and shard == 1 and ep_ok and tp_ok and rows % ep == 0
         and capacity % tp != 0, f"C = {capacity}, tp = {tp}"),
        ("BMMRS-E-RANGE", x_3d and ep_ok and not 2 <= local_experts * ep <= 512, f"E = {local_experts * ep}"),
        ("BMMRS-LOCAL-EXPERTS-RANGE", x_3d and not 1 <= local_experts <= 32, f"E/ep = {local_experts}"),
        ("BMMRS-H-RANGE", w_3d and not 1 <= width <= 65535, f"H = {width}"),
        ("BMMRS-LOCAL-M-RANGE", x_3d and not 1 <= depth <= 65535, f"M/tp = {depth}"),
        ("BMMRS-C-POSITIVE", x_3d and rows <= 0, f"x[1] = {rows}"),
        ("BMMRS-GROUP-EP-EMPTY", len(group_ep) == 0, "groupEp is empty"),
        ("BMMRS-GROUP-EP-LENGTH", len(group_ep) >= GROUP_NAME_LIMIT, f"groupEp is {len(group_ep)} bytes"),
        ("BMMRS-GROUP-TP-EMPTY", len(group_tp) == 0, "groupTp is empty"),
        ("BMMRS-GROUP-TP-LENGTH", len(group_tp) >= GROUP_NAME_LIMIT, f"groupTp is {len(group_tp)} bytes"),
        ("BMMRS-GROUP-DISTINCT", len(group_ep) > 0 and group_ep == group_tp, "groupEp and groupTp are equal"),
    ]
    return [(cid, detail) for cid, broken, detail in checks if broken]



# ---------------------------------------------------------------------------------------------
# comm_mode and the quantized call (quantized.md Q1 to Q4): AllGatherMatmul and MatmulReduceScatter
# ---------------------------------------------------------------------------------------------

AIV_WORLD_SIZES = (2, 4, 8)
AIV_INPUT_DTYPES = ("float16", "bfloat16", "int8")
QUANTIZED_OUTPUT_DTYPES = ("float16", "bfloat16")


def is_aiv(case):
    """Whether comm_mode is "aiv" (the V2 implementation's rules apply)."""
    return case["attributes"].get("comm_mode", "none") == "aiv"


#: The comm_mode and quantization constraint ids per operator, by rule (the catalogue's ids).
COMM_MODE_IDS = {
    "AGMM": {
        "COMM-MODE": "AGMM-COMM-MODE",
        "AICPU-SCALE": "AGMM-AICPU-SCALE",
        "AIV-WORLD-SIZE": "AGMM-AIV-WORLD-SIZE",
        "AIV-EMPTY": "AGMM-AIV-EMPTY",
        "AIV-X1-DTYPE": "AGMM-AIV-X1-DTYPE",
        "AIV-BIAS": "AGMM-AIV-BIAS",
        "QUANT-INT8": "AGMM-QUANT-INT8",
        "QUANT-X2-SCALE": "AGMM-QUANT-X2-SCALE",
        "QUANT-X2-SCALE-DTYPE": "AGMM-QUANT-X2-SCALE-DTYPE",
        "QUANT-X2-SCALE-SHAPE": "AGMM-QUANT-X2-SCALE-SHAPE",
        "QUANT-X1-SCALE-DTYPE": "AGMM-QUANT-X1-SCALE-DTYPE",
        "QUANT-X1-SCALE-SHAPE": "AGMM-QUANT-X1-SCALE-SHAPE",
        "QUANT-OUTPUT-DTYPE": "AGMM-QUANT-OUTPUT-DTYPE",
        "QUANT-INT64-OUTPUT": "AGMM-QUANT-INT64-OUTPUT",
    },
    "MMRS": {
        "COMM-MODE": "MMRS-COMM-MODE",
        "AICPU-SCALE": "MMRS-AICPU-SCALE",
        "AIV-WORLD-SIZE": "MMRS-AIV-WORLD-SIZE",
        "AIV-EMPTY": "MMRS-AIV-EMPTY",
        "AIV-X1-DTYPE": "MMRS-AIV-X1-DTYPE",
        "AIV-BIAS": "MMRS-AIV-BIAS",
        "QUANT-INT8": "MMRS-QUANT-INT8",
        "QUANT-X2-SCALE": "MMRS-QUANT-X2-SCALE",
        "QUANT-X2-SCALE-DTYPE": "MMRS-QUANT-X2-SCALE-DTYPE",
        "QUANT-X2-SCALE-SHAPE": "MMRS-QUANT-X2-SCALE-SHAPE",
        "QUANT-X1-SCALE-DTYPE": "MMRS-QUANT-X1-SCALE-DTYPE",
        "QUANT-X1-SCALE-SHAPE": "MMRS-QUANT-X1-SCALE-SHAPE",
        "QUANT-OUTPUT-DTYPE": "MMRS-QUANT-OUTPUT-DTYPE",
        "QUANT-INT64-OUTPUT": "MMRS-QUANT-INT64-OUTPUT",
    },
}


def comm_mode_checks(case, prefix):
    """The comm_mode and quantization rows of the catalogue (QuantizableMatmulCall.swift), as
    (id, broken, detail). Only the first two apply outside aiv; a V1 call with int8 x1 breaks the
    operator's own X1-DTYPE instead."""
    a = case["attributes"]
    inputs = case["inputs"]
    mode = a.get("comm_mode", "none")
    aiv = mode == "aiv"
    x1, x2 = inputs["x1"], inputs["x2"]
    x1_scale, x2_scale = inputs.get("x1_scale"), inputs.get("x2_scale")
    scales = [name for name in ("x1_scale", "x2_scale") if name in inputs]
    dt = x1["dtype"]
    x1_2d, x2_2d = len(x1["shape"]) == 2, len(x2["shape"]) == 2
    m = x1["shape"][0] if x1_2d else 0
    n = x2["shape"][0 if a["x2_transposed"] else 1] if x2_2d else 0
    quantized = dt == "int8"
    output = a["output_dtype"]
    ids = COMM_MODE_IDS[prefix]
    return [
        (ids["COMM-MODE"], mode not in ("none", "ai_cpu", "aiv"), f"comm_mode = \"{mode}\""),
        (ids["AICPU-SCALE"], not aiv and bool(scales), f"{' and '.join(scales)} given with comm_mode {mode}"),
        (ids["AIV-WORLD-SIZE"], aiv and a["world_size"] not in AIV_WORLD_SIZES,
         f"world_size = {a['world_size']} with aiv"),
        (ids["AIV-EMPTY"], aiv and x1_2d and (m == 0 or n == 0), f"m = {m}, n = {n} with aiv"),
        (ids["AIV-X1-DTYPE"], aiv and dt not in AIV_INPUT_DTYPES, f"x1 dtype is {dt} with aiv"),
        (ids["AIV-BIAS"], aiv and "bias" in inputs, "bias given with aiv"),
        (ids["QUANT-INT8"], aiv and bool(scales) and not quantized, f"{' and '.join(scales)} given, x1 is {dt}"),
        (ids["QUANT-X2-SCALE"], aiv and quantized and x2_scale is None, "x1 is int8 and x2_scale is absent"),
        (ids["QUANT-X2-SCALE-DTYPE"], aiv and x2_scale is not None and x2_scale["dtype"] not in ("float32", "int64"),
         f"x2_scale dtype is {x2_scale['dtype'] if x2_scale else ''}"),
        (ids["QUANT-X2-SCALE-SHAPE"], aiv and x2_scale is not None and x2_scale["shape"] != [1, n],
         f"x2_scale has shape {shape_text(x2_scale['shape']) if x2_scale else ''}, n = {n}"),
        (ids["QUANT-X1-SCALE-DTYPE"], aiv and x1_scale is not None and x1_scale["dtype"] != "float32",
         f"x1_scale dtype is {x1_scale['dtype'] if x1_scale else ''}"),
        (ids["QUANT-X1-SCALE-SHAPE"], aiv and x1_scale is not None and x1_2d and x1_scale["shape"] != [m, 1],
         f"x1_scale has shape {shape_text(x1_scale['shape']) if x1_scale else ''}, m = {m}"),
        (ids["QUANT-OUTPUT-DTYPE"], aiv and quantized and output not in QUANTIZED_OUTPUT_DTYPES,
         f"output dtype is {output}"),
        (ids["QUANT-INT64-OUTPUT"], aiv and quantized and x2_scale is not None and x2_scale["dtype"] == "int64"
         and output in QUANTIZED_OUTPUT_DTYPES and output != "float16", f"x2_scale is int64, output is {output}"),
    ]


def decode_scale(raw):
    """A stored scale as float32: fp32 as is; int64 packed by npu_trans_quant_param
    ((bits(fp32) & 0xFFFFE000) | 1 << 46) decoded from its low 32 bits with the low 13 cleared."""
    if raw.dtype == np.int64:
        return (raw & 0xFFFFE000).astype(np.uint32).view(np.float32)
    return np.asarray(raw, dtype=np.float32)


def dequantize(acc, x2_scale, x1_scale):
    """quantized.md Q3: a = f32(acc), b = a * x2s[j], c = b * x1s[i], each in float32."""
    with np.errstate(all="ignore"):
        c = acc.astype(np.float32) * x2_scale.reshape(1, -1)
        if x1_scale is not None:
            c = c * x1_scale.reshape(-1, 1)
    return c.astype(np.float32)


def int8_matmul(x1_raw, x2_raw, transposed):
    """acc = x1 @ x2 over int8 operands, exact (int64 products and sums, within int32)."""
    x2 = np.asarray(x2_raw, dtype=np.int64)
    if transposed:
        x2 = x2.T
    return np.asarray(x1_raw, dtype=np.int64) @ x2


def quantized_all_gather_matmul(case, inputs):
    """AllGatherMatmul, quantized: x1 and x1_scale gathered in rank order; gather_out int8."""
    a = case["attributes"]
    ws = a["world_size"]
    output = a["output_dtype"]
    gathered = np.concatenate(inputs["x1"], axis=0)
    tokens = np.concatenate([decode_scale(v) for v in inputs["x1_scale"]]) if "x1_scale" in inputs else None
    outputs = {}
    for r in range(ws):
        acc = int8_matmul(gathered, inputs["x2"][r], a["x2_transposed"])
        c = dequantize(acc, decode_scale(inputs["x2_scale"][r]), tokens)
        outputs[r] = {"output": round_to_storage(c, output), "gather_out": gathered.astype("|i1")}
    return outputs


def quantized_matmul_reduce_scatter(case, inputs):
    """MatmulReduceScatter, quantized: each rank's dequantized fp32 partial, summed in fp32 in
    rank order, rounded once (the golden)."""
    a = case["attributes"]
    ws = a["world_size"]
    output = a["output_dtype"]
    partials = []
    for r in range(ws):
        acc = int8_matmul(inputs["x1"][r], inputs["x2"][r], a["x2_transposed"])
        tokens = decode_scale(inputs["x1_scale"][r]) if "x1_scale" in inputs else None
        partials.append(dequantize(acc, decode_scale(inputs["x2_scale"][r]), tokens))
    total = sum_in_rank_order(partials)
    rows = total.shape[0] // ws
    return {r: {"output": round_to_storage(total[r * rows:(r + 1) * rows], output)} for r in range(ws)}


VALIDATORS = {"agmm": agmm_violations, "aagbmm": aagbmm_violations, "mmrs": mmrs_violations,
              "bmmrs": bmmrs_violations}


def violations(case):
    """The broken constraints of a case (empty for a valid one)."""
    if case["op"] not in VALIDATORS:
        raise ValueError(f"unknown operator {case['op']!r}")
    return VALIDATORS[case["op"]](case)


# ---------------------------------------------------------------------------------------------
# Case folders
# ---------------------------------------------------------------------------------------------

def read_case(folder):
    """case.json, checked for the format version this backend understands."""
    with open(os.path.join(folder, "case.json"), encoding="utf-8") as file:
        case = json.load(file)
    if case.get("format") != FORMAT:
        raise ValueError(f"case.json format {case.get('format')}, this backend reads {FORMAT}")
    return case


def read_input(folder, case, rank, name):
    """One rank's input as stored: float16 array, uint16 bfloat16 bits, or float32 array."""
    spec = case["inputs"][name]
    raw = np.load(os.path.join(folder, f"rank{rank}", spec["file"]), allow_pickle=False)
    if raw.dtype.str != spec["npy_dtype"] or list(raw.shape) != spec["shape"]:
        raise ValueError(f"rank {rank} {spec['file']} is {raw.dtype.str}{list(raw.shape)}, "
                         f"case.json says {spec['npy_dtype']}{spec['shape']}")
    return raw


def read_inputs(folder, case):
    """Every rank's inputs: {name: [stored array per rank]}."""
    size = case["world"]["size"]
    return {name: [read_input(folder, case, r, name) for r in range(size)] for name in case["inputs"]}


def write_output(out, rank, name, array):
    """out/rank{r}/{name}.npy, C order, little-endian."""
    folder = os.path.join(out, f"rank{rank}")
    os.makedirs(folder, exist_ok=True)
    np.save(os.path.join(folder, f"{name}.npy"), np.ascontiguousarray(array), allow_pickle=False)


def write_rejection(out, message, constraints):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "rejected.json"), "w", encoding="utf-8") as file:
        json.dump({"message": message, "constraints": constraints}, file)


# ---------------------------------------------------------------------------------------------
# The operators over a simulated world
# ---------------------------------------------------------------------------------------------

def epilogue(acc, bias, dtype):
    """t = acc + bias in float32 (no add without a bias, so -0 stays -0); returns t."""
    if bias is None:
        return acc
    with np.errstate(all="ignore"):
        return (acc + bias).astype(np.float32)


def all_gather_matmul(case, inputs):
    """{rank: {name: stored array}} for a valid AllGatherMatmul case (spec section 1)."""
    if case["inputs"]["x1"]["dtype"] == "int8":
        return quantized_all_gather_matmul(case, inputs)
    a = case["attributes"]
    dtype = case["dtype"]
    ws = a["world_size"]
    gathered_raw = np.concatenate(inputs["x1"], axis=0)          # (m*ws, k), rank order
    gathered = to_float32(gathered_raw, dtype)
    x2 = np.stack([to_float32(v, dtype) for v in inputs["x2"]])  # (ws, k, n) or (ws, n, k)
    if a["x2_transposed"]:
        x2 = np.swapaxes(x2, -1, -2)
    acc = matmul_fp32(gathered[np.newaxis], x2)                   # (ws, m*ws, n)
    outputs = {}
    for r in range(ws):
        bias = to_float32(inputs["bias"][r], dtype) if "bias" in inputs else None
        rank_outputs = {"output": round_to_storage(epilogue(acc[r], bias, dtype), dtype)}
        if a["gather_output"]:
            rank_outputs["gather_out"] = gathered_raw
        outputs[r] = rank_outputs
    return outputs


def gather_y2(x_by_rank, e, ep, tp, shard):
    """y2 of EP rank e from every rank's x (raw arrays), spec section 2's layouts:

    shard 0: y2[k][s*C + c][t'*(H/tp) + h]    = x_(s,t')[e*E/ep + k][c][h]
    shard 1: y2[k][s*C + t'*(C/tp) + c][h]    = x_(s,t')[e*E/ep + k][c][h]   (EP source, then TP rank)
    """
    experts, rows, width = x_by_rank[0].shape
    local = experts // ep
    stacked = np.stack(x_by_rank).reshape(ep, tp, experts, rows, width)  # [s][t'] (rank = s*tp + t')
    mine = stacked[:, :, e * local:(e + 1) * local]                       # (s, t', k, c, h)
    if shard == 0:
        return mine.transpose(2, 0, 3, 1, 4).reshape(local, ep * rows, tp * width)
    return mine.transpose(2, 0, 1, 3, 4).reshape(local, ep * tp * rows, width)


def batch_matmul_accumulate(case, y2_raw, weight_raw):
    """float32 accumulators y2 @ weight, (..., E/ep, ep*C, M/tp); leading axes broadcast."""
    dtype = case["dtype"]
    weight = to_float32(weight_raw, dtype)
    if case["attributes"]["weight_transposed"]:
        weight = np.swapaxes(weight, -1, -2)
    return matmul_fp32(to_float32(y2_raw, dtype), weight)


def batch_matmul_outputs(case, acc, y2_raw, bias_raw):
    """{name: stored array} of one AlltoAllAllGatherBatchMatMul rank from its accumulators."""
    a = case["attributes"]
    dtype = case["dtype"]
    bias = None
    if bias_raw is not None:
        bias_dtype = case["inputs"]["bias"]["dtype"]
        bias = to_float32(bias_raw, bias_dtype).reshape(acc.shape[0], 1, acc.shape[2])
    t = epilogue(acc, bias, dtype)
    outputs = {"y1": round_to_storage(activate(a["act_type"], t), dtype)}
    if a["y2_requested"]:
        outputs["y2"] = y2_raw
    if a["y3_requested"]:
        outputs["y3"] = round_to_storage(t, dtype)
    return outputs


def alltoall_allgather_batch_matmul(case, inputs):
    """{rank: {name: stored array}} for a valid AlltoAllAllGatherBatchMatMul case (spec section 2)."""
    ep, tp = case["world"]["ep"], case["world"]["tp"]
    shard = case["attributes"]["x_shard_type"]
    y2 = [gather_y2(inputs["x"], e, ep, tp, shard) for e in range(ep)]
    # One pass over the contraction for the whole world: (ep, 1, ...) against (ep, tp, ...).
    weights = np.stack(inputs["weight"]).reshape((ep, tp) + inputs["weight"][0].shape)
    acc = batch_matmul_accumulate(case, np.stack(y2)[:, np.newaxis], weights)
    outputs = {}
    for e in range(ep):
        for t in range(tp):
            r = e * tp + t
            bias = inputs["bias"][r] if "bias" in inputs else None
            outputs[r] = batch_matmul_outputs(case, acc[e, t], y2[e], bias)
    return outputs


def matmul_partial(case, x1_raw, x2_raw, bias_raw):
    """One rank's MatmulReduceScatter partial P = x1 @ x2 (+ bias), (m, n) float32.

    The same accumulation as AllGatherMatmul's (matmul_fp32: k ascending, or BLAS with
    --accumulate blas), the rank's own bias added once in fp32 after accumulation. Batched: the
    leading axes of x1_raw / x2_raw (one per rank in the simulated world) broadcast.
    """
    dtype = case["dtype"]
    x2 = to_float32(x2_raw, dtype)
    if case["attributes"]["x2_transposed"]:
        x2 = np.swapaxes(x2, -1, -2)
    acc = matmul_fp32(to_float32(x1_raw, dtype), x2)
    bias = None
    if bias_raw is not None:
        bias = to_float32(bias_raw, dtype)[..., np.newaxis, :]  # (..., 1, n): one bias per rank
    return epilogue(acc, bias, dtype)


def sum_in_rank_order(partials):
    """((P_0 + P_1) + P_2) + ... in float32, starting from P_0 itself (as the reference does, so
    that a sum of -0s stays -0)."""
    total = np.array(partials[0], dtype=np.float32, copy=True)
    with np.errstate(all="ignore"):
        for part in partials[1:]:
            total += part
    return total


def matmul_reduce_scatter(case, inputs):
    """{rank: {name: stored array}} for a valid MatmulReduceScatter case (reduce-scatter-ops.md §7).

    Every rank s computes P_s = x1_s @ x2_s (+ bias_s) in fp32; rank r receives rows
    [r*m/ws, (r+1)*m/ws) of sum_s P_s, summed in fp32 in rank order and rounded once to T: the
    golden, bit for bit.
    """
    if case["inputs"]["x1"]["dtype"] == "int8":
        return quantized_matmul_reduce_scatter(case, inputs)
    dtype = case["dtype"]
    ws = case["attributes"]["world_size"]
    biases = np.stack(inputs["bias"]) if "bias" in inputs else None
    partials = matmul_partial(case, np.stack(inputs["x1"]), np.stack(inputs["x2"]), biases)  # (ws, m, n)
    total = sum_in_rank_order(list(partials))
    rows = total.shape[0] // ws
    return {r: {"output": round_to_storage(total[r * rows:(r + 1) * rows], dtype)} for r in range(ws)}


def expert_partial(case, x_raw, weight_raw):
    """BatchMatMulReduceScatterAlltoAll's partial x @ weight, (..., E/ep, ep*C, H) float32, no bias
    (it is added once, after the reduce-scatter). Leading axes (ranks) broadcast."""
    dtype = case["dtype"]
    weight = to_float32(weight_raw, dtype)
    if case["attributes"]["weight_transposed"]:
        weight = np.swapaxes(weight, -1, -2)
    return matmul_fp32(to_float32(x_raw, dtype), weight)


def bmmrs_share(total, t, tp, ep, shard):
    """Rank t's reduce-scatter share of one TP group's sum total (E/ep, ep*C, H)."""
    local, rows, width = total.shape
    if shard == 0:
        share = width // tp
        return total[:, :, t * share:(t + 1) * share]
    capacity = rows // ep
    share = capacity // tp
    return total.reshape(local, ep, tp, share, width)[:, :, t].reshape(local, ep * share, width)


def bias_once(case, share, bias_raw):
    """temp3 = share + bias in fp32 (no add without a bias), the bias (E/ep, W) or (E/ep, 1, W)."""
    if bias_raw is None:
        return share
    bias = to_float32(bias_raw, case["inputs"]["bias"]["dtype"]).reshape(share.shape[0], 1, share.shape[2])
    return epilogue(share, bias, case["dtype"])


def combine_all_to_all(temp3_by_source, e, ep):
    """y of EP rank e from every EP source's temp3 (E/ep, ep*rows, W) of one TP rank:
    y[s*E/ep + k][c][h] = temp3_s[k][e*rows + c][h]."""
    rows = temp3_by_source[0].shape[1] // ep
    return np.concatenate([temp3[:, e * rows:(e + 1) * rows] for temp3 in temp3_by_source], axis=0)


def batch_matmul_reduce_scatter_alltoall(case, inputs):
    """{rank: {name: stored array}} for a valid BatchMatMulReduceScatterAlltoAll case
    (reduce-scatter-ops.md section 8): each TP group's fp32 partials summed in TP rank order,
    rank (s, t) taking its share, adding its bias in fp32 and rounding once to T; the all-to-all
    over each EP group then sends expert rows e*C... to EP rank e. The golden, bit for bit."""
    a = case["attributes"]
    dtype = case["dtype"]
    ep, tp = a["ep_world_size"], a["tp_world_size"]
    shard = a["y_shard_type"]
    xs = np.stack(inputs["x"]).reshape((ep, tp) + inputs["x"][0].shape)
    weights = np.stack(inputs["weight"]).reshape((ep, tp) + inputs["weight"][0].shape)
    partials = expert_partial(case, xs, weights)                                  # (ep, tp, E/ep, ep*C, H)
    temp3 = {}
    for s in range(ep):
        total = sum_in_rank_order(list(partials[s]))
        for t in range(tp):
            bias = inputs["bias"][s * tp + t] if "bias" in inputs else None
            temp3[s, t] = round_to_storage(bias_once(case, bmmrs_share(total, t, tp, ep, shard), bias), dtype)
    return {e * tp + t: {"y": combine_all_to_all([temp3[s, t] for s in range(ep)], e, ep)}
            for e in range(ep) for t in range(tp)}


OPERATORS = {"agmm": all_gather_matmul, "aagbmm": alltoall_allgather_batch_matmul, "mmrs": matmul_reduce_scatter,
             "bmmrs": batch_matmul_reduce_scatter_alltoall}


def run_case(folder, out):
    """Runs one case folder; returns ("ok", None, None) or ("rejected", message, constraint ids)."""
    case = read_case(folder)
    broken = violations(case)
    if broken:
        message = "; ".join(f"{cid}: {detail}" for cid, detail in broken)
        ids = [cid for cid, _ in broken]
        write_rejection(out, message, ids)
        return "rejected", message, ids
    outputs = OPERATORS[case["op"]](case, read_inputs(folder, case))
    for rank, tensors in outputs.items():
        for name, array in tensors.items():
            write_output(out, rank, name, array)
    return "ok", None, None


# ---------------------------------------------------------------------------------------------
# Modes
# ---------------------------------------------------------------------------------------------

def reply(status, message=None, constraints=None, case=None):
    """Writes one reply line and flushes (the harness waits for it). `case` echoes the request's
    case folder, so that the harness can tell a late reply to an earlier request."""
    line = {"status": status}
    if case is not None:
        line["case"] = case
    if message is not None:
        line["message"] = message
    if constraints is not None:
        line["constraints"] = constraints
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def serve(run=run_case):
    """Live mode: one request per stdin line, one reply per request, until stdin closes."""
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            folder, out = request["case"], request["out"]
        except (ValueError, KeyError, TypeError) as error:
            reply("error", f"bad request line {line.strip()!r}: {error}")
            continue
        try:
            status, message, constraints = run(folder, out)
        except Exception as error:  # a bug here is the harness's "error" verdict, not a hang
            traceback.print_exc(file=sys.stderr)
            reply("error", f"{type(error).__name__}: {error}", case=folder)
            continue
        reply(status, message, constraints, case=folder)


def case_folders(paths):
    """Case folders named directly, or every case folder of an export (PATH/cases/*)."""
    for path in paths:
        if os.path.exists(os.path.join(path, "case.json")):
            yield path
        elif os.path.isdir(os.path.join(path, "cases")):
            root = os.path.join(path, "cases")
            for name in sorted(os.listdir(root)):
                if os.path.exists(os.path.join(root, name, "case.json")):
                    yield os.path.join(root, name)
        else:
            raise SystemExit(f"{path}: neither a case folder (case.json) nor an export (cases/)")


def offline(paths, run=run_case):
    """Offline mode: runs each case folder, writing FOLDER/out/. Returns the exit status."""
    failures = 0
    for folder in case_folders(paths):
        try:
            status, message, _ = run(folder, os.path.join(folder, "out"))
            print(f"{status:9} {folder}" + (f"  ({message})" if message else ""), file=sys.stderr)
        except Exception:
            failures += 1
            print(f"error     {folder}", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
    return 1 if failures else 0


def main(argv, run=run_case):
    global ACCUMULATE
    args = list(argv)
    if "--accumulate" in args:
        index = args.index("--accumulate")
        ACCUMULATE = args[index + 1]
        if ACCUMULATE not in ("sequential", "blas"):
            raise SystemExit("--accumulate takes sequential or blas")
        del args[index:index + 2]
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if args:
        return offline(args, run)
    serve(run)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
