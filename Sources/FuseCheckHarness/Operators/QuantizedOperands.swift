import FuseCheckCore
import FuseCheckOps

extension CaseParameter {
    /// comm_mode and the quantized call's parameters of AllGatherMatmul and MatmulReduceScatter
    /// (quantized.md Q1, Q2), read by `OperatorCaseRecord.quantizationOperands`. A quantized case
    /// reads `mode=aiv:q=int8:x1s=1:x2s=int64`; its dtype field is the output dtype T.
    public static let quantizationParameters: [CaseParameter] = [
        .optional("mode", default: "none", "comm_mode: none (left out), ai_cpu or aiv"),
        .optional("q", default: "none", "int8: x1 and x2 are int8 (the quantized call)"),
        .optional("x1s", default: "0", "1: a per-token x1_scale (m, 1) fp32"),
        .override("x2s", "x2_scale dtype (fp32 or int64, the packed scale), (1, n); absent: no x2_scale"),
        .override("x1s.dtype", "x1_scale dtype, if not fp32"),
        .override("x1s.shape", "x1_scale shape, if not (m, 1)"),
        .override("x2s.shape", "x2_scale shape, if not (1, n)"),
    ]
}

/// The comm_mode and quantization operands a case gives.
struct QuantizationOperands {
    /// comm_mode, nil when left out.
    var commMode: String?
    /// x1 and x2's dtype when `q=int8`, else nil (the case's dtype).
    var operandDType: DType?
    var x1Scale: TensorSpec?
    var x2Scale: TensorSpec?
}

extension OperatorCaseRecord {
    /// The comm_mode and quantization operands of a two-operand matmul case with m rows of x1
    /// and n output columns (`CaseParameter.quantizationParameters`).
    func quantizationOperands(_ testCase: Case, m: Int, n: Int) throws -> QuantizationOperands {
        let mode = testCase.params["mode"] ?? "none"
        let operandDType: DType?
        switch testCase.params["q"] ?? "none" {
        case "none": operandDType = nil
        case "int8": operandDType = .int8
        case let other: throw CaseFormatError("q = \"\(other)\" in \(testCase.id): none or int8")
        }
        let x1Scale = try integer(testCase, "x1s") != 0 || testCase.params["x1s.dtype"] != nil
            || testCase.params["x1s.shape"] != nil
        let x2Scale = try dtypeOverride(testCase, "x2s")
        guard x2Scale != nil || testCase.params["x2s.shape"] == nil else {
            throw CaseFormatError("x2s.shape without x2s (the x2_scale dtype) in \(testCase.id)")
        }
        return QuantizationOperands(
            commMode: mode == "none" ? nil : mode,
            operandDType: operandDType,
            x1Scale: x1Scale ? TensorSpec(try dtypeOverride(testCase, "x1s.dtype") ?? .float32,
                                          try shapeOverride(testCase, "x1s.shape") ?? [m, 1]) : nil,
            x2Scale: try x2Scale.map { TensorSpec($0, try shapeOverride(testCase, "x2s.shape") ?? [1, n]) })
    }
}

extension QuantizableMatmulCall {
    /// The manifest attributes of comm_mode and quantization (backend-protocol.md): `comm_mode`
    /// ("none" when left out), `x1_scale` (whether given) and `x2_scale` (its dtype, or "none").
    /// The scales themselves travel as inputs `x1_scale.npy` (fp32) and `x2_scale.npy` (fp32, or
    /// `<i8` packed scales).
    public var quantizationAttributes: [String: ManifestValue] {
        [
            "comm_mode": .string(commMode ?? "none"),
            "x1_scale": .bool(x1Scale != nil),
            "x2_scale": .string(x2Scale?.dtype.rawValue ?? "none"),
        ]
    }
}
