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
        let values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            let elements = ElementFill(buffer: UnsafeMutableBufferPointer(rebasing: buffer[0..<count]), stream: stream,
                                       dtype: dtype)
            if case .scale(let perToken, let spread) = role {
                elements.fill { i in
                    QuantizedData.scale(stream: stream, index: ElementFill.index(i), mode: mode, perToken: perToken,
                                        exactSpread: spread)
                }
            } else if dtype == .int8, mode != .exact {
                // int8 operands have modes of their own (QuantizedData.int8 answers every mode but
                // exact, whose small integers are the same as for floating-point operands).
                for i in 0..<count {
                    guard let value = QuantizedData.int8(stream: stream, index: ElementFill.index(i), element: i,
                                                         mode: mode, role: role, rank: rank,
                                                         coordinate: coordinate) else {
                        preconditionFailure("QuantizedData.int8 has no value for \(mode)")
                    }
                    buffer[i] = value
                }
            } else {
                draw(elements, mode: mode, role: role, rank: rank, shape: shape, exact: exact)
            }
            initialized = count
        }
        return Tensor(dtype: dtype, shape: shape, values: values)
    }

    /// The floating-point modes (and exact integers of any type): each draws every element of
    /// `elements` and rounds it.
    private static func draw(_ elements: ElementFill, mode: DataMode, role: InputRole, rank: Int, shape: [Int],
                             exact: ExactData.Limits) {
        let (dtype, strides) = (elements.dtype, rowMajorStrides(shape))
        switch (mode, role) {
        case (.uniform, _), (.provenance, .right), (.provenance, .bias), (.special, .bias):
            elements.uniform()
        case (.normal, _):
            elements.normal()
        case (.outliers, _):
            elements.fillWords(3) { signWord, pick, fractionWord in
                let sign: Float = signWord & 1 == 0 ? 1 : -1
                let fraction = CounterRNG.unit(ofWord: fractionWord)
                return pick % 512 == 0 ? sign * (8 + 56 * fraction) : sign * fraction * 0x1p-10
            }
        case (.exact, .bias):
            let magnitude = exact.biasMagnitude
            elements.fillWords(1) { word, _, _ in Float(CounterRNG.integer(ofWord: word, in: -magnitude...magnitude)) }
        case (.exact, .left):
            elements.fillWords(1) { word, _, _ in Float(CounterRNG.integer(ofWord: word, in: -2...2)) }
        case (.exact, .right(let contractionAxis, let columnAxis)):
            guard contractionAxis < shape.count, columnAxis < shape.count else {
                elements.fillWords(1) { word, _, _ in Float(CounterRNG.integer(ofWord: word, in: -2...2)) }
                return
            }
            let stride = ExactData.stride(depth: shape[contractionAxis], terms: exact.terms)
            var depthAxis = AxisCounter(strides: strides, shape: shape, axis: contractionAxis)
            var column = AxisCounter(strides: strides, shape: shape, axis: columnAxis)
            elements.fillWords(1) { word, _, _ in
                let onPattern = exact.terms > 0 && (depthAxis.next() + column.next()) % stride == 0
                return onPattern ? Float(CounterRNG.integer(ofWord: word, in: -2...2)) : 0
            }
        case (.provenance, .left(let expertAxis, let rowAxis)):
            guard rowAxis < shape.count, expertAxis.map({ $0 < shape.count }) ?? true else {
                elements.uniform()
                return
            }
            let experts = expertAxis.map { shape[$0] } ?? 1
            let rows = shape[rowAxis]
            var expert = expertAxis.map { AxisCounter(strides: strides, shape: shape, axis: $0) }
            var row = AxisCounter(strides: strides, shape: shape, axis: rowAxis)
            elements.fill { _ in
                ProvenanceCode.value((rank * experts + (expert?.next() ?? 0)) * rows + row.next(), dtype: dtype)
            }
        case (.special, _), (_, .scale):
            let isLeft: Bool
            if case .left = role { isLeft = true } else { isLeft = false }
            elements.fillWords(3) { pick, signWord, fractionWord in
                special(pick: pick, signWord: signWord, fractionWord: fractionWord, dtype: dtype, isLeft: isLeft)
            }
        }
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
