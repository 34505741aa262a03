import FuseCheckCore
import FuseCheckOps

/// The numerical choices of the reference pipeline. The defaults are the golden (spec §3); every
/// other setting is either a valid variant that the tolerance policy must pass (other summation
/// orders, fp64 accumulation, half-away casts, the vendor epilogue) or a deliberate fault that it
/// must fail (narrow accumulators, truncation, bias and activation faults, TP-major shard 1).
public struct ReferenceNumerics: Sendable, Hashable {
    /// How the k products of one output element are summed.
    public enum Accumulation: Sendable, Hashable {
        /// fp32 accumulator, one FMA per term, k ascending from +0 (the golden).
        case fp32
        /// Double accumulator, rounded to fp32 at the end (a valid variant).
        case fp64
        /// K split into this many contiguous chunks, each summed as `.fp32`, then the partial
        /// sums added in chunk order in fp32 (a valid variant: another summation order).
        case splitK(Int)
        /// The accumulator rounded to this 16-bit type after every term (a fault).
        case narrow(DType)
    }

    /// How values are rounded to the output type.
    public enum Rounding: String, Sendable, Hashable {
        /// Round to nearest, ties to even (the golden).
        case nearestEven
        /// Round to nearest, ties away from zero: the vendor's CAST_ROUND (a valid variant).
        case halfAwayFromZero
        /// Truncation (a fault).
        case towardZero

        /// Rounds a Float to `dtype`.
        public func apply(_ value: Float, _ dtype: DType) -> Float {
            switch self {
            case .nearestEven: dtype.round(value)
            case .halfAwayFromZero: dtype.roundHalfAwayFromZero(value)
            case .towardZero: dtype.roundTowardZero(value)
            }
        }

        /// Rounds a Double to `dtype` (once for nearest-even; through Float otherwise).
        public func apply(_ value: Double, _ dtype: DType) -> Float {
            self == .nearestEven ? dtype.round(value) : apply(Float(value), dtype)
        }
    }

    /// How the bias is applied.
    public enum BiasMode: String, Sendable, Hashable {
        /// Added once, in fp32, after accumulation (the golden).
        case once
        /// Not added (a fault).
        case ignored
        /// Added twice (a fault).
        case twice
    }

    /// A wrong activation (faults only).
    public enum ActivationFault: String, Sendable, Hashable {
        case none
        /// GELU computed as SiLU.
        case geluAsSilu
        /// FastGELU computed with slope 1.0 instead of 1.702.
        case fastGeluUnitSlope
    }

    /// The order of the shard-1 TP all-gather.
    public enum ShardOneOrder: String, Sendable, Hashable {
        /// EP source, then TP rank, then row (spec §2, the golden).
        case epSourceMajor
        /// TP rank first: a plain concatenation of the all-gather along dim 1 (a fault).
        case tpMajor
    }

    /// How the activation is evaluated (ideal epilogue).
    public enum ActivationEvaluation: String, Sendable, Hashable {
        /// In Double on the fp32 t, limits at ±inf, rounded once (the golden).
        case double
        /// The standard formulas in fp32 as frameworks write them, with no special case at ±inf
        /// (`ActivationType.applyStandardFloat32`): NaN at -inf for GELU and SiLU, at ±inf for
        /// FastGELU, and cancellation in the deep negative tail (a valid variant, numerics-profile P1).
        case standardFloat32
    }

    /// How subnormals are treated.
    public enum Subnormals: String, Sendable, Hashable {
        /// Gradual underflow (the golden).
        case gradual
        /// DAZ: the matmul operands and the bias read subnormals of T as zero; FTZ: the fp32
        /// accumulator and every computed output write subnormals as zero (a valid variant,
        /// numerics-profile P1: XLA on CPU, many accelerator units). Data movement is untouched.
        case flushed
    }

    public var epilogue: Epilogue
    public var accumulation: Accumulation
    public var rounding: Rounding
    public var bias: BiasMode
    public var activationFault: ActivationFault
    public var shardOneOrder: ShardOneOrder
    public var activationEvaluation: ActivationEvaluation
    public var subnormals: Subnormals
    /// How a quantized call's int32 accumulator is dequantized (quantized.md Q3).
    public var dequantization: Dequantization

    /// The golden settings, or a variant of them.
    public init(epilogue: Epilogue = .ideal, accumulation: Accumulation = .fp32, rounding: Rounding = .nearestEven,
                bias: BiasMode = .once, activationFault: ActivationFault = .none,
                shardOneOrder: ShardOneOrder = .epSourceMajor, activationEvaluation: ActivationEvaluation = .double,
                subnormals: Subnormals = .gradual, dequantization: Dequantization = .vector) {
        self.epilogue = epilogue
        self.accumulation = accumulation
        self.rounding = rounding
        self.bias = bias
        self.activationFault = activationFault
        self.shardOneOrder = shardOneOrder
        self.activationEvaluation = activationEvaluation
        self.subnormals = subnormals
        self.dequantization = dequantization
    }

    /// The golden (spec §3).
    public static let golden = ReferenceNumerics()

    /// The activation actually evaluated for `activation` under this setting.
    func evaluate(_ activation: ActivationType, _ t: Double) -> Double {
        switch (activationFault, activation) {
        case (.geluAsSilu, .gelu):
            return ActivationType.silu.apply(t)
        case (.fastGeluUnitSlope, .fastGelu):
            return ActivationType.silu.apply(t)  // x / (1 + exp(-1.0 x)) is SiLU
        default:
            switch activationEvaluation {
            case .double: return activation.apply(t)
            case .standardFloat32: return Double(activation.applyStandardFloat32(Float(t)))
            }
        }
    }

    /// The bias as this setting applies it (nil when there is none or it is ignored), read as
    /// zero when it is a subnormal of `dtype` and subnormals are flushed.
    func effectiveBias(_ value: Float?, dtype: DType) -> Float? {
        guard var value else { return nil }
        if subnormals == .flushed { value = dtype.flushingSubnormal(value) }
        switch bias {
        case .once: return value
        case .ignored: return nil
        case .twice: return value + value
        }
    }
}

extension ReferenceNumerics {
    /// A matmul operand as the multiplier reads it: subnormals of its type as zero under DAZ.
    func matmulOperand(_ tensor: Tensor) -> Tensor {
        guard subnormals == .flushed else { return tensor }
        return Tensor(dtype: tensor.dtype, shape: tensor.shape,
                      values: tensor.values.map(tensor.dtype.flushingSubnormal))
    }

    /// The same for a right operand in its storage order.
    func matmulOperand(_ operand: StoredOperand) -> StoredOperand {
        guard subnormals == .flushed else { return operand }
        return StoredOperand(matmulOperand(operand.tensor), isTransposed: operand.isTransposed)
    }

    /// fp32 accumulators as the kernel writes them: fp32 subnormals as zero under FTZ.
    func accumulators(_ values: [Float]) -> [Float] {
        guard subnormals == .flushed else { return values }
        return values.map(DType.float32.flushingSubnormal)
    }

    /// Every computed output (not data movement) with subnormals of T written as zero under FTZ.
    func writingOutputs(_ outputs: WorldTensors, slots: [TensorSlot]) -> WorldTensors {
        guard subnormals == .flushed else { return outputs }
        var flushed = outputs
        for rank in 0..<outputs.rankCount {
            for slot in slots where slot.kind?.isComputed == true {
                guard let tensor = outputs[rank, slot.name] else { continue }
                flushed[rank, slot.name] = Tensor(dtype: tensor.dtype, shape: tensor.shape,
                                                  values: tensor.values.map(tensor.dtype.flushingSubnormal))
            }
        }
        return flushed
    }
}
