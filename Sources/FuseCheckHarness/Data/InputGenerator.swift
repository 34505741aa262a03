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
                RandomStreams.round(UnsafeMutableBufferPointer(rebasing: buffer[0..<count]), to: dtype)
            }
            // Four words per element.
            @inline(__always) func index(_ i: Int) -> UInt64 { UInt64(i) &* 4 }
            // Element i from its words 4i, 4i + 1 and 4i + 2 (the first `wordCount` of them, the
            // others 0), drawn in bulk per chunk of elements (`RandomStreams.words`, vectorized),
            // then rounded. `value` sees the elements in order, once each.
            @inline(__always) func fillWords(_ wordCount: Int, _ value: (UInt64, UInt64, UInt64) -> Float) {
                let chunk = min(count, 2048)
                var words = [UInt64](repeating: 0, count: 3 * chunk)
                words.withUnsafeMutableBufferPointer { words in
                    var start = 0
                    while start < count {
                        let n = min(chunk, count - start)
                        for j in 0..<wordCount {
                            let part = UnsafeMutableBufferPointer(rebasing: words[(j * chunk)..<(j * chunk + n)])
                            RandomStreams.words(key: stream.key, first: index(start) &+ UInt64(j), step: 4, into: part)
                        }
                        for i in 0..<n {
                            buffer[start + i] = value(words[i], words[chunk + i], words[2 * chunk + i])
                        }
                        start += n
                    }
                }
                RandomStreams.round(UnsafeMutableBufferPointer(rebasing: buffer[0..<count]), to: dtype)
            }
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
                RandomStreams.round(values, to: dtype)
            case (.normal, _):
                let values = UnsafeMutableBufferPointer(rebasing: buffer[0..<count])
                RandomStreams.normal(key: stream.key, firstElement: 0, into: values)
                RandomStreams.round(values, to: dtype)
            case (.outliers, _):
                fillWords(3) { signWord, pick, fractionWord in
                    let sign: Float = signWord & 1 == 0 ? 1 : -1
                    let fraction = CounterRNG.unit(ofWord: fractionWord)
                    return pick % 512 == 0 ? sign * (8 + 56 * fraction) : sign * fraction * 0x1p-10
                }
            case (.exact, .bias):
                let magnitude = exact.biasMagnitude
                fillWords(1) { word, _, _ in Float(CounterRNG.integer(ofWord: word, in: -magnitude...magnitude)) }
            case (.exact, .left):
                fillWords(1) { word, _, _ in Float(CounterRNG.integer(ofWord: word, in: -2...2)) }
            case (.exact, .right(let contractionAxis, let columnAxis)):
                if contractionAxis < shape.count, columnAxis < shape.count {
                    let depth = shape[contractionAxis]
                    let stride = ExactData.stride(depth: depth, terms: exact.terms)
                    var depthAxis = AxisCounter(strides: strides, shape: shape, axis: contractionAxis)
                    var column = AxisCounter(strides: strides, shape: shape, axis: columnAxis)
                    fillWords(1) { word, _, _ in
                        let onPattern = exact.terms > 0 && (depthAxis.next() + column.next()) % stride == 0
                        return onPattern ? Float(CounterRNG.integer(ofWord: word, in: -2...2)) : 0
                    }
                } else {
                    fillWords(1) { word, _, _ in Float(CounterRNG.integer(ofWord: word, in: -2...2)) }
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
                fillWords(3) { pick, signWord, fractionWord in
                    special(pick: pick, signWord: signWord, fractionWord: fractionWord, dtype: dtype, isLeft: isLeft)
                }
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
    /// Element i comes from its words 4i (`pick`), 4i + 1 (`signWord`) and 4i + 2 (`fractionWord`).
    static func special(pick pickWord: UInt64, signWord: UInt64, fractionWord: UInt64, dtype: DType,
                        isLeft: Bool) -> Float {
        let pick = pickWord % 1000
        let sign: Float = signWord & 1 == 0 ? 1 : -1
        let fraction = CounterRNG.unit(ofWord: fractionWord)
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
