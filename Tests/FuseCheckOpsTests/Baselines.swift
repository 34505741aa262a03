import FuseCheckCore
import FuseCheckOps

// The valid calls every boundary test starts from. A test changes one parameter of a baseline
// and states the exact list of constraint ids the changed call breaks.

extension FusedOperatorCall {
    /// The ids of the broken constraints, in the order `violations()` reports them.
    var violatedIDs: [String] { violations().map(\.constraint.id) }
}

extension AllGatherMatmulCall {
    /// A valid call: world size 8 (in both platforms' sets), m 4, k 256 (the smallest valid k), n 128.
    static func baseline(platform: Platform = .a2, dtype: DType = .float16, worldSize: Int = 8,
                         m: Int = 4, k: Int = 256, n: Int = 128, x2Transposed: Bool = false,
                         bias: Bool = false) -> Self {
        Self(platform: platform, dtype: dtype, worldSize: worldSize, m: m, k: k, n: n,
             x2Transposed: x2Transposed, bias: bias)
    }
}

extension AlltoAllAllGatherBatchMatMulCall {
    /// A valid call on A3: ep 2, tp 2, E 8, C 4, H 256, M 128, GELU, no bias.
    static func baseline(shard: ShardType = .gatherH, dtype: DType = .float16,
                         activation: ActivationType = .gelu, weightTransposed: Bool = false,
                         biasRank: Int = 0) -> Self {
        Self(dtype: dtype, ep: 2, tp: 2, experts: 8, capacity: 4, hidden: 256, outputWidth: 128,
             shard: shard, activation: activation, weightTransposed: weightTransposed, biasRank: biasRank)
    }

    /// A call given by its per-rank dimensions, so that each can be set on its own.
    ///
    /// `x` is `(experts, rows, xLast)` and the logical weight `(localExperts, hidden, columns)`.
    /// By default `localExperts` is `experts / ep` and `xLast` is `hidden / tp` (shard 0) or
    /// `hidden` (shard 1), i.e. the relations hold unless a test overrides them.
    static func shaped(shard: ShardType = .gatherH, ep: Int = 2, tp: Int = 2, experts: Int = 8,
                       localExperts: Int? = nil, rows: Int = 4, hidden: Int = 256, xLast: Int? = nil,
                       columns: Int = 64, weightTransposed: Bool = false,
                       bias: TensorSpec? = nil) -> Self {
        let x = TensorSpec(.float16, [experts, rows, xLast ?? (shard == .gatherH ? hidden / tp : hidden)])
        let local = localExperts ?? experts / ep
        let weight = TensorSpec(.float16, weightTransposed ? [local, columns, hidden] : [local, hidden, columns])
        return Self(ep: ep, tp: tp, x: x, weight: weight, weightTransposed: weightTransposed, bias: bias,
                    xShardType: shard.rawValue, actType: ActivationType.gelu.rawValue)
    }
}

/// A string of exactly `bytes` UTF-8 bytes made of `unit` repeated, padded with ASCII `a`.
func groupName(bytes: Int, repeating unit: String = "g") -> String {
    let unitBytes = unit.utf8.count
    let name = String(repeating: unit, count: bytes / unitBytes) + String(repeating: "a", count: bytes % unitBytes)
    precondition(name.utf8.count == bytes)
    return name
}
