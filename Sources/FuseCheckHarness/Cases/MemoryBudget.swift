import FuseCheckCore
import FuseCheckOps
import Synchronization

/// The most tensor memory one case may take: every rank's inputs, the backend's outputs and the
/// golden outputs, as the harness holds them.
///
/// A case id can name sizes no machine holds (`m=1000000000`, `ws=99999999999999`, a shape override
/// of 10^11 x 10^11); building it would overflow `Int` or exhaust memory and kill the harness.
/// `Case.makeCall()`, the one place every entry point turns a case into a call, checks the call
/// against `MemoryBudget.current` before anything is allocated, and a case over the budget is a
/// harness error naming the budget. The estimate, with overflow checked at every step:
///
/// ```
/// bytes = ranks x (sum over inputs of size(t) + 2 x sum over outputs of size(t))
/// size(t) = 64 + 4 x elements(t)     (tensors hold Float values; 64 bytes of bookkeeping)
/// ```
///
/// Outputs count twice: the backend's and the reference's (the golden).
public struct MemoryBudget: Sendable, Hashable, CustomStringConvertible {
    /// The budget in bytes.
    public let bytes: Int

    /// A budget of `bytes` bytes (at least 0).
    public init(bytes: Int) { self.bytes = max(bytes, 0) }

    /// The default: 8 GiB of tensors for a whole case.
    public static let standard = MemoryBudget(bytes: 8 << 30)

    /// Bookkeeping charged per tensor, so that a world of millions of empty ranks is over budget too.
    public static let bytesPerTensor = 64
    /// Bytes per element as the harness holds tensors (`Tensor.values` is `[Float]`).
    public static let bytesPerElement = 4

    private static let storage = Mutex(MemoryBudget.standard)

    /// The budget every case is checked against; `standard` unless changed (the CLI's `--memory-budget`).
    public static var current: MemoryBudget {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }

    /// `8 GiB`, `1.5 MiB`, `1000 bytes`.
    public var description: String {
        for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] where bytes >= 1 << shift {
            if bytes % (1 << shift) == 0 { return "\(bytes >> shift) \(unit)" }
            return "\((Double(bytes) / Double(1 << shift) * 10).rounded() / 10) \(unit)"
        }
        return "\(bytes) bytes"
    }

    /// Parses a budget: a whole number of bytes, optionally followed by `K`, `M`, `G`, `T` (or
    /// `KiB`, `MiB`, `GiB`, `TiB`, `KB`, ...; all binary), e.g. `8GiB`, `512M`, `1073741824`.
    public init(parsing text: String) throws(CaseFormatError) {
        let trimmed = text.filter { $0 != " " && $0 != "_" }
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        let unit = trimmed.dropFirst(digits.count).lowercased()
        let shifts = ["": 0, "b": 0, "k": 10, "kb": 10, "kib": 10, "m": 20, "mb": 20, "mib": 20,
                      "g": 30, "gb": 30, "gib": 30, "t": 40, "tb": 40, "tib": 40]
        guard let number = Int(digits), let shift = shifts[unit] else {
            throw CaseFormatError("memory budget \"\(text)\" is not a size like 8GiB, 512MiB or 1073741824")
        }
        guard number <= Int.max >> shift else {
            throw CaseFormatError("memory budget \"\(text)\" does not fit a 64-bit byte count")
        }
        self.init(bytes: number << shift)
    }

    /// The bytes a call's tensors take (see the type's documentation); nil if the count overflows `Int`.
    public static func estimate(_ call: any FusedOperatorCall) -> Int? {
        var perRank = 0
        for (slots, copies) in [(call.inputSlots, 1), (call.outputSlots, 2)] {
            for slot in slots {
                guard let elements = elementCount(slot.spec.shape),
                      let bytes = multiply(elements, bytesPerElement).flatMap({ add($0, bytesPerTensor) }),
                      let charged = multiply(bytes, copies), let sum = add(perRank, charged) else { return nil }
                perRank = sum
            }
        }
        return multiply(perRank, max(call.rankCount, 0))
    }

    /// Throws a `HarnessError` naming the case and this budget if `call` does not fit in it.
    public func check(_ call: any FusedOperatorCall, caseID: String) throws(HarnessError) {
        let needed = Self.estimate(call)
        if let needed, needed <= bytes { return }
        let amount = needed.map { "\(MemoryBudget(bytes: $0)) of tensors" } ?? "more bytes of tensors than fit in Int"
        throw HarnessError("case \(caseID) is too large to run: it needs \(amount) over \(max(call.rankCount, 0)) "
            + "ranks, over the memory budget of \(self) (--memory-budget)")
    }

    /// The number of elements of a shape (a negative dimension counting as 0); nil if the product
    /// of its positive dimensions overflows, since strides are computed from them even when
    /// another dimension is 0.
    static func elementCount(_ shape: [Int]) -> Int? {
        var count = 1
        for dimension in shape where dimension > 0 {
            guard let product = multiply(count, dimension) else { return nil }
            count = product
        }
        return shape.allSatisfy { $0 > 0 } ? count : 0
    }

    private static func multiply(_ lhs: Int, _ rhs: Int) -> Int? {
        let (result, overflow) = lhs.multipliedReportingOverflow(by: rhs)
        return overflow ? nil : result
    }

    private static func add(_ lhs: Int, _ rhs: Int) -> Int? {
        let (result, overflow) = lhs.addingReportingOverflow(rhs)
        return overflow ? nil : result
    }
}
