import FuseCheckCore

/// A short, stable operator id used in case ids and file names (`agmm`, `aagbmm`).
public struct OperatorID: RawRepresentable, Codable, Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
    public static func < (lhs: OperatorID, rhs: OperatorID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// What an output is, which decides how it is compared. The fact a comparison needs (which
/// activation) travels in the kind, so no comparison has to ask the call for it.
public enum OutputKind: Hashable, Sendable {
    /// A copy of input elements (gather_out, y2): compared bit for bit.
    case dataMovement
    /// A matmul result rounded to the output dtype (output, y3, y1 without activation).
    case matmul
    /// An activation applied to a matmul result (y1 with actType != 0).
    case activated(ActivationType)

    /// Whether the output is a matmul result, activated or not.
    public var isComputed: Bool { self != .dataMovement }

    /// The activation applied, `.none` for data movement and plain matmuls.
    public var activation: ActivationType {
        if case .activated(let activation) = self { return activation }
        return .none
    }
}

/// A named tensor slot of a call: an input or an output, the same spec on every rank.
public struct TensorSlot: Sendable, Hashable {
    /// The name used in files and reports (`x1`, `gather_out`, `y2`).
    public let name: String
    /// Dtype and per-rank shape.
    public let spec: TensorSpec
    /// For outputs, how the output is produced; nil for inputs.
    public let kind: OutputKind?

    /// A slot.
    public init(_ name: String, _ spec: TensorSpec, kind: OutputKind? = nil) {
        self.name = name
        self.spec = spec
        self.kind = kind
    }
}

/// The parameters of one call of a fused operator, as every rank of the world passes them.
///
/// One conforming type per operator; adding an operator means adding a type (with its
/// constraint checks) beside the others and listing it in `OperatorCatalogue.operators`.
public protocol FusedOperatorCall: Sendable, Codable, Hashable {
    /// The operator's short id.
    static var operatorID: OperatorID { get }
    /// The operator's vendor name (`AllGatherMatmul`).
    static var operatorName: String { get }
    /// Every constraint of the operator with its check, in catalogue order.
    static var checks: [ConstraintCheck<Self>] { get }

    /// The hardware profile.
    var platform: Platform { get }
    /// Number of ranks taking part.
    var rankCount: Int { get }
    /// The per-rank input tensors, in a fixed order; an absent optional input is left out.
    var inputSlots: [TensorSlot] { get }
    /// The per-rank outputs (requires a valid call); an unrequested output is an empty tensor.
    var outputSlots: [TensorSlot] { get }
}

extension FusedOperatorCall {
    /// A catalogue entry of this operator with its check.
    static func entry(_ id: String, _ description: String, _ source: String,
                      _ check: @escaping @Sendable (Self) -> String?) -> ConstraintCheck<Self> {
        ConstraintCheck(Constraint(id: id, operatorName: operatorName, description: description, source: source),
                        check: check)
    }

    /// The two entries of a communicator name (`ID-EMPTY`, `ID-LENGTH`): not empty, shorter than
    /// `GroupName.lengthLimit` bytes (counted in UTF-8, as the vendor's C strings are).
    static func groupNameEntries(_ id: String, subject: String, label: String, source: String,
                                 _ name: @escaping @Sendable (Self) -> String) -> [ConstraintCheck<Self>] {
        [
            entry("\(id)-EMPTY", "\(subject) is not empty", source) { call in
                name(call).isEmpty ? "\(label) is empty" : nil
            },
            entry("\(id)-LENGTH", "\(subject) is shorter than 128 bytes", source) { call in
                name(call).utf8.count < GroupName.lengthLimit ? nil : "\(label) is \(name(call).utf8.count) bytes"
            },
        ]
    }

    /// The catalogue entries of this operator.
    public static var constraints: [Constraint] { checks.map(\.constraint) }

    /// Every constraint the call breaks, in catalogue order; empty for a valid call.
    public func violations() -> [ConstraintViolation] {
        Self.checks.compactMap { entry in
            entry.check(self).map { ConstraintViolation(constraint: entry.constraint, detail: $0) }
        }
    }

    /// Whether the call satisfies every constraint.
    public var isValid: Bool { violations().isEmpty }
}

/// The registry of operators: the single list the harness iterates over.
public enum OperatorCatalogue {
    /// Every operator FuseCheck knows.
    public static let operators: [any FusedOperatorCall.Type] = [
        AllGatherMatmulCall.self,
        AlltoAllAllGatherBatchMatMulCall.self,
        MatmulReduceScatterCall.self,
        BatchMatMulReduceScatterAlltoAllCall.self,
    ]

    /// Every constraint of every operator.
    public static var constraints: [Constraint] { operators.flatMap { $0.constraints } }

    /// The constraint with this id, if any.
    public static func constraint(id: String) -> Constraint? { constraints.first { $0.id == id } }
}
