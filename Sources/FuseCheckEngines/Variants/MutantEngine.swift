import FuseCheckCore
import FuseCheckOps

/// A deliberately broken implementation: each fault is a bug real fused kernels have had. The
/// harness must catch every one of them (`fusecheck selftest`).
public struct MutantEngine: Engine {
    /// The faults.
    public enum Fault: String, Sendable, CaseIterable {
        /// The accumulator is fp16.
        case fp16Accumulation = "fp16-accumulation"
        /// The accumulator is bf16.
        case bf16Accumulation = "bf16-accumulation"
        /// Two ranks' rows are exchanged (rank order wrong in the gather / all-to-all).
        case rowsSwapped = "rows-swapped"
        /// The rows of the last tile are never computed (left zero).
        case lastTileDropped = "last-tile-dropped"
        /// The bias is not added.
        case biasIgnored = "bias-ignored"
        /// The bias is added twice.
        case biasTwice = "bias-twice"
        /// GELU is computed as SiLU.
        case geluAsSilu = "gelu-as-silu"
        /// FastGELU with slope 1.0 instead of 1.702.
        case fastGeluUnitSlope = "fastgelu-slope-1"
        /// The shard-1 all-gather concatenates TP-major.
        case shardOneTPMajor = "shard1-tp-major"
        /// The transposed flag of x2 / weight is ignored: memory is read as if not transposed.
        case transposeIgnored = "transpose-ignored"
        /// Outputs rounded by truncation instead of to nearest.
        case truncation
        /// Invalid calls are not rejected.
        case validationSkipped = "validation-skipped"
    }

    /// The fault.
    public let fault: Fault

    public init(_ fault: Fault) { self.fault = fault }

    public var name: String { "mutant:\(fault.rawValue)" }

    /// The reference numerics with this fault, where the fault is numerical.
    var numerics: ReferenceNumerics {
        var numerics = ReferenceNumerics.golden
        switch fault {
        case .fp16Accumulation: numerics.accumulation = .narrow(.float16)
        case .bf16Accumulation: numerics.accumulation = .narrow(.bfloat16)
        case .biasIgnored: numerics.bias = .ignored
        case .biasTwice: numerics.bias = .twice
        case .geluAsSilu: numerics.activationFault = .geluAsSilu
        case .fastGeluUnitSlope: numerics.activationFault = .fastGeluUnitSlope
        case .shardOneTPMajor: numerics.shardOneOrder = .tpMajor
        case .truncation: numerics.rounding = .towardZero
        case .rowsSwapped, .lastTileDropped, .transposeIgnored, .validationSkipped: break
        }
        return numerics
    }

    public func run(_ call: any FusedOperatorCall, inputs: WorldTensors) throws -> EngineOutcome {
        let engine = ReferenceEngine(numerics: numerics, name: name)
        switch fault {
        case .rowsSwapped:
            return try engine.run(call, inputs: swappingFirstSources(call, inputs))
        case .lastTileDropped:
            guard case .completed(let outputs) = try engine.run(call, inputs: inputs) else {
                return try engine.run(call, inputs: inputs)
            }
            return .completed(droppingLastTile(call, outputs))
        case .transposeIgnored:
            // Validation and the input check come first, as in every engine; the fault is in the kernel.
            guard call.isValid else { return try engine.run(call, inputs: inputs) }
            try call.checkInputs(inputs)
            let (misread, misreadInputs) = ignoringTransposition(call, inputs)
            return try engine.run(misread, inputs: misreadInputs)
        case .validationSkipped:
            guard call.isValid else { return .completed(zeroOutputs(call)) }
            return try engine.run(call, inputs: inputs)
        default:
            return try engine.run(call, inputs: inputs)
        }
    }

    /// Exchanges the gathered input of the first two source ranks (x1 of ranks 0 and 1; x of
    /// EP ranks 0 and 1 at TP rank 0).
    private func swappingFirstSources(_ call: any FusedOperatorCall, _ inputs: WorldTensors) -> WorldTensors {
        var swapped = inputs
        if call is AllGatherMatmulCall, inputs.rankCount >= 2 {
            swapped[0, "x1"] = inputs[1, "x1"]
            swapped[1, "x1"] = inputs[0, "x1"]
        } else if let call = call as? AlltoAllAllGatherBatchMatMulCall, call.ep >= 2 {
            swapped[0, "x"] = inputs[call.tp, "x"]
            swapped[call.tp, "x"] = inputs[0, "x"]
        }
        return swapped
    }

    /// Zeroes the output rows that come from the last source rank: the tile a pipelined kernel
    /// computes last.
    private func droppingLastTile(_ call: any FusedOperatorCall, _ outputs: WorldTensors) -> WorldTensors {
        var dropped = outputs
        func zero(_ name: String, rank: Int, blocks: Int, rowsPerBlock: Int, firstRow: Int, rowCount: Int) {
            guard var tensor = dropped[rank, name], tensor.shape.count >= 2 else { return }
            let width = tensor.shape[tensor.shape.count - 1]
            for block in 0..<blocks {
                let start = (block * rowsPerBlock + firstRow) * width
                for index in start..<(start + rowCount * width) where index < tensor.count {
                    tensor.values[index] = 0
                }
            }
            dropped[rank, name] = tensor
        }
        for rank in 0..<outputs.rankCount {
            if let call = call as? AllGatherMatmulCall {
                zero("output", rank: rank, blocks: 1, rowsPerBlock: 0, firstRow: (call.worldSize - 1) * call.m,
                     rowCount: call.m)
            } else if let call = call as? AlltoAllAllGatherBatchMatMulCall {
                let rows = call.ep * call.capacity
                for name in ["y1", "y3"] {
                    zero(name, rank: rank, blocks: call.localExperts, rowsPerBlock: rows,
                         firstRow: (call.ep - 1) * call.capacity, rowCount: call.capacity)
                }
            }
        }
        return dropped
    }

    /// The call and inputs as a kernel that ignores the transposed flag sees them: the same
    /// memory, read as if it were laid out (k, n).
    private func ignoringTransposition(_ call: any FusedOperatorCall,
                                       _ inputs: WorldTensors) -> (any FusedOperatorCall, WorldTensors) {
        var misreadInputs = inputs
        func reinterpret(_ name: String, as shape: [Int]) {
            for rank in 0..<inputs.rankCount {
                if let tensor = inputs[rank, name] {
                    misreadInputs[rank, name] = Tensor(dtype: tensor.dtype, shape: shape, values: tensor.values)
                }
            }
        }
        if var agmm = call as? AllGatherMatmulCall, agmm.x2Transposed {
            let logical = [agmm.k, agmm.n]
            agmm.x2Transposed = false
            agmm.x2 = TensorSpec(agmm.x2.dtype, logical)
            reinterpret("x2", as: logical)
            return (agmm, misreadInputs)
        }
        if var aagbmm = call as? AlltoAllAllGatherBatchMatMulCall, aagbmm.weightTransposed {
            let logical = [aagbmm.localExperts, aagbmm.hidden, aagbmm.localOutputWidth]
            aagbmm.weightTransposed = false
            aagbmm.weight = TensorSpec(aagbmm.weight.dtype, logical)
            reinterpret("weight", as: logical)
            return (aagbmm, misreadInputs)
        }
        return (call, inputs)
    }

    /// Zero tensors of the output shapes, as far as the (invalid) call defines them.
    private func zeroOutputs(_ call: any FusedOperatorCall) -> WorldTensors {
        var outputs = WorldTensors(rankCount: max(0, min(call.rankCount, 4096)))
        for rank in 0..<outputs.rankCount {
            for slot in call.outputSlots {
                let shape = slot.spec.shape.map { max(0, $0) }
                let count = shape.reduce(1, *)
                outputs[rank, slot.name] = count <= 1 << 20 ? Tensor(zeros: slot.spec.dtype, shape: shape)
                                                            : Tensor.empty(slot.spec.dtype)
            }
        }
        return outputs
    }
}
