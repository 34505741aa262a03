import FuseCheckCore
import Testing

/// One of the two 16-bit element types under test, seen through the operations the suites
/// check, next to the format parameters (`BinaryFormat`) its results are checked against.
struct SixteenBitType: Sendable, CustomTestStringConvertible {
    let name: String
    let format: BinaryFormat
    let dtype: DType
    /// Exact widening to Float.
    let widen: @Sendable (UInt16) -> Float
    /// The type's own NaN predicate.
    let isNaN: @Sendable (UInt16) -> Bool
    /// The type's own subnormal classification.
    let isSubnormal: @Sendable (UInt16) -> Bool
    /// Float -> 16 bits, nearest, ties to even.
    let fromFloat: @Sendable (Float) -> UInt16
    /// Float -> 16 bits, nearest, ties away from zero.
    let fromFloatHalfAway: @Sendable (Float) -> UInt16
    /// Double -> 16 bits, nearest, ties to even, one rounding.
    let fromDouble: @Sendable (Double) -> UInt16

    var testDescription: String { name }

    /// The rounding of a Float under a tie break, by the code under test.
    func round(_ value: Float, _ tieBreak: BinaryFormat.TieBreak) -> UInt16 {
        switch tieBreak {
        case .toEven: fromFloat(value)
        case .awayFromZero: fromFloatHalfAway(value)
        }
    }

    /// The same rounding through the `DType` helpers, widened back to Float.
    func roundThroughDType(_ value: Float, _ tieBreak: BinaryFormat.TieBreak) -> Float {
        switch tieBreak {
        case .toEven: dtype.round(value)
        case .awayFromZero: dtype.roundHalfAwayFromZero(value)
        }
    }

    static let float16 = SixteenBitType(
        name: "Float16",
        format: .binary16,
        dtype: .float16,
        widen: { Float(Float16(bitPattern: $0)) },
        isNaN: { Float16(bitPattern: $0).isNaN },
        isSubnormal: { Float16(bitPattern: $0).isSubnormal },
        fromFloat: { Float16($0).bitPattern },
        fromFloatHalfAway: { Float16(roundingHalfAwayFromZero: $0).bitPattern },
        fromDouble: { Float16($0).bitPattern }
    )

    static let bfloat16 = SixteenBitType(
        name: "BFloat16",
        format: .bfloat16,
        dtype: .bfloat16,
        widen: { BFloat16(bitPattern: $0).floatValue },
        isNaN: { BFloat16(bitPattern: $0).isNaN },
        // bf16 shares binary32's exponent range, so its subnormals widen to Float subnormals.
        isSubnormal: { BFloat16(bitPattern: $0).floatValue.isSubnormal },
        fromFloat: { BFloat16($0).bitPattern },
        fromFloatHalfAway: { BFloat16(roundingHalfAwayFromZero: $0).bitPattern },
        fromDouble: { BFloat16($0).bitPattern }
    )

    static let all: [SixteenBitType] = [.float16, .bfloat16]
}

/// Counts mismatches and keeps the first few, so an exhaustive loop reports one failure that
/// names the cases rather than tens of thousands.
struct MismatchLog: CustomStringConvertible {
    private(set) var count = 0
    private(set) var examples: [String] = []
    private let keep: Int

    init(keep: Int = 5) { self.keep = keep }

    var isEmpty: Bool { count == 0 }

    mutating func record(_ message: @autoclosure () -> String) {
        count += 1
        if examples.count < keep { examples.append(message()) }
    }

    var description: String {
        isEmpty ? "no mismatches" : "\(count) mismatch(es); first: " + examples.joined(separator: "; ")
    }
}

/// `0x3c00`: a 16-bit pattern in fixed-width hex.
func hex(_ pattern: UInt16) -> String { "0x" + padded(String(pattern, radix: 16), to: 4) }

/// `0x3f800000`: a 32-bit pattern in fixed-width hex.
func hex(_ pattern: UInt32) -> String { "0x" + padded(String(pattern, radix: 16), to: 8) }

/// `0x3ff0000000000000`: a 64-bit pattern in fixed-width hex.
func hex(_ pattern: UInt64) -> String { "0x" + padded(String(pattern, radix: 16), to: 16) }

/// A Float as its bits and its value, for failure messages.
func describe(_ value: Float) -> String { "\(hex(value.bitPattern)) (\(value))" }

/// A Double as its bits and its value, for failure messages.
func describe(_ value: Double) -> String { "\(hex(value.bitPattern)) (\(value))" }

private func padded(_ digits: String, to width: Int) -> String {
    String(repeating: "0", count: max(0, width - digits.count)) + digits
}

/// A small deterministic generator (SplitMix64), so sampled cases are the same on every run.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
