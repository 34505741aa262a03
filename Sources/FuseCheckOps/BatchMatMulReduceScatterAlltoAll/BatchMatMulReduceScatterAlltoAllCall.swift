import FuseCheckCore

/// The parameters of MindSpeed `npu_bmm_reducescatter_alltoall` / aclnn
/// `BatchMatMulReduceScatterAlltoAll` (reduce-scatter-ops.md §8), the MoE combine step that mirrors
/// AlltoAllAllGatherBatchMatMul's dispatch.
///
/// ```
/// temp1 = BatchMatMul(x, weight);  temp2 = ReduceScatter_tp(temp1);  temp3 = temp2 + bias;  y = AllToAll_ep(temp3)
/// ```
///
/// World: ep * tp ranks, rank r = e * tp + t (ops.md §2). Per rank, with E experts, capacity C,
/// contraction width M (sharded over TP) and output width H:
///
/// | yShardType | x | weight | bias | y |
/// |---|---|---|---|---|
/// | 0 (scatter H) | (E/ep, ep*C, M/tp) | (E/ep, M/tp, H) | (E/ep, H/tp) or (E/ep, 1, H/tp) | (E, C, H/tp) |
/// | 1 (scatter C) | (E/ep, ep*C, M/tp) | (E/ep, M/tp, H) | (E/ep, H) or (E/ep, 1, H) | (E, C/tp, H) |
public struct BatchMatMulReduceScatterAlltoAllCall: FusedOperatorCall {
    public static let operatorID = OperatorID(rawValue: "bmmrs")
    public static let operatorName = "BatchMatMulReduceScatterAlltoAll"

    /// Hardware profile (A3 only).
    public var platform: Platform
    /// Expert-parallel group size (`ep_world_size`).
    public var ep: Int
    /// Tensor-parallel group size (`tp_world_size`).
    public var tp: Int
    /// Per-rank x, (E/ep, ep*C, M/tp): the local experts' tokens for every destination EP rank.
    public var x: TensorSpec
    /// Per-rank weight, logically (E/ep, M/tp, H); stored (E/ep, H, M/tp) when `weightTransposed`.
    public var weight: TensorSpec
    /// weight stored with its last two axes swapped (a transposed view).
    public var weightTransposed: Bool
    /// Optional bias: (E/ep, H/tp) or (E/ep, 1, H/tp) for shard type 0; (E/ep, H) or (E/ep, 1, H)
    /// for shard type 1. Added once, after the reduce-scatter.
    public var bias: TensorSpec?
    /// `yShardType`: 0 scatter along H, 1 along C (kept as an integer so that invalid values can be passed).
    public var yShardType: Int
    /// EP communication group name (`group_ep`).
    public var groupEp: String
    /// TP communication group name (`group_tp`).
    public var groupTp: String
    /// The dtype the caller allocated for y.
    public var outputDType: DType

    /// A call; the defaults are the vendor's.
    public init(platform: Platform = .a3, ep: Int, tp: Int, x: TensorSpec, weight: TensorSpec,
                weightTransposed: Bool = false, bias: TensorSpec? = nil, yShardType: Int,
                groupEp: String = "ep_group", groupTp: String = "tp_group", outputDType: DType? = nil) {
        self.platform = platform
        self.ep = ep
        self.tp = tp
        self.x = x
        self.weight = weight
        self.weightTransposed = weightTransposed
        self.bias = bias
        self.yShardType = yShardType
        self.groupEp = groupEp
        self.groupTp = groupTp
        self.outputDType = outputDType ?? x.dtype
    }

    /// A well-formed call from the global sizes E, C, M, H.
    ///
    /// `biasRank` is 0 (no bias), 2 or 3.
    public init(platform: Platform = .a3, dtype: DType, ep: Int, tp: Int, experts: Int, capacity: Int,
                contraction: Int, outputWidth: Int, shard: ScatterShardType, weightTransposed: Bool = false,
                biasRank: Int = 0) {
        let localExperts = experts / ep
        let depth = contraction / tp
        let x = TensorSpec(dtype, [localExperts, ep * capacity, depth])
        let weight = TensorSpec(dtype, weightTransposed ? [localExperts, outputWidth, depth]
                                                        : [localExperts, depth, outputWidth])
        let biasWidth = shard == .scatterH ? outputWidth / tp : outputWidth
        let biasDType = Self.biasDType(for: dtype)
        let bias: TensorSpec? = switch biasRank {
        case 2: TensorSpec(biasDType, [localExperts, biasWidth])
        case 3: TensorSpec(biasDType, [localExperts, 1, biasWidth])
        default: nil
        }
        self.init(platform: platform, ep: ep, tp: tp, x: x, weight: weight, weightTransposed: weightTransposed,
                  bias: bias, yShardType: shard.rawValue)
    }

    public var rankCount: Int { saturatingProduct(ep, tp) }

    /// The shard type, if valid.
    public var shard: ScatterShardType? { ScatterShardType(rawValue: yShardType) }

    /// Experts per EP rank, E/ep (x's first dimension).
    public var localExperts: Int { x.rank == 3 ? x.shape[0] : 0 }
    /// Global number of experts E = ep * (E/ep).
    public var experts: Int { saturatingProduct(localExperts, ep) }
    /// Rows of x per local expert, ep * C (x's second dimension).
    public var rows: Int { x.rank == 3 ? x.shape[1] : 0 }
    /// Capacity C = x[1] / ep (0 for an ep that divides nothing).
    public var capacity: Int { ep > 0 ? rows / ep : 0 }
    /// The contraction length per rank, M/tp (x's third dimension).
    public var localContraction: Int { x.rank == 3 ? x.shape[2] : 0 }
    /// The contraction length as the weight sees it (its logical second dimension).
    public var weightContraction: Int { weight.rank == 3 ? weight.shape[weightTransposed ? 2 : 1] : 0 }
    /// The full contraction length M = tp * (M/tp).
    public var contraction: Int { saturatingProduct(localContraction, tp) }
    /// Output width H: the weight's logical third dimension.
    public var outputWidth: Int { weight.rank == 3 ? weight.shape[weightTransposed ? 1 : 2] : 0 }
    /// The width of the bias and of y's last axis: H/tp for shard type 0, H for shard type 1.
    public var scatteredWidth: Int { yShardType == 1 ? outputWidth : (tp > 0 ? outputWidth / tp : 0) }
    /// y's rows per expert: C for shard type 0, C/tp for shard type 1.
    public var scatteredCapacity: Int { yShardType == 1 ? (tp > 0 ? capacity / tp : 0) : capacity }

    public var inputSlots: [TensorSlot] {
        var slots = [TensorSlot("x", x), TensorSlot("weight", weight)]
        if let bias { slots.append(TensorSlot("bias", bias)) }
        return slots
    }

    /// y: (E, C, H/tp) for shard type 0, (E, C/tp, H) for shard type 1; a matmul result.
    public var outputSlots: [TensorSlot] {
        [TensorSlot("y", TensorSpec(x.dtype, [experts, scatteredCapacity, scatteredWidth]), kind: .matmul)]
    }
}
