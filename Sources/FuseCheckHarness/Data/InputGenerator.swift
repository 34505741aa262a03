import FuseCheckCore
import FuseCheckEngines
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
        let strides = rowMajorStrides(shape)
        func coordinate(_ flat: Int, _ axis: Int) -> Int { (flat / strides[axis]) % max(shape[axis], 1) }
        // The mode is chosen once per tensor, not per element; element i's value depends on i alone.
        // Each mode's loop writes raw values and one pass rounds them to the dtype (`DType.round`
        // over the buffer): the type is not switched on per element. Measured on the fuzzer's
        // stream, generation was 17% of its CPU with a rounding call per element.
        let values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            @inline(__always) func fill(_ value: (Int) -> Float) {
                for i in 0..<count { buffer[i] = value(i) }
                dtype.round(UnsafeMutableBufferPointer(rebasing: buffer[0..<count]))
            }
            // Four words per element.
            @inline(__always) func index(_ i: Int) -> UInt64 { UInt64(i) &* 4 }
            if case .scale(let perToken, let spread) = role {
                fill { i in
                    QuantizedData.scale(stream: stream, index: index(i), mode: mode, perToken: perToken,
                                        exactSpread: spread)
                }
                initialized = count
                return
            }
            // int8 operands have modes of their own (QuantizedData.int8 answers every mode but exact,
            // whose small integers are the same as for floating-point operands).
            if dtype == .int8, mode != .exact {
                for i in 0..<count {
                    guard let value = QuantizedData.int8(stream: stream, index: index(i), element: i, mode: mode,
                                                         role: role, rank: rank, coordinate: coordinate) else {
                        preconditionFailure("QuantizedData.int8 has no value for \(mode)")
                    }
                    buffer[i] = value
                }
                initialized = count
                return
            }
            switch (mode, role) {
            case (.uniform, _), (.provenance, .right), (.provenance, .bias), (.special, .bias):
                // 2 * unit(4i) - 1, vectorized (`RandomStreams`).
                let values = UnsafeMutableBufferPointer(rebasing: buffer[0..<count])
                RandomStreams.uniform(key: stream.key, first: 0, step: 4, into: values)
                dtype.round(values)
            case (.normal, _):
                let values = UnsafeMutableBufferPointer(rebasing: buffer[0..<count])
                RandomStreams.normal(key: stream.key, firstElement: 0, into: values)
                dtype.round(values)
            case (.outliers, _):
                fill { i in
                    let sign: Float = stream.word(index(i)) & 1 == 0 ? 1 : -1
                    if stream.word(index(i) + 1) % 512 == 0 { return sign * (8 + 56 * stream.unit(index(i) + 2)) }
                    return sign * stream.unit(index(i) + 2) * 0x1p-10
                }
            case (.exact, .bias):
                fill { i in Float(stream.integer(index(i), in: -exact.biasMagnitude...exact.biasMagnitude)) }
            case (.exact, .left):
                fill { i in Float(stream.integer(index(i), in: -2...2)) }
            case (.exact, .right(let contractionAxis, let columnAxis)):
                if contractionAxis < shape.count, columnAxis < shape.count {
                    let depth = shape[contractionAxis]
                    let stride = ExactData.stride(depth: depth, terms: exact.terms)
                    var depthAxis = AxisCounter(strides: strides, shape: shape, axis: contractionAxis)
                    var column = AxisCounter(strides: strides, shape: shape, axis: columnAxis)
                    fill { i in
                        let onPattern = exact.terms > 0 && (depthAxis.next() + column.next()) % stride == 0
                        return onPattern ? Float(stream.integer(index(i), in: -2...2)) : 0
                    }
                } else {
                    fill { i in Float(stream.integer(index(i), in: -2...2)) }
                }
            case (.provenance, .left(let expertAxis, let rowAxis)):
                guard rowAxis < shape.count, expertAxis.map({ $0 < shape.count }) ?? true else {
                    fill { i in 2 * stream.unit(index(i)) - 1 }
                    break
                }
                let experts = expertAxis.map { shape[$0] } ?? 1
                let rows = shape[rowAxis]
                var expert = expertAxis.map { AxisCounter(strides: strides, shape: shape, axis: $0) }
                var row = AxisCounter(strides: strides, shape: shape, axis: rowAxis)
                fill { _ in
                    let source = (rank * experts + (expert?.next() ?? 0)) * rows + row.next()
                    return ProvenanceCode.value(source, dtype: dtype)
                }
            case (.special, _), (_, .scale):
                let isLeft: Bool
                if case .left = role { isLeft = true } else { isLeft = false }
                fill { i in special(stream: stream, index: index(i), dtype: dtype, isLeft: isLeft) }
            }
            initialized = count
        }
        return Tensor(dtype: dtype, shape: shape, values: values)
    }

    /// The `normal` mode's element i (the definition `RandomStreams.normal` computes in bulk, and
    /// what the tests compare it with): Irwin–Hall, the sum of 12 uniforms (words 12i to 12i + 11),
    /// which has mean 6 and variance 1. Each uniform is a 24-bit fraction, so the sum is exact as
    /// an integer count of 2^-24 and in Double: no platform-dependent libm call, and no rounding
    /// before the final one to Float. Word 12i + j is `mix64(key + (12i + j + 1) * gamma)`; the
    /// argument steps by gamma from one word to the next.
    public static func normal(stream: CounterRNG, element i: Int) -> Float {
        var argument = stream.key &+ (UInt64(i) &* 12 &+ 1) &* CounterRNG.gamma
        var sum: UInt64 = 0
        for _ in 0..<12 {
            sum &+= CounterRNG.mix64(argument) >> 40
            argument &+= CounterRNG.gamma
        }
        return Float(Double(sum) * 0x1p-24 - 6)
    }

    /// The `special` mode: 4% +0, 4% -0, 6% subnormals, on the left operand 3% huge values
    /// (fp16: [2^14, 2^15), so that sums overflow fp16 to inf; bf16: about 2^100, large without
    /// overflowing fp32 in any summation order), 0.5% ±inf, 1% NaN; the rest uniform in [-1, 1).
    static func special(stream: CounterRNG, index: UInt64, dtype: DType, isLeft: Bool) -> Float {
        // Words index + 1 (the sign) and index + 2 (the fraction) are drawn only where the value
        // uses them: most elements take the uniform default, which needs no sign.
        let pick = stream.word(index) % 1000
        var sign: Float { stream.word(index + 1) & 1 == 0 ? 1 : -1 }
        var fraction: Float { stream.unit(index + 2) }
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

/// One axis's coordinate of consecutive row-major elements 0, 1, 2, ...: `(i / stride) % extent`
/// without the two divisions per element (they were the input generator's largest cost in
/// the exact and provenance modes). `fill` draws elements in order, once each.
private struct AxisCounter {
    private let stride: Int
    private let extent: Int
    private var withinStride = 0
    private var coordinate = 0

    init(strides: [Int], shape: [Int], axis: Int) {
        stride = max(strides[axis], 1)
        extent = max(shape[axis], 1)
    }

    /// The current element's coordinate; then steps to the next element.
    mutating func next() -> Int {
        let current = coordinate
        withinStride += 1
        if withinStride == stride {
            withinStride = 0
            coordinate += 1
            if coordinate == extent { coordinate = 0 }
        }
        return current
    }
}
