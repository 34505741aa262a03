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

extension OperatorCaseRecord {
    /// Smoke cases of comm_mode "aiv" for a two-operand matmul operator: unquantized aiv calls on
    /// every aiv world size of both platforms, and quantized calls over every data mode, both
    /// output types, fp32 and int64 (fp16 only) scales, with and without x1_scale, both x2
    /// layouts. `rowsFactor` is 1 when m counts rows per rank (AllGatherMatmul) and ws when m
    /// counts all rows (MatmulReduceScatter, m divisible by ws).
    func commModeSmokeCases(rowsScale: (Int) -> Int, firstSeed: UInt64) -> [Case] {
        let op = operatorID.rawValue
        var seed = firstSeed
        func next() -> UInt64 { seed += 1; return seed }
        var ids: [String] = []
        for platform in Platform.allCases {
            for (index, ws) in CommMode.aivWorldSizes.enumerated() {
                let dtype = index % 2 == 0 ? "fp16" : "bf16"
                let data = DataMode.allCases[(index + (platform == .a2 ? 0 : 3)) % DataMode.allCases.count]
                ids.append("\(op):\(platform.rawValue):\(dtype):ws=\(ws):m=\(2 * rowsScale(ws)):k=256:n=7"
                    + "\(index == 1 ? ":x2T=1" : ""):mode=aiv:data=\(data.rawValue):seed=\(next())")
            }
        }
        var rotation = 0
        for output in ["fp16", "bf16"] {
            for scale in output == "fp16" ? ["fp32", "int64"] : ["fp32"] {
                for mode in DataMode.allCases {
                    rotation += 1
                    let ws = CommMode.aivWorldSizes[rotation % 3]
                    let platform = rotation % 2 == 0 ? "a2" : "a3"
                    let options = (rotation % 3 == 0 ? ":x2T=1" : "") + ":mode=aiv:q=int8"
                        + (rotation % 4 == 3 ? "" : ":x1s=1") + ":x2s=\(scale)"
                    ids.append("\(op):\(platform):\(output):ws=\(ws):m=\(3 * rowsScale(ws)):k=\(256 + 32 * rotation)"
                        + ":n=\(9 + rotation)\(options):data=\(mode.rawValue):seed=\(next())")
                }
            }
        }
        // The k range's upper end and a single output row, quantized.
        ids.append("\(op):a3:fp16:ws=2:m=\(rowsScale(2)):k=65534:n=3:mode=aiv:q=int8:x1s=1:x2s=int64:data=special"
            + ":seed=\(next())")
        ids.append("\(op):a2:bf16:ws=8:m=\(rowsScale(8)):k=256:n=1:x2T=1:mode=aiv:q=int8:x2s=fp32:data=uniform"
            + ":seed=\(next())")
        // comm_mode "ai_cpu" named explicitly: V1.
        ids.append("\(op):a3:bf16:ws=16:m=\(rowsScale(16)):k=256:n=5:mode=ai_cpu:data=normal:seed=\(next())")
        return ids.map { try! Case(id: $0) }
    }

    /// `testCase` made an aiv call one time in four (a quantized one half of those), for the
    /// random generators: world size from {2, 4, 8}, no bias, gather_output on, m >= 1 row per
    /// rank. `rowsPerRank` reads a case's rows per rank, `rows` writes m for a world size.
    func aivVariant(of testCase: Case, using generator: inout SeededGenerator,
                    rows: (_ rowsPerRank: Int, _ ws: Int) -> Int, rowsPerRank: Int, budget: Int) -> Case {
        guard Int.random(in: 0..<4, using: &generator) == 0 else { return testCase }
        var params = testCase.params
        let ws = CommMode.aivWorldSizes.randomElement(using: &generator)!
        // Every rank's work grows with ws^2 (m ws rows or m/ws blocks of ws ranks): scale rows down.
        let oldWorld = max(testCase.int("ws", default: 2), 1)
        params["ws"] = "\(ws)"
        let perRank = max(rowsPerRank * oldWorld * oldWorld / (ws * ws), 1)
        params["m"] = "\(rows(perRank, ws))"
        // Multiply-adds per call: ws ranks of (perRank ws) x k x n; halve n, then k, to the budget.
        var (k, n) = (testCase.int("k", default: 256), testCase.int("n", default: 1))
        while ws * perRank * ws * k * n > budget {
            if n > 1 { n /= 2 } else if k > 256 { k = max(256, k / 2) } else { break }
        }
        params["k"] = "\(k)"
        params["n"] = "\(n)"
        params["bias"] = nil
        params["gather"] = nil
        params["mode"] = "aiv"
        if Bool.random(using: &generator) {
            params["q"] = "int8"
            params["x2s"] = testCase.dtype == .float16 && Bool.random(using: &generator) ? "int64" : "fp32"
            if Int.random(in: 0..<4, using: &generator) != 0 { params["x1s"] = "1" }
        }
        return Case(op: testCase.op, platform: testCase.platform, dtype: testCase.dtype, params: params,
                    data: testCase.data, seed: testCase.seed)
    }
}

extension OperatorCaseRecord {
    /// comm_mode and quantization violations for the fuzzer's invalid stream: one parameter
    /// changed each (`pickViolation` keeps those that break exactly one constraint).
    func commModeViolations(of testCase: Case) -> [Case?] {
        [
            with(testCase, ["mode": "hccl"]), with(testCase, ["x2s": "fp32"]), with(testCase, ["ws": "16"]),
            with(testCase, ["x2s": "bf16"]), with(testCase, ["x1s": "1", "x1s.dtype": "fp16"]),
            with(testCase, ["x1s": "1", "x1s.shape": "1x1x1"]), with(testCase, ["x2s.shape": "2x1"]),
            with(testCase, ["x2s": nil]), with(testCase, ["gather": "0"]), with(testCase, ["m": "0"]),
        ]
    }
}
