#!/usr/bin/env python3
"""FuseCheck example backend with real collectives: one MPI process per rank.

For each case this launcher starts `mpirun -n WORLD python3 mpi_backend.py --rank CASE OUT`.
Every rank process reads only its own inputs (rank{r}/*.npy), moves data with real MPI
collectives (mpi4py over Open MPI), computes its matmul in NumPy and writes only its own
outputs (out/rank{r}/*.npy):

    AllGatherMatmul                Allgather of x1 over the world, then gather_out @ x2_r (+ bias)
    AlltoAllAllGatherBatchMatMul   Alltoall of x over the EP group (ranks with the same t),
                                   Allgather over the TP group (ranks with the same e), then
                                   y2 @ weight (+ bias) and the activation
    MatmulReduceScatter            the fp32 partial x1_r @ x2_r (+ bias_r), then
                                   Reduce_scatter_block (MPI.SUM) of the partials over the world,
                                   rank r receiving row block r, rounded once to T
    BatchMatMulReduceScatterAlltoAll
                                   the fp32 partial x_r @ weight_r, Reduce_scatter_block (MPI.SUM)
                                   over the TP group (ranks with the same e), the bias, one
                                   rounding to T, then Alltoall over the EP group (same t)

Rank r has coordinates (e, t) = divmod(r, tp). Validation, numerics and file handling are
numpy_backend.py's (invalid cases are rejected by the launcher without starting MPI).
MatmulReduceScatter's and BatchMatMulReduceScatterAlltoAll's cross-rank sums are MPI's: their
order is the MPI library's, not the golden's rank order, so outputs may differ from the reference
in the last bits (the harness's tolerance covers any cross-rank summation order).

Usage:
    mpi_backend.py                    live mode (JSON Lines on stdin/stdout)
    mpi_backend.py FOLDER...          offline mode over case folders or an export

Environment:
    FUSECHECK_MPIRUN        the launcher (default: mpirun)
    FUSECHECK_MPIRUN_ARGS   extra launcher arguments (default: --oversubscribe, since worlds of
                            up to 64 ranks run on small machines)
As root, OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 are set for Open MPI.
"""

import os
import shlex
import subprocess
import sys
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy_backend as nb  # noqa: E402

MPIRUN = os.environ.get("FUSECHECK_MPIRUN", "mpirun")
MPIRUN_ARGS = shlex.split(os.environ.get("FUSECHECK_MPIRUN_ARGS", "--oversubscribe"))


# ---------------------------------------------------------------------------------------------
# The launcher
# ---------------------------------------------------------------------------------------------

def launch(folder, out):
    """Runs one case folder; returns ("ok", None, None) or ("rejected", message, ids)."""
    case = nb.read_case(folder)
    broken = nb.violations(case)
    if broken:
        message = "; ".join(f"{cid}: {detail}" for cid, detail in broken)
        ids = [cid for cid, _ in broken]
        nb.write_rejection(out, message, ids)
        return "rejected", message, ids
    environment = dict(os.environ)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        environment.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        environment.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    command = [MPIRUN, *MPIRUN_ARGS, "-n", str(case["world"]["size"]),
               sys.executable, os.path.abspath(__file__), "--rank", "--accumulate", nb.ACCUMULATE, folder, out]
    # stdin from /dev/null: mpirun forwards its stdin to rank 0, and ours carries the protocol.
    # stdout to our stderr: our stdout carries nothing but reply lines.
    finished = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=sys.stderr, stderr=sys.stderr,
                              env=environment, check=False)
    if finished.returncode != 0:
        raise RuntimeError(f"{shlex.join(command[:4])} ... exited with status {finished.returncode}")
    return "ok", None, None


# ---------------------------------------------------------------------------------------------
# One rank, under mpirun
# ---------------------------------------------------------------------------------------------

def as_bits(array):
    """A 16-bit array (float16 or bfloat16 bits) as contiguous uint16, for MPI."""
    return np.ascontiguousarray(array).view(np.uint16)


def quantized_all_gather_matmul_rank(comm, folder, case, out):
    """AllGatherMatmul, quantized (quantized.md Q3): x1 (int8) and x1_scale (fp32) gathered with
    real MPI all-gathers in rank order; exact int8 matmul, the golden's fp32 dequantization."""
    rank, ws = comm.Get_rank(), comm.Get_size()
    a = case["attributes"]
    x1 = np.ascontiguousarray(nb.read_input(folder, case, rank, "x1"))
    gathered = np.empty((ws,) + x1.shape, dtype=np.int8)
    comm.Allgather(x1, gathered)
    gather_out = gathered.reshape(ws * x1.shape[0], x1.shape[1])
    tokens = None
    if "x1_scale" in case["inputs"]:
        local = np.ascontiguousarray(nb.decode_scale(nb.read_input(folder, case, rank, "x1_scale")))
        tokens = np.empty((ws,) + local.shape, dtype=np.float32)
        comm.Allgather(local, tokens)
        tokens = tokens.reshape(-1)
    acc = nb.int8_matmul(gather_out, nb.read_input(folder, case, rank, "x2"), a["x2_transposed"])
    c = nb.dequantize(acc, nb.decode_scale(nb.read_input(folder, case, rank, "x2_scale")), tokens)
    nb.write_output(out, rank, "output", nb.round_to_storage(c, a["output_dtype"]))
    nb.write_output(out, rank, "gather_out", gather_out.astype("|i1"))


def quantized_matmul_reduce_scatter_rank(comm, folder, case, out):
    """MatmulReduceScatter, quantized: this rank's dequantized fp32 partial, a real fp32
    reduce-scatter (the MPI library's order, within the tolerance), one rounding to T."""
    from mpi4py import MPI

    rank, ws = comm.Get_rank(), comm.Get_size()
    a = case["attributes"]
    acc = nb.int8_matmul(nb.read_input(folder, case, rank, "x1"), nb.read_input(folder, case, rank, "x2"),
                         a["x2_transposed"])
    tokens = nb.decode_scale(nb.read_input(folder, case, rank, "x1_scale")) if "x1_scale" in case["inputs"] else None
    partial = np.ascontiguousarray(
        nb.dequantize(acc, nb.decode_scale(nb.read_input(folder, case, rank, "x2_scale")), tokens), dtype=np.float32)
    rows = partial.shape[0] // ws
    block = np.empty((rows, partial.shape[1]), dtype=np.float32)
    comm.Reduce_scatter_block([partial, MPI.FLOAT], [block, MPI.FLOAT], op=MPI.SUM)
    nb.write_output(out, rank, "output", nb.round_to_storage(block, a["output_dtype"]))


def all_gather_matmul_rank(comm, folder, case, out):
    if case["inputs"]["x1"]["dtype"] == "int8":
        return quantized_all_gather_matmul_rank(comm, folder, case, out)
    rank, ws = comm.Get_rank(), comm.Get_size()
    a = case["attributes"]
    dtype = case["dtype"]
    x1 = nb.read_input(folder, case, rank, "x1")
    gathered = np.empty((ws,) + x1.shape, dtype=np.uint16)
    comm.Allgather(as_bits(x1), gathered)
    gather_out = gathered.reshape(ws * x1.shape[0], x1.shape[1]).view(x1.dtype)  # rank order
    x2 = nb.to_float32(nb.read_input(folder, case, rank, "x2"), dtype)
    if a["x2_transposed"]:
        x2 = x2.T
    acc = nb.matmul_fp32(nb.to_float32(gather_out, dtype), x2)
    bias = nb.to_float32(nb.read_input(folder, case, rank, "bias"), dtype) if a["bias"] else None
    nb.write_output(out, rank, "output", nb.round_to_storage(nb.epilogue(acc, bias, dtype), dtype))
    if a["gather_output"]:
        nb.write_output(out, rank, "gather_out", gather_out)


def alltoall_allgather_batch_matmul_rank(comm, folder, case, out):
    rank = comm.Get_rank()
    ep, tp = case["world"]["ep"], case["world"]["tp"]
    e, t = divmod(rank, tp)
    shard = case["attributes"]["x_shard_type"]
    ep_group = comm.Split(color=t, key=e)  # the ranks (s, t) for every s; our rank in it is e
    tp_group = comm.Split(color=e, key=t)  # the ranks (e, t') for every t'; our rank in it is t

    x = nb.read_input(folder, case, rank, "x")
    experts, rows, width = x.shape
    local = experts // ep
    # AllToAll over EP: chunk j of x (experts [j*E/ep, (j+1)*E/ep)) goes to EP rank j.
    received = np.empty((ep, local, rows, width), dtype=np.uint16)  # [s][k][c][h]
    ep_group.Alltoall(as_bits(x), received)
    x1 = np.ascontiguousarray(received.transpose(1, 0, 2, 3)).reshape(local, ep * rows, width)  # [k][s*rows + c][h]
    # AllGather over TP.
    gathered = np.empty((tp, local, ep, rows, width), dtype=np.uint16)  # [t'][k][s][c][h]
    tp_group.Allgather(x1, gathered)
    if shard == 0:   # y2[k][s*C + c][t'*(H/tp) + h]
        y2 = gathered.transpose(1, 2, 3, 0, 4).reshape(local, ep * rows, tp * width)
    else:            # y2[k][s*C + t'*(C/tp) + c][h]: EP source, then TP rank, then the C/tp rows
        y2 = gathered.transpose(1, 2, 0, 3, 4).reshape(local, ep * tp * rows, width)
    y2 = np.ascontiguousarray(y2).view(x.dtype)

    acc = nb.batch_matmul_accumulate(case, y2, nb.read_input(folder, case, rank, "weight"))
    bias = nb.read_input(folder, case, rank, "bias") if case["attributes"]["bias"] else None
    for name, array in nb.batch_matmul_outputs(case, acc, y2, bias).items():
        nb.write_output(out, rank, name, array)
    ep_group.Free()
    tp_group.Free()


def matmul_reduce_scatter_rank(comm, folder, case, out):
    """MatmulReduceScatter on one rank: the fp32 partial, a real reduce-scatter, one rounding.

    Reduce_scatter_block splits the contiguous (m, n) send buffer into ws blocks of m/ws rows,
    block r going to rank r: exactly the spec's row blocks. The summation order is the MPI
    library's, not the golden's rank order ((P_0 + P_1) + P_2) + ...: Open MPI picks an
    algorithm by message size and world size (recursive halving or doubling, butterfly, reduce
    then scatter), e.g. (P_0 + P_1) + (P_2 + P_3) on 4 ranks. So the result may differ from the
    reference in the last bits. That is allowed: the harness's tolerance covers any cross-rank
    summation order (reduce-scatter-ops.md section 7). On integer-valued data (every partial and
    partial sum exact in fp32) every order gives the same bits.
    """
    from mpi4py import MPI

    if case["inputs"]["x1"]["dtype"] == "int8":
        return quantized_matmul_reduce_scatter_rank(comm, folder, case, out)
    rank, ws = comm.Get_rank(), comm.Get_size()
    dtype = case["dtype"]
    bias = nb.read_input(folder, case, rank, "bias") if case["attributes"]["bias"] else None
    partial = nb.matmul_partial(case, nb.read_input(folder, case, rank, "x1"),
                                nb.read_input(folder, case, rank, "x2"), bias)
    partial = np.ascontiguousarray(partial, dtype=np.float32)  # (m, n)
    rows = partial.shape[0] // ws
    block = np.empty((rows, partial.shape[1]), dtype=np.float32)
    comm.Reduce_scatter_block([partial, MPI.FLOAT], [block, MPI.FLOAT], op=MPI.SUM)
    nb.write_output(out, rank, "output", nb.round_to_storage(block, dtype))


def batch_matmul_reduce_scatter_alltoall_rank(comm, folder, case, out):
    """BatchMatMulReduceScatterAlltoAll on rank (s, t) (reduce-scatter-ops.md section 8).

    The fp32 partial (E/ep, ep*C, H) is laid out as tp contiguous shares, share t' being TP rank
    t''s (shard 0: columns t'*(H/tp)...; shard 1: rows e*C + t'*(C/tp) + c of every EP block e),
    and reduced with Reduce_scatter_block over the TP group: a real reduce-scatter, summing in the
    MPI library's order (see matmul_reduce_scatter_rank). The rank adds its bias in fp32, rounds
    once to T, and the Alltoall over the EP group sends rows [e*rows, (e+1)*rows) of every local
    expert to EP rank e, which stores source s's experts as global experts s*E/ep + k.
    """
    from mpi4py import MPI

    rank = comm.Get_rank()
    a = case["attributes"]
    dtype = case["dtype"]
    ep, tp = a["ep_world_size"], a["tp_world_size"]
    s, t = divmod(rank, tp)
    shard = a["y_shard_type"]
    tp_group = comm.Split(color=s, key=t)  # the ranks (s, t') for every t'; our rank in it is t
    ep_group = comm.Split(color=t, key=s)  # the ranks (e, t) for every e; our rank in it is s

    partial = nb.expert_partial(case, nb.read_input(folder, case, rank, "x"),
                                nb.read_input(folder, case, rank, "weight"))  # (E/ep, ep*C, H)
    local, rows, width = partial.shape
    if shard == 0:   # send[t'][k][e*C + c][h] = partial[k][e*C + c][t'*(H/tp) + h]
        send = partial.reshape(local, rows, tp, width // tp).transpose(2, 0, 1, 3)
        share_shape = (local, rows, width // tp)
    else:            # send[t'][k][e][c][h] = partial[k][e*C + t'*(C/tp) + c][h]
        share_rows = rows // ep // tp
        send = partial.reshape(local, ep, tp, share_rows, width).transpose(2, 0, 1, 3, 4)
        share_shape = (local, ep * share_rows, width)
    send = np.ascontiguousarray(send, dtype=np.float32)
    share = np.empty(share_shape, dtype=np.float32)
    tp_group.Reduce_scatter_block([send, MPI.FLOAT], [share, MPI.FLOAT], op=MPI.SUM)

    bias = nb.read_input(folder, case, rank, "bias") if a["bias"] else None
    temp3 = nb.round_to_storage(nb.bias_once(case, share, bias), dtype)  # (E/ep, ep*rows_out, W)
    rows_out = temp3.shape[1] // ep
    # Alltoall over EP: chunk e (every local expert's rows [e*rows_out, (e+1)*rows_out)) to EP rank e.
    chunks = np.ascontiguousarray(as_bits(temp3).reshape(local, ep, rows_out, temp3.shape[2]).transpose(1, 0, 2, 3))
    received = np.empty_like(chunks)  # [s'][k][c][h] from EP source s'
    ep_group.Alltoall(chunks, received)
    y = received.reshape(ep * local, rows_out, temp3.shape[2]).view(temp3.dtype)
    nb.write_output(out, rank, "y", y)
    tp_group.Free()
    ep_group.Free()


def rank_main(folder, out):
    from mpi4py import MPI  # only the rank processes need MPI

    comm = MPI.COMM_WORLD
    try:
        case = nb.read_case(folder)
        if comm.Get_size() != case["world"]["size"]:
            raise RuntimeError(f"{comm.Get_size()} MPI processes for a world of {case['world']['size']}")
        if case["op"] == "agmm":
            all_gather_matmul_rank(comm, folder, case, out)
        elif case["op"] == "aagbmm":
            alltoall_allgather_batch_matmul_rank(comm, folder, case, out)
        elif case["op"] == "mmrs":
            matmul_reduce_scatter_rank(comm, folder, case, out)
        elif case["op"] == "bmmrs":
            batch_matmul_reduce_scatter_alltoall_rank(comm, folder, case, out)
        else:
            raise ValueError(f"unknown operator {case['op']!r}")
    except Exception:
        traceback.print_exc(file=sys.stderr)
        sys.stderr.flush()
        comm.Abort(1)
    comm.Barrier()
    return 0


def main(argv):
    args = list(argv)
    if args and args[0] == "--rank":
        args = args[1:]
        if args[:1] == ["--accumulate"]:
            nb.ACCUMULATE = args[1]
            args = args[2:]
        return rank_main(args[0], args[1])
    return nb.main(args, run=launch)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
