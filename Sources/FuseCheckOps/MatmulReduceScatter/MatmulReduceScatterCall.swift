import FuseCheckCore

/// The parameters of `npu_mm_reduce_scatter_base` / aclnn `MatmulReduceScatter` (spec §7).
///
/// Every rank r holds its own x1_r (m, k) and x2_r (k, n), a k-shard of the row-parallel weight:
///
/// ```
/// P_s      = x1_s @ x2_s (+ bias_s)                          (m, n), on every rank s
/// output_r = rows [r*m/ws, (r+1)*m/ws) of Σ_s P_s            (m/ws, n), dtype of x1
/// ```
///
/// With comm_mode "aiv" and int8 operands (quantized.md Q2, Q3) every rank dequantizes its own
/// partial with its own scales, `D_s = (f32(acc_s) * x2s_s[j]) * x1s_s[i]` in fp32, and the
/// golden sums the D_s in fp32 in rank order and rounds once to T.
public struct MatmulReduceScatterCall: QuantizableMatmulCall {
    public static let operatorID = OperatorID(rawValue: "mmrs")
    public static let operatorName = "MatmulReduceScatter"

    /// Hardware profile.
    public var platform: Platform
    /// Number of ranks in the group (`world_size`).
    public var worldSize: Int
    /// The left operand, (m, k): every rank's full m rows over its k-shard.
    public var x1: TensorSpec
    /// The right operand, logically (k, n); stored (n, k) when `x2Transposed`.
    public var x2: TensorSpec
    /// x1 may not arrive transposed; kept so that the constraint can be exercised.
    public var x1Transposed: Bool
    /// x2 stored as (n, k).
    public var x2Transposed: Bool
    /// Optional bias, (n); every rank adds its own (spec §7).
    public var bias: TensorSpec?
    /// The dtype the caller allocated for `output`.
    public var outputDType: DType
    /// `reduce_op`: only `"sum"` is supported (kept as a string so that others can be passed).
    public var reduceOp: String
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

    /// The only supported `reduce_op`.
    public static let sumReduceOp = "sum"

    /// A call; the defaults are the vendor's.
    public init(platform: Platform, worldSize: Int, x1: TensorSpec, x2: TensorSpec,
                x1Transposed: Bool = false, x2Transposed: Bool = false, bias: TensorSpec? = nil,
                outputDType: DType? = nil, reduceOp: String = MatmulReduceScatterCall.sumReduceOp,
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
        self.reduceOp = reduceOp
        self.commTurn = commTurn
        self.group = group
        self.commMode = commMode
        self.x1Scale = x1Scale
        self.x2Scale = x2Scale
    }

    /// A well-formed call from the logical sizes; `m` is x1's row count (the output has m/ws rows).
    public init(platform: Platform, dtype: DType, worldSize: Int, m: Int, k: Int, n: Int,
                x2Transposed: Bool = false, bias: Bool = false) {
        self.init(platform: platform, worldSize: worldSize,
                  x1: TensorSpec(dtype, [m, k]),
                  x2: TensorSpec(dtype, x2Transposed ? [n, k] : [k, n]),
                  x2Transposed: x2Transposed,
                  bias: bias ? TensorSpec(dtype, [n]) : nil)
    }

    public var rankCount: Int { worldSize }

    /// Rows of x1 on every rank (x1's first dimension, 0 if x1 is not 2-D).
    public var m: Int { x1.rank == 2 ? x1.shape[0] : 0 }
    /// The contraction length as x1 sees it (the rank's k-shard).
    public var k: Int { x1.rank == 2 ? x1.shape[1] : 0 }
    /// The contraction length as x2 sees it (logical rows of x2).
    public var x2K: Int { x2.rank == 2 ? x2.shape[x2Transposed ? 1 : 0] : 0 }
    /// Output columns (logical columns of x2).
    public var n: Int { x2.rank == 2 ? x2.shape[x2Transposed ? 0 : 1] : 0 }
    /// Rows of the output on each rank, m/ws (0 for a world size that cannot divide anything).
    public var outputRows: Int { worldSize > 0 ? m / worldSize : 0 }

    public var inputSlots: [TensorSlot] {
        var slots = [TensorSlot("x1", x1), TensorSlot("x2", x2)]
        if let bias { slots.append(TensorSlot("bias", bias)) }
        return slots + scaleSlots
    }

    /// `output` (m/ws, n): rank r's row block of the sum of every rank's partial.
    public var outputSlots: [TensorSlot] {
        [TensorSlot("output", TensorSpec(matmulOutputDType, [outputRows, n]), kind: .matmul)]
    }
}
