import FuseCheckCore
import FuseCheckEngines
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

    /// What is broken: a general fault, or one of an operator's own mutants.
    public enum Mutation: Sendable {
        case general(Fault)
        case ofOperator(OperatorMutant)
    }

    /// The mutation.
    public let mutation: Mutation

    /// A mutant with a general fault.
    public init(_ fault: Fault) { mutation = .general(fault) }

    /// One of an operator's own mutants.
    public init(_ mutant: OperatorMutant) { mutation = .ofOperator(mutant) }

    public var name: String {
        switch mutation {
        case .general(let fault): "mutant:\(fault.rawValue)"
        case .ofOperator(let mutant): "mutant:\(mutant.name)"
        }
    }

    /// The reference numerics with this fault, where the fault is numerical.
    var numerics: ReferenceNumerics {
        var numerics = ReferenceNumerics.golden
        guard case .general(let fault) = mutation else { return numerics }
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

    public func run(_ call: any EngineCall, inputs: WorldTensors) throws -> EngineOutcome {
        let engine = ReferenceEngine(numerics: numerics, name: name)
        let fault: Fault
        switch mutation {
        case .ofOperator(let mutant):
            guard type(of: call).operatorID == mutant.operatorID, call.isValid else {
                return try engine.run(call, inputs: inputs)
            }
            try call.checkInputs(inputs)
            return .completed(mutant.outputs(call, inputs))
        case .general(let general):
            fault = general
        }
        // Every operator of the harness is a `MutantTarget` (`HarnessCall` requires it); on a call
        // of any other operator the faults in data movement leave the reference's outputs.
        switch (fault, call as? any MutantTarget) {
        case (.rowsSwapped, let target?):
            return try engine.run(call, inputs: target.swappingFirstSources(inputs))
        case (.lastTileDropped, let target?):
            let outcome = try engine.run(call, inputs: inputs)
            guard case .completed(let outputs) = outcome else { return outcome }
            return .completed(target.droppingLastTile(outputs))
        case (.transposeIgnored, let target?):
            // Validation and the input check come first, as in every engine; the fault is in the kernel.
            guard call.isValid else { return try engine.run(call, inputs: inputs) }
            try call.checkInputs(inputs)
            guard let (misread, misreadInputs) = target.ignoringTransposition(inputs) else {
                return try engine.run(call, inputs: inputs)
            }
            return try engine.run(misread, inputs: misreadInputs)
        case (.validationSkipped, _):
            guard call.isValid else { return .completed(zeroOutputs(call)) }
            return try engine.run(call, inputs: inputs)
        default:
            return try engine.run(call, inputs: inputs)
        }
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

extension WorldTensors {
    /// `self` with the rows `firstRow ..< firstRow + rowCount` of each of `blocks` blocks of
    /// `rowsPerBlock` rows zeroed in tensor `name` of every rank (the last tile a kernel computes).
    public func zeroingRows(of name: String, blocks: Int, rowsPerBlock: Int, firstRow: Int, rowCount: Int)
        -> WorldTensors {
        var zeroed = self
        for rank in 0..<rankCount {
            guard var tensor = zeroed[rank, name], tensor.shape.count >= 2 else { continue }
            let width = tensor.shape[tensor.shape.count - 1]
            for block in 0..<blocks {
                let start = (block * rowsPerBlock + firstRow) * width
                for index in start..<(start + rowCount * width) where index < tensor.count {
                    tensor.values[index] = 0
                }
            }
            zeroed[rank, name] = tensor
        }
        return zeroed
    }

    /// `self` with tensor `name` of ranks `a` and `b` exchanged (a collective in the wrong rank order).
    public func swapping(_ name: String, ranks a: Int, _ b: Int) -> WorldTensors {
        guard a < rankCount, b < rankCount else { return self }
        var swapped = self
        swapped[a, name] = self[b, name]
        swapped[b, name] = self[a, name]
        return swapped
    }

    /// `self` with tensor `name` of every rank read as `shape` (the same memory, another layout).
    public func reinterpreting(_ name: String, as shape: [Int]) -> WorldTensors {
        var result = self
        for rank in 0..<rankCount {
            if let tensor = self[rank, name] {
                result[rank, name] = Tensor(dtype: tensor.dtype, shape: shape, values: tensor.values)
            }
        }
        return result
    }
}
