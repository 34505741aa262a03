import FuseCheckCore

/// torch_npu's `comm_mode` of AllGatherMatmul and MatmulReduceScatter (quantized.md Q1): which of
/// two implementations runs, each with its own rules.
///
/// - none (the argument left out) and `"ai_cpu"`: the V1 aclnn op, exactly ops.md §1/§4/§5 and
///   reduce-scatter-ops.md §7/§9; no quantization.
/// - `"aiv"`: the V2 aclnn op: world sizes {2, 4, 8} on A2 and A3, x1 in {fp16, bf16, int8}, no
///   empty tensors, no bias, and the int8 quantized call (Q2).
///
/// Any other string is kept as given so that the constraint catalogue can reject it (the vendor
/// routes it to V2 unchecked; Decided: rejected).
public enum CommMode {
    /// `"ai_cpu"`, the V1 op named explicitly.
    public static let aiCPU = "ai_cpu"
    /// `"aiv"`, the V2 op.
    public static let aiv = "aiv"
    /// The strings torch_npu accepts; nil (the argument left out) is accepted too.
    public static let known = [aiCPU, aiv]

    /// World sizes the aiv implementation accepts, on A2 and A3 alike.
    public static let aivWorldSizes = [2, 4, 8]
    /// x1 dtypes the aiv implementation accepts.
    public static let aivInputDTypes: [DType] = [.float16, .bfloat16, .int8]
    /// Output dtypes of a quantized call.
    public static let quantizedOutputDTypes: [DType] = [.float16, .bfloat16]
}
