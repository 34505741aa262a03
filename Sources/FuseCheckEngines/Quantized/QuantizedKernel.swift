import CFuseKernels
import Dispatch
import FuseCheckCore
import FuseCheckOps

/// The pipelined engine's int8 matmul: int8 x int8 -> int32 dot products over contiguous rows
/// (the right operand packed as (n, k) once), in C (`CFuseKernels`): on the `avx512` path the
/// VNNI kernel (`vpdpbusd`, 64 products per instruction) or the AVX-512BW one, both over blocks of
/// 4 rows x 4 columns; on the `avx2` path 16-bit pairs (`vpmaddwd`). Integer accumulation is
/// exact, so any order gives the reference's int32 sums, and the dequantization is the
/// reference's (`Dequantization`): the outputs are bit-identical to the golden.
public enum QuantizedKernel {
    /// int8 values of a tensor (its Float elements are int8 by the tensor's invariant), converted
    /// in C (a trapping `Int8(Float)` per element was a tenth of the quantized row's time).
    static func int8(_ tensor: Tensor) -> [Int8] {
        let count = tensor.values.count
        return [Int8](unsafeUninitializedCapacity: count) { converted, initialized in
            tensor.values.withUnsafeBufferPointer { values in
                if let from = values.baseAddress, let to = converted.baseAddress { fuse_convert_int8(from, count, to) }
            }
            initialized = count
        }
    }

    /// The logical right operand (depth x columns) packed as columns x depth, int8.
    static func packedColumns(_ right: StoredOperand) -> [Int8] {
        // Stored (n, k) is already columns x depth; stored (k, n) is transposed once, straight
        // into int8 in blocks of 64 x 64, in C (a transposed Float copy first took more time than
        // the int8 matmul on the benchmark's row; the same blocks in Swift, with a trapping
        // conversion per element, still took most of the matmul's time).
        guard !right.isTransposed else { return int8(right.tensor) }
        let shape = right.tensor.shape
        guard shape.count == 2 else { return int8(right.tensor.transposingLastTwoAxes()) }
        let (depth, columns) = (shape[0], shape[1])
        return [Int8](unsafeUninitializedCapacity: depth * columns) { packed, initialized in
            right.tensor.values.withUnsafeBufferPointer { stored in
                guard let from = stored.baseAddress, let to = packed.baseAddress else { return }
                fuse_pack_int8_columns(from, depth, columns, to)
            }
            initialized = depth * columns
        }
    }

    /// acc for rows `rows` of `left` (row-major, `depth` per row) against `columns` (n x depth),
    /// written to `acc` (rows.count x n).
    static func accumulate(left: UnsafeBufferPointer<Int8>, rows: Range<Int>, columns: UnsafeBufferPointer<Int8>,
                           depth: Int, n: Int, into acc: UnsafeMutableBufferPointer<Int32>) {
        // C (`CFuseKernels.int8_rows`, the active kernel path's best kernel for this CPU: VNNI,
        // AVX-512BW or AVX2). Integer sums are exact: the order does not matter.
        guard !rows.isEmpty, n > 0, let output = acc.baseAddress else { return }
        guard depth > 0, let a = left.baseAddress, let b = columns.baseAddress else {
            output.update(repeating: 0, count: rows.count * n)
            return
        }
        Kernels.int8Rows(a + rows.lowerBound * depth, rows.count, b, depth, n, output)
    }

    /// Runs `body(rank)` for every rank concurrently.
    static func perRank(_ ranks: Int, _ body: @Sendable (Int) -> Void) {
        DispatchQueue.concurrentPerform(iterations: ranks, execute: body)
    }
}

/// Per-rank results written from concurrent rank bodies (each rank writes only its own slot).
final class RankSlots<Element>: @unchecked Sendable {
    private var slots: [Element?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    subscript(rank: Int) -> Element {
        get { slots[rank]! }
        set { slots[rank] = newValue }
    }
}

extension AllGatherMatmulCall {
    /// The quantized path of the pipelined engine: rank r multiplies source `(r + j) % ws`'s int8
    /// x1 rows step by step (the full-mesh order), reading them where they lie, with the int8
    /// kernel, dequantizing as the golden does (`.vector`) straight into its output rows, which
    /// are then rounded in place by the kernel path's vectorized rounding. gather_out, the
    /// concatenated x1 of every rank, is built once and shared by the ranks' output tensors
    /// (copying it per rank, and widening int8 back to Float, took a fifth of the call).
    func quantizedPipelinedOutputs(inputs: WorldTensors) -> (WorldTensors, PipelineProfile) {
        let (ws, m, k, n, dtype) = (worldSize, self.m, self.k, self.n, outputDType)
        let timeline = StageTimeline(ranks: ws)
        let sources = (0..<ws).map { QuantizedKernel.int8(inputs[$0, "x1"]!) }
        let results = RankSlots<[Float]>(count: ws)
        QuantizedKernel.perRank(ws) { rank in
            let columns = QuantizedKernel.packedColumns(StoredOperand(inputs[rank, "x2"]!, isTransposed: x2Transposed))
            let channel = inputs[rank, "x2_scale"]!.values
            var acc = [Int32](repeating: 0, count: m * n)
            results[rank] = [Float](unsafeUninitializedCapacity: m * ws * n) { output, initialized in
                for step in 0..<ws {
                    let source = (rank + step) % ws
                    timeline.measure(rank, .compute) {
                        sources[source].withUnsafeBufferPointer { left in
                            columns.withUnsafeBufferPointer { right in
                                acc.withUnsafeMutableBufferPointer { accumulators in
                                    QuantizedKernel.accumulate(left: left, rows: 0..<m, columns: right, depth: k, n: n,
                                                               into: accumulators)
                                }
                            }
                        }
                        let rows = (source * m * n)..<((source + 1) * m * n)
                        let block = UnsafeMutableBufferPointer(rebasing: output[rows])
                        QuantizedKernel.dequantize(acc, rows: m, columns: n, channelScale: channel,
                                                   tokenScale: inputs[source, "x1_scale"]?.values, into: block)
                        RandomStreams.round(block, to: dtype)
                    }
                }
                initialized = m * ws * n
            }
        }
        let gathered = gatherOutput
            ? Tensor(dtype: .int8, shape: [m * ws, k], values: (0..<ws).flatMap { inputs[$0, "x1"]!.values })
            : .empty(.int8)
        var outputs = WorldTensors(rankCount: ws)
        for rank in 0..<ws {
            outputs[rank, "output"] = Tensor(dtype: dtype, shape: [m * ws, n], values: results[rank])
            outputs[rank, "gather_out"] = gathered
        }
        return (outputs, timeline.profile())
    }
}

extension QuantizedKernel {
    /// The golden's dequantization (`Dequantization.vector`) of `rows` x `columns` accumulators:
    /// `b = f32(acc) * x2s[j]`, then `b * x1s[i]` when there is a per-token scale, each in fp32,
    /// written to `output` (the same operations as `Dequantization.dequantize`, in a loop the
    /// compiler vectorizes).
    static func dequantize(_ acc: [Int32], rows: Int, columns: Int, channelScale: [Float], tokenScale: [Float]?,
                           into output: UnsafeMutableBufferPointer<Float>) {
        guard let out = output.baseAddress else { return }
        acc.withUnsafeBufferPointer { accumulators in
            channelScale.withUnsafeBufferPointer { channel in
                guard let acc = accumulators.baseAddress, let x2s = channel.baseAddress else { return }
                for i in 0..<rows {
                    let row = acc + i * columns
                    let target = out + i * columns
                    if let token = tokenScale?[i] {
                        for j in 0..<columns { target[j] = (Float(row[j]) * x2s[j]) * token }
                    } else {
                        for j in 0..<columns { target[j] = Float(row[j]) * x2s[j] }
                    }
                }
            }
        }
    }
}

extension MatmulReduceScatterCall {
    /// The quantized path of the pipelined engine: every rank's dequantized fp32 partial with the
    /// int8 kernel, then each destination sums its block of every partial in rank order in fp32
    /// and rounds once, as the golden does.
    func quantizedPipelinedOutputs(inputs: WorldTensors) -> (WorldTensors, PipelineProfile) {
        let (ws, m, k, n, dtype, blockRows) = (worldSize, self.m, self.k, self.n, outputDType, outputRows)
        let timeline = StageTimeline(ranks: ws)
        let partials = RankSlots<[Float]>(count: ws)
        QuantizedKernel.perRank(ws) { rank in
            timeline.measure(rank, .compute) {
                let left = QuantizedKernel.int8(inputs[rank, "x1"]!)
                let columns = QuantizedKernel.packedColumns(StoredOperand(inputs[rank, "x2"]!,
                                                                          isTransposed: x2Transposed))
                var acc = [Int32](repeating: 0, count: m * n)
                left.withUnsafeBufferPointer { a in
                    columns.withUnsafeBufferPointer { b in
                        acc.withUnsafeMutableBufferPointer { accumulators in
                            QuantizedKernel.accumulate(left: a, rows: 0..<m, columns: b, depth: k, n: n,
                                                       into: accumulators)
                        }
                    }
                }
                partials[rank] = dequantized(acc, rows: m, x2Scale: inputs[rank, "x2_scale"]!,
                                             x1Scale: inputs[rank, "x1_scale"], as: .vector)
            }
        }
        let blocks = RankSlots<[Float]>(count: ws)
        QuantizedKernel.perRank(ws) { destination in
            timeline.measure(destination, .communication) {
                let range = (destination * blockRows * n)..<((destination + 1) * blockRows * n)
                var sum = Array(partials[0][range])
                for source in 1..<ws {
                    let partial = partials[source]
                    for (offset, index) in range.enumerated() { sum[offset] += partial[index] }
                }
                blocks[destination] = sum.map { dtype.round($0) }
            }
        }
        var outputs = WorldTensors(rankCount: ws)
        for rank in 0..<ws {
            outputs[rank, "output"] = Tensor(dtype: dtype, shape: [blockRows, n], values: blocks[rank])
        }
        return (outputs, timeline.profile())
    }
}
