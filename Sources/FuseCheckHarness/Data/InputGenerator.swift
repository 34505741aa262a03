import FuseCheckCore
import FuseCheckOps

/// Input data as a pure function of (case, rank, tensor name).
///
/// Each tensor of each rank has its own `CounterRNG` stream keyed by the case id, the tensor's
/// name and the rank, and element i is drawn from words derived from i alone, so the data is the
/// same on every platform, in every order of generation, and differs between ranks.
public enum InputGenerator {
    /// Every rank's inputs for a case (any call shape, also invalid ones, so that backends can be
    /// given the inputs of a case they must reject). A case over `MemoryBudget.current` is refused
    /// (by `Case.makeCall()`) before anything is allocated.
    public static func inputs(for testCase: Case) throws -> WorldTensors {
        let call = try testCase.makeCall()
        let caseID = testCase.id
        var world = WorldTensors(rankCount: max(call.rankCount, 0))
        for rank in 0..<world.rankCount {
            for slot in call.inputSlots {
                let role = call.inputRole(slot.name)
                world[rank, slot.name] = tensor(caseID: caseID, mode: testCase.data, rank: rank,
                                                name: slot.name, spec: slot.spec, role: role,
                                                exact: call.exactLimits)
            }
        }
        return world
    }

    /// One tensor of one rank.
    public static func tensor(caseID: String, mode: DataMode, rank: Int, name: String, spec: TensorSpec,
                              role: InputRole, exact: ExactData.Limits? = nil) -> Tensor {
        let exact = exact ?? .standard(spec.dtype)
        let stream = CounterRNG(key: CounterRNG.key("\(caseID)/\(name)", UInt64(rank)))
        let dtype = spec.dtype
        let count = spec.elementCount
        let shape = spec.shape
        var values = [Float](repeating: 0, count: count)
        let strides = rowMajorStrides(shape)
        func coordinate(_ flat: Int, _ axis: Int) -> Int { (flat / strides[axis]) % max(shape[axis], 1) }

        for i in 0..<count {
            let index = UInt64(i) &* 4  // four words per element
            if case .scale(let perToken, let spread) = role {
                values[i] = dtype.round(QuantizedData.scale(stream: stream, index: index, mode: mode,
                                                            perToken: perToken, exactSpread: spread))
                continue
            }
            if dtype == .int8, let value = QuantizedData.int8(stream: stream, index: index, element: i, mode: mode,
                                                             role: role, rank: rank, coordinate: coordinate) {
                values[i] = value
                continue
            }
            let value: Float
            switch (mode, role) {
            case (.uniform, _), (.provenance, .right), (.provenance, .bias), (.special, .bias):
                value = 2 * stream.unit(index) - 1
            case (.normal, _):
                // Irwin–Hall: the sum of 12 uniforms has mean 6 and variance 1; sums of 24-bit
                // fractions are exact in Double, so there is no platform-dependent libm call.
                var sum = 0.0
                for j in 0..<12 {
                    let word = stream.word(UInt64(i) &* 12 &+ UInt64(j))
                    sum += Double(word >> 40) * 0x1p-24
                }
                value = Float(sum - 6)
            case (.outliers, _):
                let sign: Float = stream.word(index) & 1 == 0 ? 1 : -1
                if stream.word(index + 1) % 512 == 0 {
                    value = sign * (8 + 56 * stream.unit(index + 2))
                } else {
                    value = sign * stream.unit(index + 2) * 0x1p-10
                }
            case (.exact, .bias):
                value = Float(stream.integer(index, in: -exact.biasMagnitude...exact.biasMagnitude))
            case (.exact, .left):
                value = Float(stream.integer(index, in: -2...2))
            case (.exact, .right(let contractionAxis, let columnAxis)):
                if contractionAxis < shape.count, columnAxis < shape.count {
                    let depth = shape[contractionAxis]
                    let stride = ExactData.stride(depth: depth, terms: exact.terms)
                    let onPattern = exact.terms > 0
                        && (coordinate(i, contractionAxis) + coordinate(i, columnAxis)) % stride == 0
                    value = onPattern ? Float(stream.integer(index, in: -2...2)) : 0
                } else {
                    value = Float(stream.integer(index, in: -2...2))
                }
            case (.provenance, .left(let expertAxis, let rowAxis)):
                guard rowAxis < shape.count, expertAxis.map({ $0 < shape.count }) ?? true else {
                    value = 2 * stream.unit(index) - 1
                    break
                }
                let experts = expertAxis.map { shape[$0] } ?? 1
                let expert = expertAxis.map { coordinate(i, $0) } ?? 0
                let rows = shape[rowAxis]
                value = ProvenanceCode.value((rank * experts + expert) * rows + coordinate(i, rowAxis), dtype: dtype)
            case (.special, _), (_, .scale):
                value = special(stream: stream, index: index, dtype: dtype, isLeft: role != .bias && {
                    if case .left = role { return true } else { return false }
                }())
            }
            values[i] = dtype.round(value)
        }
        return Tensor(dtype: dtype, shape: shape, values: values)
    }

    /// The `special` mode: 4% +0, 4% -0, 6% subnormals, on the left operand 3% huge values
    /// (fp16: [2^14, 2^15), so that sums overflow fp16 to inf; bf16: about 2^100, large without
    /// overflowing fp32 in any summation order), 0.5% ±inf, 1% NaN; the rest uniform in [-1, 1).
    static func special(stream: CounterRNG, index: UInt64, dtype: DType, isLeft: Bool) -> Float {
        let pick = stream.word(index) % 1000
        let sign: Float = stream.word(index + 1) & 1 == 0 ? 1 : -1
        let fraction = stream.unit(index + 2)
        switch pick {
        case 0..<40:
            return 0
        case 40..<80:
            return -0.0
        case 80..<140:
            return sign * fraction * dtype.smallestNormal
        case 140..<170 where isLeft:
            return sign * (1 + fraction) * (dtype == .float16 ? 0x1p14 : 0x1p100)
        case 170..<175 where isLeft:
            return sign * .infinity
        case 175..<185:
            return .nan
        default:
            return 2 * fraction - 1
        }
    }
}
