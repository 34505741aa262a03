import FuseCheckCore

/// A two-operand matmul operator with torch_npu's `comm_mode`, `x1_scale` and `x2_scale`
/// (quantized.md Q1, Q2): AllGatherMatmul and MatmulReduceScatter.
///
/// The quantized call (comm_mode "aiv", x1 and x2 int8, an x2_scale):
///
/// ```
/// acc[i][j] = Σ_k x1[i][k] x2[k][j]                      int32, exact
/// out[i][j] = round_T((f32(acc) * x2s[j]) * x1s[i])      fp32 products, one rounding to T
/// ```
public protocol QuantizableMatmulCall: FusedOperatorCall {
    /// `comm_mode`: nil (left out), `"ai_cpu"`, `"aiv"`, or another string (rejected).
    var commMode: String? { get }
    /// The per-rank left operand, (m, k).
    var x1: TensorSpec { get }
    /// The right operand as stored.
    var x2: TensorSpec { get }
    /// Optional bias, (n).
    var bias: TensorSpec? { get }
    /// Per-token scale of this rank's x1 rows, (m, 1) fp32; optional.
    var x1Scale: TensorSpec? { get }
    /// Per-channel scale of this rank's x2, (1, n) fp32 or int64 (packed); required when quantized.
    var x2Scale: TensorSpec? { get }
    /// The output dtype the caller allocated (for a quantized call: resolved per Q2).
    var outputDType: DType { get }
    /// Number of ranks in the group.
    var worldSize: Int { get }
    /// Rows of x1 (0 if x1 is not 2-D).
    var m: Int { get }
    /// Output columns.
    var n: Int { get }
}

extension QuantizableMatmulCall {
    /// Whether the V2 (aiv) implementation's rules apply.
    public var isAIV: Bool { commMode == CommMode.aiv }

    /// Whether the call is quantized: int8 operands (valid only with an x2_scale, in aiv mode).
    public var isQuantized: Bool { x1.dtype == .int8 }

    /// The output dtype torch_npu resolves for a quantized call (Q2): fp16 for an int64 scale
    /// (output_dtype ignored), else `requested`, else bf16.
    public static func resolvedOutputDType(x2Scale: DType, requested: DType?) -> DType {
        x2Scale == .int64 ? .float16 : (requested ?? .bfloat16)
    }

    /// The quantization inputs that are present, in slot order: `x1_scale`, `x2_scale`.
    public var scaleSlots: [TensorSlot] {
        [x1Scale.map { TensorSlot("x1_scale", $0) }, x2Scale.map { TensorSlot("x2_scale", $0) }].compactMap { $0 }
    }

    /// The dtype of `output`: the requested output dtype of a quantized call, else x1's.
    public var matmulOutputDType: DType { isQuantized ? outputDType : x1.dtype }

    /// The comm_mode and quantization part of the catalogue (quantized.md Q1, Q4), ids prefixed
    /// with the operator's (`AGMM`, `MMRS`). Every rule but the first two applies to aiv calls
    /// only: a V1 call is judged by the operator's own V1 rules (an int8 x1 breaks its
    /// `-X1-DTYPE`), so that one wrong parameter breaks one constraint.
    static func commModeChecks(prefix: String) -> [ConstraintCheck<Self>] {
        let spec = "quantized.md"
        let api = "torch_npu op-api V2"
        return [
            entry("\(prefix)-COMM-MODE", "comm_mode is left out, \"ai_cpu\" or \"aiv\"", "\(spec) Q1, Q4 (Decided)") {
                call in
                guard let mode = call.commMode, !CommMode.known.contains(mode) else { return nil }
                return "comm_mode = \"\(mode)\""
            },
            entry("\(prefix)-AICPU-SCALE", "no x1_scale or x2_scale unless comm_mode is \"aiv\" (V1 is not quantized)",
                  "\(spec) Q1, Q4; \(api)") { call in
                guard !call.isAIV, !call.scaleSlots.isEmpty else { return nil }
                return call.scaleSlots.map(\.name).joined(separator: " and ")
                    + " given with comm_mode \(call.commMode.map { "\"\($0)\"" } ?? "left out")"
            },
            entry("\(prefix)-AIV-WORLD-SIZE", "aiv: world_size is 2, 4 or 8 (A2 and A3)", "\(spec) Q1, Q4; \(api)") {
                call in
                guard call.isAIV, !CommMode.aivWorldSizes.contains(call.worldSize) else { return nil }
                return "world_size = \(call.worldSize) with comm_mode \"aiv\""
            },
            entry("\(prefix)-AIV-EMPTY", "aiv: no empty tensors (m and n are not 0)", "\(spec) Q1, Q4; \(api)") {
                call in
                guard call.isAIV, call.x1.rank == 2, call.m == 0 || call.n == 0 else { return nil }
                return "m = \(call.m), n = \(call.n) with comm_mode \"aiv\""
            },
            entry("\(prefix)-AIV-X1-DTYPE", "aiv: x1 dtype is float16, bfloat16 or int8", "\(spec) Q1, Q4; \(api)") {
                call in
                guard call.isAIV, !CommMode.aivInputDTypes.contains(call.x1.dtype) else { return nil }
                return "x1 dtype is \(call.x1.dtype.shortName) with comm_mode \"aiv\""
            },
            entry("\(prefix)-AIV-BIAS", "aiv: bias is absent", "\(spec) Q1, Q4 (Decided for MatmulReduceScatter)") {
                call in
                call.isAIV && call.bias != nil ? "bias given with comm_mode \"aiv\"" : nil
            },
            entry("\(prefix)-QUANT-INT8", "aiv: an x1_scale or x2_scale comes with int8 x1 and x2",
                  "\(spec) Q2, Q4") { call in
                guard call.isAIV, !call.scaleSlots.isEmpty, call.x1.dtype != .int8 else { return nil }
                let names = call.scaleSlots.map(\.name).joined(separator: " and ")
                return "\(names) given, x1 is \(call.x1.dtype.shortName)"
            },
            entry("\(prefix)-QUANT-X2-SCALE", "aiv: int8 x1 comes with an x2_scale", "\(spec) Q2, Q4") { call in
                call.isAIV && call.isQuantized && call.x2Scale == nil ? "x1 is int8 and x2_scale is absent" : nil
            },
            entry("\(prefix)-QUANT-X2-SCALE-DTYPE", "aiv: x2_scale is float32 or int64 (packed)", "\(spec) Q2, Q4") {
                call in
                guard call.isAIV, let scale = call.x2Scale, scale.dtype != .float32, scale.dtype != .int64 else {
                    return nil
                }
                return "x2_scale dtype is \(scale.dtype.shortName)"
            },
            entry("\(prefix)-QUANT-X2-SCALE-SHAPE", "aiv: x2_scale is 2-D (1, n)", "\(spec) Q2, Q4") { call in
                guard call.isAIV, let scale = call.x2Scale, scale.shape != [1, call.n] else { return nil }
                return "x2_scale has shape \(shapeDescription(scale.shape)), n = \(call.n)"
            },
            entry("\(prefix)-QUANT-X1-SCALE-DTYPE", "aiv: x1_scale, when given, is float32", "\(spec) Q2, Q4") { call in
                guard call.isAIV, let scale = call.x1Scale, scale.dtype != .float32 else { return nil }
                return "x1_scale dtype is \(scale.dtype.shortName)"
            },
            entry("\(prefix)-QUANT-X1-SCALE-SHAPE", "aiv: x1_scale, when given, is 2-D (m, 1)", "\(spec) Q2, Q4") {
                call in
                guard call.isAIV, let scale = call.x1Scale, call.x1.rank == 2, scale.shape != [call.m, 1] else {
                    return nil
                }
                return "x1_scale has shape \(shapeDescription(scale.shape)), m = \(call.m)"
            },
            entry("\(prefix)-QUANT-OUTPUT-DTYPE", "aiv: a quantized call's output is float16 or bfloat16",
                  "\(spec) Q2, Q4 (output_dtype fp32 rejected)") { call in
                guard call.isAIV, call.isQuantized, !CommMode.quantizedOutputDTypes.contains(call.outputDType) else {
                    return nil
                }
                return "output dtype is \(call.outputDType.shortName)"
            },
            entry("\(prefix)-QUANT-INT64-OUTPUT", "aiv: an int64 x2_scale gives a float16 output",
                  "\(spec) Q2, Q4 (no kernel for int64 with bf16)") { call in
                guard call.isAIV, call.isQuantized, call.x2Scale?.dtype == .int64,
                      CommMode.quantizedOutputDTypes.contains(call.outputDType), call.outputDType != .float16 else {
                    return nil
                }
                return "x2_scale is int64, output dtype is \(call.outputDType.shortName)"
            },
        ]
    }
}
