/// One documented input constraint of a fused operator, with a stable id.
///
/// Ids are `OPERATOR-SUBJECT-RULE` (`AGMM-K-RANGE`) and never change meaning once published:
/// reports, corpora and third-party backends refer to them.
public struct Constraint: Sendable, Codable, Hashable, Identifiable {
    /// Stable id, e.g. `AGMM-K-RANGE`.
    public let id: String
    /// The operator's name, e.g. `AllGatherMatmul`.
    public let operatorName: String
    /// One line: what must hold.
    public let description: String
    /// Where it comes from: spec section and vendor document.
    public let source: String

    /// A constraint record.
    public init(id: String, operatorName: String, description: String, source: String) {
        self.id = id
        self.operatorName = operatorName
        self.description = description
        self.source = source
    }

    enum CodingKeys: String, CodingKey {
        case id
        case operatorName = "operator"
        case description
        case source
    }
}

/// A constraint a call breaks, with what exactly is wrong.
public struct ConstraintViolation: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The broken constraint.
    public let constraint: Constraint
    /// The offending values, e.g. `k = 255`.
    public let detail: String

    /// A violation record.
    public init(constraint: Constraint, detail: String) {
        self.constraint = constraint
        self.detail = detail
    }

    /// `AGMM-K-RANGE: k = 255 (k lies in [256, 65535))`.
    public var description: String { "\(constraint.id): \(detail) (\(constraint.description))" }
}

/// A constraint together with the check that finds its violations in a call of type `Call`.
///
/// A check returns nil when the constraint holds, or when a constraint it depends on is already
/// broken (a 3-D x1 has no k to range-check); otherwise the detail of the violation. Checks are
/// independent, so `violations()` reports every broken constraint, not just the first.
public struct ConstraintCheck<Call>: Sendable {
    /// The catalogue entry.
    public let constraint: Constraint
    /// Nil if the call satisfies the constraint.
    public let check: @Sendable (Call) -> String?

    /// A check for one constraint.
    public init(_ constraint: Constraint, check: @escaping @Sendable (Call) -> String?) {
        self.constraint = constraint
        self.check = check
    }
}

/// Group (communication domain) names must be non-empty and shorter than 128 bytes.
public enum GroupName {
    /// The maximum length in bytes, exclusive.
    public static let lengthLimit = 128
}
