/// The activations of AlltoAllAllGatherBatchMatMul (`actType`, spec §2).
///
/// 5...7 (GEGLU, SWIGLU, REGLU) exist in the vendor enum and are rejected.
public enum ActivationType: Int, Codable, Sendable, CaseIterable {
    case none = 0
    case gelu = 1
    case silu = 2
    case relu = 3
    case fastGelu = 4

    /// The name used in case ids and reports.
    public var name: String {
        switch self {
        case .none: "none"
        case .gelu: "gelu"
        case .silu: "silu"
        case .relu: "relu"
        case .fastGelu: "fastgelu"
        }
    }
}

/// How x is sharded across the TP group, i.e. along which axis the TP all-gather runs.
public enum ShardType: Int, Codable, Sendable, CaseIterable {
    /// x is (E, C, H/tp); the all-gather runs along H.
    case gatherH = 0
    /// x is (E, C/tp, H); the all-gather runs along C, EP-source-major then TP rank.
    case gatherC = 1
}
