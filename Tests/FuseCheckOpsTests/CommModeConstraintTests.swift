import FuseCheckCore
import FuseCheckOps
import Testing

extension AllGatherMatmulCall {
    /// A valid quantized call (comm_mode "aiv"): int8 x1 and x2, a per-token x1_scale and an
    /// x2_scale of `scale` dtype, output fp16.
    static func quantizedBaseline(scale: DType = .float32, output: DType = .float16, worldSize: Int = 4,
                                  m: Int = 4, k: Int = 256, n: Int = 64, platform: Platform = .a3) -> Self {
        var call = Self.baseline(platform: platform, dtype: .int8, worldSize: worldSize, m: m, k: k, n: n)
        call.commMode = CommMode.aiv
        call.outputDType = output
        call.x1Scale = TensorSpec(.float32, [m, 1])
        call.x2Scale = TensorSpec(scale, [1, n])
        return call
    }
}

extension MatmulReduceScatterCall {
    /// A valid quantized call (comm_mode "aiv"), as `AllGatherMatmulCall.quantizedBaseline`.
    static func quantizedBaseline(scale: DType = .float32, output: DType = .float16, worldSize: Int = 4,
                                  m: Int = 8, k: Int = 256, n: Int = 64, platform: Platform = .a3) -> Self {
        var call = Self.baseline(platform: platform, dtype: .int8, worldSize: worldSize, m: m, k: k, n: n)
        call.commMode = CommMode.aiv
        call.outputDType = output
        call.x1Scale = TensorSpec(.float32, [m, 1])
        call.x2Scale = TensorSpec(scale, [1, n])
        return call
    }
}

/// The two operators' comm_mode and quantization constraints (quantized.md Q1, Q4), tested on
/// both through `QuantizableMatmulCall`.
@Suite("comm_mode and the quantized call: constraints")
struct CommModeConstraintTests {
    /// One call per new catalogue id, breaking it alone.
    static let rejections: [RejectionCase] = ["AGMM", "MMRS"].flatMap { prefix -> [RejectionCase] in
        func make(_ id: String, _ change: @escaping (inout any QuantizableMatmulCall) -> Void) -> RejectionCase {
            var call: any QuantizableMatmulCall = prefix == "AGMM"
                ? AllGatherMatmulCall.quantizedBaseline() : MatmulReduceScatterCall.quantizedBaseline()
            change(&call)
            return RejectionCase("\(prefix)-\(id)", anyCall: call)
        }
        return [
            make("COMM-MODE") { $0 = $0.unquantized(mode: "aic") },
            make("AICPU-SCALE") { $0 = $0.unquantized(mode: CommMode.aiCPU, x2Scale: TensorSpec(.float32, [1, 64])) },
            make("AIV-WORLD-SIZE") { $0 = $0.resized(worldSize: 16) },
            make("AIV-EMPTY") { $0 = $0.resized(m: 0) },
            make("AIV-X1-DTYPE") { $0 = $0.unquantized(mode: CommMode.aiv, dtype: .float32) },
            make("AIV-BIAS") { $0 = $0.unquantized(mode: CommMode.aiv).withBias(TensorSpec(.float16, [64])) },
            make("QUANT-INT8") { $0 = $0.unquantized(mode: CommMode.aiv, x2Scale: TensorSpec(.float32, [1, 64])) },
            make("QUANT-X2-SCALE") { $0 = $0.scaled(x2: nil) },
            make("QUANT-X2-SCALE-DTYPE") { $0 = $0.scaled(x2: TensorSpec(.bfloat16, [1, 64])) },
            make("QUANT-X2-SCALE-SHAPE") { $0 = $0.scaled(x2: TensorSpec(.float32, [64])) },
            make("QUANT-X1-SCALE-DTYPE") { $0 = $0.scaled(x1: TensorSpec(.int64, [$0.m, 1])) },
            make("QUANT-X1-SCALE-SHAPE") { $0 = $0.scaled(x1: TensorSpec(.float32, [1, $0.m])) },
            make("QUANT-OUTPUT-DTYPE") { $0 = $0.output(.float32) },
            make("QUANT-INT64-OUTPUT") { $0 = $0.scaled(x2: TensorSpec(.int64, [1, 64])).output(.bfloat16) },
        ] + (prefix == "AGMM" ? [make("AIV-GATHER-OUTPUT") { call in
            var agmm = call as! AllGatherMatmulCall
            agmm.gatherOutput = false
            call = agmm
        }] : [])
    }

    static let operators: [any QuantizableMatmulCall] = [
        AllGatherMatmulCall.quantizedBaseline(), MatmulReduceScatterCall.quantizedBaseline(),
    ]

    @Test("the quantized baselines are valid, with fp32 and int64 scales, fp16 and bf16 outputs",
          arguments: operators)
    func baselinesAreValid(call: any QuantizableMatmulCall) {
        #expect(call.violatedIDs == [])
        #expect(call.scaled(x2: TensorSpec(.int64, [1, call.n])).violatedIDs == [])
        #expect(call.output(.bfloat16).violatedIDs == [])
        #expect(call.scaled(x1: nil).violatedIDs == [], "x1_scale is optional")
    }

    @Test("comm_mode: left out, \"ai_cpu\" and \"aiv\" are accepted; any other string is rejected",
          arguments: operators)
    func commModeValues(call: any QuantizableMatmulCall) {
        let prefix = call.prefix
        for mode in [nil, CommMode.aiCPU, CommMode.aiv] {
            #expect(call.unquantized(mode: mode).violatedIDs == [], "\(mode ?? "nil")")
        }
        for mode in ["", "AIV", "aic", "ai_cpu ", "hccl"] {
            #expect(call.unquantized(mode: mode).violatedIDs == ["\(prefix)-COMM-MODE"], "\(mode)")
        }
    }

    @Test("aiv: world_size 2, 4, 8 on A2 and A3; 16 and 32 only in V1", arguments: operators, Platform.allCases)
    func aivWorldSizes(call: any QuantizableMatmulCall, platform: Platform) {
        let prefix = call.prefix
        for worldSize in [1, 2, 3, 4, 8, 16, 32] {
            let aiv = call.resized(worldSize: worldSize, platform: platform)
            let expected = [2, 4, 8].contains(worldSize) ? [] : ["\(prefix)-AIV-WORLD-SIZE"]
            #expect(aiv.violatedIDs == expected, "ws \(worldSize) on \(platform)")
            let v1 = aiv.unquantized(mode: nil)
            let v1Valid = (prefix == "AGMM" ? platform.allGatherMatmulWorldSizes
                : platform.matmulReduceScatterWorldSizes).contains(worldSize)
            #expect(v1.violatedIDs == (v1Valid ? [] : ["\(prefix)-WORLD-SIZE"]), "V1 ws \(worldSize) on \(platform)")
        }
    }

    @Test("aiv: m = 0 is rejected, m = 1 row per rank accepted; V1 accepts m = 0", arguments: operators)
    func aivEmpty(call: any QuantizableMatmulCall) {
        #expect(call.resized(m: 0).violatedIDs == ["\(call.prefix)-AIV-EMPTY"])
        #expect(call.resized(m: call.worldSize).violatedIDs == [])
        #expect(call.resized(m: 0).unquantized(mode: nil).violatedIDs == [])
    }

    @Test("aiv: x1 dtype fp16, bf16 or int8; int8 needs aiv", arguments: operators, DType.allCases)
    func aivInputDTypes(call: any QuantizableMatmulCall, dtype: DType) {
        let prefix = call.prefix
        guard dtype != .int8 else {
            #expect(call.violatedIDs == [])
            #expect(call.unquantized(mode: nil, dtype: .int8).violatedIDs == ["\(prefix)-X1-DTYPE"])
            return
        }
        let expected = [DType.float16, .bfloat16].contains(dtype) ? [] : ["\(prefix)-AIV-X1-DTYPE"]
        #expect(call.unquantized(mode: CommMode.aiv, dtype: dtype).violatedIDs == expected)
    }

    @Test("a scale outside aiv is rejected, fp16/bf16 with a scale in aiv too", arguments: operators)
    func scalesNeedQuantization(call: any QuantizableMatmulCall) {
        let prefix = call.prefix
        let scale = TensorSpec(.float32, [1, call.n])
        #expect(call.unquantized(mode: nil, x2Scale: scale).violatedIDs == ["\(prefix)-AICPU-SCALE"])
        #expect(call.unquantized(mode: CommMode.aiCPU, x2Scale: scale).violatedIDs == ["\(prefix)-AICPU-SCALE"])
        #expect(call.unquantized(mode: CommMode.aiv, x2Scale: scale).violatedIDs == ["\(prefix)-QUANT-INT8"])
    }

    @Test("x2_scale: fp32 or int64, exactly (1, n)", arguments: operators, DType.allCases)
    func x2ScaleDType(call: any QuantizableMatmulCall, dtype: DType) {
        let expected = dtype == .float32 || dtype == .int64 ? [] : ["\(call.prefix)-QUANT-X2-SCALE-DTYPE"]
        #expect(call.scaled(x2: TensorSpec(dtype, [1, call.n])).violatedIDs == expected, "\(dtype)")
    }

    @Test("x2_scale shapes around (1, n)", arguments: operators)
    func x2ScaleShape(call: any QuantizableMatmulCall) {
        let n = call.n
        for shape in [[n], [1, n - 1], [1, n + 1], [n, 1], [2, n], [1, 1, n], [1, n, 1]] {
            #expect(call.scaled(x2: TensorSpec(.float32, shape)).violatedIDs == ["\(call.prefix)-QUANT-X2-SCALE-SHAPE"],
                    "\(shape)")
        }
    }

    @Test("x1_scale: absent or fp32 (m, 1)", arguments: operators)
    func x1Scale(call: any QuantizableMatmulCall) {
        let (m, prefix) = (call.m, call.prefix)
        for dtype in DType.allCases where dtype != .float32 {
            #expect(call.scaled(x1: TensorSpec(dtype, [m, 1])).violatedIDs == ["\(prefix)-QUANT-X1-SCALE-DTYPE"])
        }
        for shape in [[m], [1, m], [m - 1, 1], [m + 1, 1], [m, 2], [m, 1, 1]] {
            #expect(call.scaled(x1: TensorSpec(.float32, shape)).violatedIDs == ["\(prefix)-QUANT-X1-SCALE-SHAPE"],
                    "\(shape)")
        }
    }

    @Test("quantized output: fp16 or bf16; an int64 scale only fp16", arguments: operators, DType.allCases)
    func outputDType(call: any QuantizableMatmulCall, dtype: DType) {
        let prefix = call.prefix
        let fp32Scale: [String] = [DType.float16, .bfloat16].contains(dtype) ? [] : ["\(prefix)-QUANT-OUTPUT-DTYPE"]
        #expect(call.output(dtype).violatedIDs == fp32Scale, "\(dtype) with an fp32 scale")
        let int64Scale = call.scaled(x2: TensorSpec(.int64, [1, call.n])).output(dtype)
        let expected = dtype == .float16 ? [] : dtype == .bfloat16 ? ["\(prefix)-QUANT-INT64-OUTPUT"] : fp32Scale
        #expect(int64Scale.violatedIDs == expected, "\(dtype) with an int64 scale")
    }

    @Test("the output dtype of Q2: int64 gives fp16 whatever is asked; fp32 gives the request, else bf16")
    func resolvedOutput() {
        #expect(AllGatherMatmulCall.resolvedOutputDType(x2Scale: .int64, requested: .bfloat16) == .float16)
        #expect(AllGatherMatmulCall.resolvedOutputDType(x2Scale: .int64, requested: nil) == .float16)
        #expect(MatmulReduceScatterCall.resolvedOutputDType(x2Scale: .float32, requested: nil) == .bfloat16)
        #expect(MatmulReduceScatterCall.resolvedOutputDType(x2Scale: .float32, requested: .float16) == .float16)
    }

    @Test("aiv: no bias; AllGatherMatmul: gather_output True; MatmulReduceScatter k range applies in aiv")
    func operatorRules() {
        var agmm = AllGatherMatmulCall.quantizedBaseline()
        #expect(agmm.unquantized(mode: CommMode.aiv).withBias(TensorSpec(.float16, [agmm.n])).violatedIDs
            == ["AGMM-AIV-BIAS"])
        agmm.gatherOutput = false
        #expect(agmm.violatedIDs == ["AGMM-AIV-GATHER-OUTPUT"])
        agmm.commMode = nil
        agmm.x1 = TensorSpec(.float16, agmm.x1.shape)
        agmm.x2 = TensorSpec(.float16, agmm.x2.shape)
        agmm.x1Scale = nil
        agmm.x2Scale = nil
        #expect(agmm.violatedIDs == [], "gather_output False is fine in V1")
        let mmrs = MatmulReduceScatterCall.quantizedBaseline()
        #expect(mmrs.unquantized(mode: CommMode.aiv).withBias(TensorSpec(.float16, [mmrs.n])).violatedIDs
            == ["MMRS-AIV-BIAS"])
        for k in [255, 65535] {
            #expect(MatmulReduceScatterCall.quantizedBaseline(k: k).violatedIDs == ["MMRS-K-RANGE"])
        }
        for k in [256, 65534] {
            #expect(MatmulReduceScatterCall.quantizedBaseline(k: k).violatedIDs == [])
        }
    }
}

extension RejectionCase {
    init(_ id: String, anyCall: any FusedOperatorCall) {
        self.id = id
        self.call = anyCall
    }
}

/// One-parameter changes of a quantizable call, on either operator.
extension QuantizableMatmulCall {
    var prefix: String { Self.operatorID.rawValue.uppercased() }

    /// The call made unquantized (fp16 operands unless `dtype`, no x1_scale), with `mode` and an x2_scale.
    func unquantized(mode: String?, dtype: DType = .float16, x2Scale: TensorSpec? = nil) -> any QuantizableMatmulCall {
        var copy = self as any QuantizableMatmulCall
        copy.mutate { call in
            call.setCommMode(mode)
            call.setOperands(dtype)
            call.setScales(x1: nil, x2: x2Scale)
            call.setOutput(dtype)
        }
        return copy
    }

    func scaled(x1: TensorSpec?) -> any QuantizableMatmulCall {
        var copy = self as any QuantizableMatmulCall
        copy.mutate { $0.setScales(x1: x1, x2: $0.x2Scale) }
        return copy
    }

    func scaled(x2: TensorSpec?) -> any QuantizableMatmulCall {
        var copy = self as any QuantizableMatmulCall
        copy.mutate { $0.setScales(x1: $0.x1Scale, x2: x2) }
        return copy
    }

    func output(_ dtype: DType) -> any QuantizableMatmulCall {
        var copy = self as any QuantizableMatmulCall
        copy.mutate { $0.setOutput(dtype) }
        return copy
    }

    func withBias(_ bias: TensorSpec) -> any QuantizableMatmulCall {
        if var agmm = self as? AllGatherMatmulCall { agmm.bias = bias; return agmm }
        var mmrs = self as! MatmulReduceScatterCall
        mmrs.bias = bias
        return mmrs
    }

    /// The same call with another world size (and platform), m rows of x1 kept per output row block.
    func resized(worldSize: Int? = nil, m: Int? = nil, platform: Platform? = nil) -> any QuantizableMatmulCall {
        if var agmm = self as? AllGatherMatmulCall {
            agmm.worldSize = worldSize ?? agmm.worldSize
            agmm.platform = platform ?? agmm.platform
            if let m { agmm.x1.shape[0] = m; agmm.x1Scale?.shape[0] = m }
            return agmm
        }
        var mmrs = self as! MatmulReduceScatterCall
        mmrs.worldSize = worldSize ?? mmrs.worldSize
        mmrs.platform = platform ?? mmrs.platform
        let rows = m ?? max(mmrs.worldSize, 1) * 2
        mmrs.x1.shape[0] = rows
        mmrs.x1Scale?.shape[0] = rows
        return mmrs
    }
}

extension QuantizableMatmulCall {
    fileprivate mutating func mutate(_ change: (inout any MutableQuantizableCall) -> Void) {
        var mutable = self as! any MutableQuantizableCall
        change(&mutable)
        self = mutable as! Self
    }
}

/// Setters the tests need on both operators.
protocol MutableQuantizableCall: QuantizableMatmulCall {
    mutating func setCommMode(_ mode: String?)
    mutating func setOperands(_ dtype: DType)
    mutating func setScales(x1: TensorSpec?, x2: TensorSpec?)
    mutating func setOutput(_ dtype: DType)
}

extension AllGatherMatmulCall: MutableQuantizableCall {
    mutating func setCommMode(_ mode: String?) { commMode = mode }
    mutating func setOperands(_ dtype: DType) { x1.dtype = dtype; x2.dtype = dtype }
    mutating func setScales(x1: TensorSpec?, x2: TensorSpec?) { x1Scale = x1; x2Scale = x2 }
    mutating func setOutput(_ dtype: DType) { outputDType = dtype }
}

extension MatmulReduceScatterCall: MutableQuantizableCall {
    mutating func setCommMode(_ mode: String?) { commMode = mode }
    mutating func setOperands(_ dtype: DType) { x1.dtype = dtype; x2.dtype = dtype }
    mutating func setScales(x1: TensorSpec?, x2: TensorSpec?) { x1Scale = x1; x2Scale = x2 }
    mutating func setOutput(_ dtype: DType) { outputDType = dtype }
}
