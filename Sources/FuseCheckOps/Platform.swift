/// The hardware profiles whose limits the constraints encode (spec §4).
public enum Platform: String, Codable, Sendable, CaseIterable, Hashable {
    /// Atlas A2 training: AllGatherMatmul over a full mesh of 2, 4 or 8 ranks.
    case a2
    /// Atlas A3 training/inference: double ring of up to 32 ranks; both operators.
    case a3

    /// World sizes AllGatherMatmul accepts here.
    public var allGatherMatmulWorldSizes: [Int] {
        switch self {
        case .a2: [2, 4, 8]
        case .a3: [2, 4, 8, 16, 32]
        }
    }

    /// Group sizes (ep and tp, each) AlltoAllAllGatherBatchMatMul accepts here; empty where unsupported.
    public var expertParallelGroupSizes: [Int] {
        switch self {
        case .a2: []
        case .a3: [2, 4, 8, 16, 32]
        }
    }
}
