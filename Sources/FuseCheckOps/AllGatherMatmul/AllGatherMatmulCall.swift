import FuseCheckCore

/// The parameters of `npu_all_gather_base_mm` / aclnn `AllGatherMatmul` (spec §1).
///
/// ```
/// gather_out = concat over ranks r of x1_r          (m*ws, k), rank order
/// output_r   = gather_out @ x2_r (+ bias)           (m*ws, n), dtype of x1
/// ```
///
/// Quantized (comm_mode "aiv", quantized.md Q2, Q3): x1 and x2 int8, the x1_scale gathered with
/// x1 in rank order, `output_r[i][j] = round_T((f32(acc) * x2s_r[j]) * x1s_(i / m)[i mod m])`.
public struct AllGatherMatmulCall: QuantizableMatmulCall {
    public static let operatorID = OperatorID(rawValue: "agmm")
    public static let operatorName = "AllGatherMatmul"

    /// Hardware profile.
    public var platform: Platform
    /// Number of ranks in the group (`world_size`).
    public var worldSize: Int
    /// The local shard of the left operand, (m, k).
    public var x1: TensorSpec
    /// The right operand, logically (k, n); stored (n, k) when `x2Transposed`.
    public var x2: TensorSpec
    /// x1 may not arrive transposed; kept so that the constraint can be exercised.
    public var x1Transposed: Bool
    /// x2 stored as (n, k).
    public var x2Transposed: Bool
    /// Optional bias, (n).
    public var bias: TensorSpec?
    /// The dtype the caller allocated for `output`.
    public var outputDType: DType
    /// 0 gathers x1; 1 (gather x2) is not supported.
    public var gatherIndex: Int
    /// Whether gather_out is produced; when false it is the empty tensor.
    public var gatherOutput: Bool
    /// Communication/compute turn; only 0 is supported.
    public var commTurn: Int
    /// The communication group name (`hcom`).
    public var group: String
    /// `comm_mode`: nil (left out), "ai_cpu", "aiv" (quantized.md Q1), or a string to reject.
    public var commMode: String?
    /// Per-token scale of this rank's x1 rows, (m, 1) fp32 (quantized.md Q2); optional.
    public var x1Scale: TensorSpec?
    /// Per-channel scale of this rank's own x2, (1, n) fp32 or int64 (packed); makes the call quantized.
    public var x2Scale: TensorSpec?

    /// A call; the defaults are the vendor's.
    public init(platform: Platform, worldSize: Int, x1: TensorSpec, x2: TensorSpec,
                x1Transposed: Bool = false, x2Transposed: Bool = false, bias: TensorSpec? = nil,
                outputDType: DType? = nil, gatherIndex: Int = 0, gatherOutput: Bool = true,
                commTurn: Int = 0, group: String = "hcom_group",
                commMode: String? = nil, x1Scale: TensorSpec? = nil, x2Scale: TensorSpec? = nil) {
        self.platform = platform
        self.worldSize = worldSize
        self.x1 = x1
        self.x2 = x2
        self.x1Transposed = x1Transposed
        self.x2Transposed = x2Transposed
        self.bias = bias
        self.outputDType = outputDType ?? x1.dtype
        self.gatherIndex = gatherIndex
        self.gatherOutput = gatherOutput
        self.commTurn = commTurn
        self.group = group
        self.commMode = commMode
        self.x1Scale = x1Scale
        self.x2Scale = x2Scale
    }

    /// A well-formed call from the logical sizes.
    public init(platform: Platform, dtype: DType, worldSize: Int, m: Int, k: Int, n: Int,
                x2Transposed: Bool = false, bias: Bool = false, gatherOutput: Bool = true) {
        self.init(platform: platform, worldSize: worldSize,
                  x1: TensorSpec(dtype, [m, k]),
                  x2: TensorSpec(dtype, x2Transposed ? [n, k] : [k, n]),
                  x2Transposed: x2Transposed,
                  bias: bias ? TensorSpec(dtype, [n]) : nil,
                  gatherOutput: gatherOutput)
    }

    public var rankCount: Int { worldSize }

    /// Rows of x1 per rank (x1's first dimension, 0 if x1 is not 2-D).
    public var m: Int { x1.rank == 2 ? x1.shape[0] : 0 }
    /// The contraction length as x1 sees it.
    public var k: Int { x1.rank == 2 ? x1.shape[1] : 0 }
    /// The contraction length as x2 sees it (logical rows of x2).
    public var x2K: Int { x2.rank == 2 ? x2.shape[x2Transposed ? 1 : 0] : 0 }
    /// Output columns (logical columns of x2).
    public var n: Int { x2.rank == 2 ? x2.shape[x2Transposed ? 0 : 1] : 0 }

    public var inputSlots: [TensorSlot] {
        var slots = [TensorSlot("x1", x1), TensorSlot("x2", x2)]
        if let bias { slots.append(TensorSlot("bias", bias)) }
        return slots + scaleSlots
    }

    /// `output` (m*ws, n) and `gather_out` (m*ws, k), or `[0]` when gather_output is false.
    /// gather_out has x1's dtype (int8 when quantized); output the matmul output dtype.
    public var outputSlots: [TensorSlot] {
        let dtype = x1.dtype
        return [
            TensorSlot("output", TensorSpec(matmulOutputDType, [saturatingProduct(m, worldSize), n]), kind: .matmul),
            TensorSlot("gather_out", TensorSpec(dtype, gatherOutput ? [saturatingProduct(m, worldSize), k] : [0]),
                       kind: .dataMovement),
        ]
    }
}
