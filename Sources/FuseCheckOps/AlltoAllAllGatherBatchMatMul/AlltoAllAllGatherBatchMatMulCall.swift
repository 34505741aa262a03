import FuseCheckCore

/// The parameters of aclnn `AlltoAllAllGatherBatchMatMul` (spec §2).
///
/// ```
/// x1 = AllToAll_ep(x);  y2 = AllGather_tp(x1);  y3 = BatchMatMul(y2, weight) + bias;  y1 = act(y3)
/// ```
///
/// World: ep * tp ranks, rank r = e * tp + t.
public struct AlltoAllAllGatherBatchMatMulCall: FusedOperatorCall {
    public static let operatorID = OperatorID(rawValue: "aagbmm")
    public static let operatorName = "AlltoAllAllGatherBatchMatMul"

    /// Hardware profile (A3 only).
    public var platform: Platform
    /// Expert-parallel group size.
    public var ep: Int
    /// Tensor-parallel group size.
    public var tp: Int
    /// Per-rank x: (E, C, H/tp) for shard type 0, (E, C/tp, H) for shard type 1.
    public var x: TensorSpec
    /// Per-rank weight, logically (E/ep, H, M/tp); stored (E/ep, M/tp, H) when `weightTransposed`.
    public var weight: TensorSpec
    /// weight stored with its last two axes swapped.
    public var weightTransposed: Bool
    /// Optional bias, (E/ep, M/tp) or (E/ep, 1, M/tp).
    public var bias: TensorSpec?
    /// `xShardType`: 0 gather along H, 1 along C (kept as an integer so that invalid values can be passed).
    public var xShardType: Int
    /// `actType`: 0...4 valid (kept as an integer so that invalid values can be passed).
    public var actType: Int
    /// EP communication group name.
    public var groupEp: String
    /// TP communication group name.
    public var groupTp: String
    /// Whether y2 (the gathered activations) is requested.
    public var y2Requested: Bool
    /// Whether y3 (the pre-activation BMM result) is requested.
    public var y3Requested: Bool
    /// The dtype the caller allocated for the outputs.
    public var outputDType: DType

    /// A call; the defaults are the vendor's.
    public init(platform: Platform = .a3, ep: Int, tp: Int, x: TensorSpec, weight: TensorSpec,
                weightTransposed: Bool = false, bias: TensorSpec? = nil, xShardType: Int, actType: Int,
                groupEp: String = "ep_group", groupTp: String = "tp_group",
                y2Requested: Bool = false, y3Requested: Bool = false, outputDType: DType? = nil) {
        self.platform = platform
        self.ep = ep
        self.tp = tp
        self.x = x
        self.weight = weight
        self.weightTransposed = weightTransposed
        self.bias = bias
        self.xShardType = xShardType
        self.actType = actType
        self.groupEp = groupEp
        self.groupTp = groupTp
        self.y2Requested = y2Requested
        self.y3Requested = y3Requested
        self.outputDType = outputDType ?? x.dtype
    }

    /// A well-formed call from the global sizes E, C, H, M.
    ///
    /// `biasRank` is 0 (no bias), 2 or 3.
    public init(platform: Platform = .a3, dtype: DType, ep: Int, tp: Int, experts: Int, capacity: Int,
                hidden: Int, outputWidth: Int, shard: ShardType, activation: ActivationType,
                weightTransposed: Bool = false, biasRank: Int = 0,
                y2Requested: Bool = false, y3Requested: Bool = false) {
        let localExperts = experts / ep
        let columns = outputWidth / tp
        let x = shard == .gatherH
            ? TensorSpec(dtype, [experts, capacity, hidden / tp])
            : TensorSpec(dtype, [experts, capacity / tp, hidden])
        let weight = TensorSpec(dtype, weightTransposed ? [localExperts, columns, hidden]
                                                        : [localExperts, hidden, columns])
        let biasDType = Self.biasDType(for: dtype)
        let bias: TensorSpec? = switch biasRank {
        case 2: TensorSpec(biasDType, [localExperts, columns])
        case 3: TensorSpec(biasDType, [localExperts, 1, columns])
        default: nil
        }
        self.init(platform: platform, ep: ep, tp: tp, x: x, weight: weight, weightTransposed: weightTransposed,
                  bias: bias, xShardType: shard.rawValue, actType: activation.rawValue,
                  y2Requested: y2Requested, y3Requested: y3Requested)
    }

    public var rankCount: Int { saturatingProduct(ep, tp) }

    /// The shard type, if valid.
    public var shard: ShardType? { ShardType(rawValue: xShardType) }
    /// The activation, if valid.
    public var activation: ActivationType? { ActivationType(rawValue: actType) }

    /// Global number of experts E (x's first dimension).
    public var experts: Int { x.rank == 3 ? x.shape[0] : 0 }
    /// Experts per EP rank, E/ep (weight's first dimension).
    public var localExperts: Int { weight.rank == 3 ? weight.shape[0] : 0 }
    /// Capacity C: x's second dimension, times tp for shard type 1.
    public var capacity: Int { x.rank == 3 ? saturatingProduct(x.shape[1], xShardType == 1 ? tp : 1) : 0 }
    /// Rows of x per rank along the capacity axis (C or C/tp).
    public var localCapacity: Int { x.rank == 3 ? x.shape[1] : 0 }
    /// Hidden size H: the contraction length, weight's logical second dimension.
    public var hidden: Int { weight.rank == 3 ? weight.shape[weightTransposed ? 2 : 1] : 0 }
    /// Output columns per rank, M/tp: weight's logical third dimension.
    public var localOutputWidth: Int { weight.rank == 3 ? weight.shape[weightTransposed ? 1 : 2] : 0 }

    public var inputSlots: [TensorSlot] {
        var slots = [TensorSlot("x", x), TensorSlot("weight", weight)]
        if let bias { slots.append(TensorSlot("bias", bias)) }
        return slots
    }

    /// y1 (E/ep, ep*C, M/tp); y2 (E/ep, ep*C, H) and y3 (E/ep, ep*C, M/tp) when requested, else `[0]`.
    public var outputSlots: [TensorSlot] {
        let dtype = x.dtype
        let rows = saturatingProduct(ep, capacity)
        let y3Produced = y3Requested && actType != 0
        return [
            TensorSlot("y1", TensorSpec(dtype, [localExperts, rows, localOutputWidth]),
                       kind: activation.map { $0 == .none ? .matmul : .activated($0) } ?? .matmul),
            TensorSlot("y2", TensorSpec(dtype, y2Requested ? [localExperts, rows, hidden] : [0]),
                       kind: .dataMovement),
            TensorSlot("y3", TensorSpec(dtype, y3Produced ? [localExperts, rows, localOutputWidth] : [0]),
                       kind: .matmul),
        ]
    }
}
