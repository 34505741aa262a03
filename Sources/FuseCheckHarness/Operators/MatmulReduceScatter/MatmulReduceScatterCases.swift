import FuseCheckCore
import FuseCheckOps

/// MatmulReduceScatter's cases: `mmrs:PLATFORM:DTYPE:ws=..:m=..:k=..:n=..[:x2T=1][:bias=1]`, with m
/// the rows of x1 on every rank (the output has m/ws rows).
public struct MatmulReduceScatterCases: OperatorCaseRecord {
    public init() {}

    public var operatorID: OperatorID { MatmulReduceScatterCall.operatorID }

    public let parameters: [CaseParameter] = [
        .required("ws", "world size"),
        .required("m", "rows of x1 on every rank (a multiple of ws)"),
        .required("k", "contraction length"),
        .required("n", "columns of x2 and output"),
        .optional("x2T", default: "0", "1: x2 stored transposed, (n, k)"),
        .optional("bias", default: "0", "1: a bias of length n on every rank"),
        .optional("x1T", default: "0", "1: x1 marked transposed (invalid)"),
        .optional("op", default: "sum", "reduce_op (only sum is supported)"),
        .optional("turn", default: "0", "comm_turn"),
        .optional("hcom", default: "10", "length in bytes of the group name"),
    ] + CaseParameter.quantizationParameters + CaseParameter.matmulOperandOverrides

    public func makeCall(_ testCase: Case) throws -> MatmulReduceScatterCall {
        let m = try integer(testCase, "m")
        let quantization = try quantizationOperands(testCase, m: m, n: try integer(testCase, "n"))
        let operands = try matmulOperands(testCase, rows: m, operandDType: quantization.operandDType)
        return MatmulReduceScatterCall(
            platform: testCase.platform,
            worldSize: try integer(testCase, "ws"),
            x1: operands.x1, x2: operands.x2,
            x1Transposed: try integer(testCase, "x1T") != 0,
            x2Transposed: operands.x2Transposed,
            bias: operands.bias,
            outputDType: operands.output,
            reduceOp: testCase.params["op"] ?? "sum",
            commTurn: try integer(testCase, "turn"),
            group: try groupName(testCase, "hcom", prefix: "hcom_", fallback: "hcom_group"),
            commMode: quantization.commMode, x1Scale: quantization.x1Scale, x2Scale: quantization.x2Scale)
    }



    /// A case from the logical sizes.
    public static func make(_ platform: Platform, _ dtype: DType, ws: Int, m: Int, k: Int, n: Int,
                            x2T: Bool = false, bias: Bool = false, data: DataMode = .uniform, seed: UInt64 = 1) -> Case {
        var params = ["ws": "\(ws)", "m": "\(m)", "k": "\(k)", "n": "\(n)"]
        if x2T { params["x2T"] = "1" }
        if bias { params["bias"] = "1" }
        return Case(op: MatmulReduceScatterCall.operatorID, platform: platform, dtype: dtype, params: params,
                    data: data, seed: seed)
    }

    public func smokeCases() -> [Case] {
        var cases: [Case] = []
        let dtypes: [DType] = [.float16, .bfloat16]
        let modes = DataMode.allCases
        var seed: UInt64 = 300
        func next() -> UInt64 { seed += 1; return seed }

        // Every world size of each platform, both dtypes; data modes, layouts and bias rotate.
        for platform in Platform.allCases {
            for (w, ws) in platform.matmulReduceScatterWorldSizes.enumerated() {
                for (d, dtype) in dtypes.enumerated() {
                    let rotation = w * 2 + d
                    cases.append(Self.make(platform, dtype, ws: ws, m: ws * (ws >= 16 ? 1 : 2), k: 256, n: 5,
                                           x2T: rotation % 2 == 1, bias: rotation % 3 == 0,
                                           data: modes[rotation % modes.count], seed: next()))
                }
            }
        }
        // Every data mode x dtype x layout at a moderate size, with and without bias.
        for dtype in dtypes {
            for mode in modes {
                for x2T in [false, true] {
                    cases.append(Self.make(x2T ? .a2 : .a3, dtype, ws: x2T ? 4 : 2, m: 8, k: 320, n: 24, x2T: x2T,
                                           bias: mode == .exact || mode == .uniform || mode == .special,
                                           data: mode, seed: next()))
                }
            }
        }
        // Exact and provenance data on the largest worlds: rank order and the scatter at scale.
        for dtype in dtypes {
            cases.append(Self.make(.a3, dtype, ws: 32, m: 32, k: 256, n: 3, bias: true, data: .exact, seed: next()))
            cases.append(Self.make(.a3, dtype, ws: 16, m: 48, k: 300, n: 4, x2T: true, data: .provenance, seed: next()))
            cases.append(Self.make(.a2, dtype, ws: 8, m: 16, k: 384, n: 6, bias: true, data: .exact, seed: next()))
        }
        // Edges: the k range's ends, m = 0, odd sizes, a single output row per rank.
        for dtype in dtypes {
            cases.append(Self.make(.a3, dtype, ws: 2, m: 2, k: 65534, n: 2, data: .exact, seed: next()))
            cases.append(Self.make(.a2, dtype, ws: 2, m: 2, k: 65534, n: 3, x2T: true, bias: true, data: .uniform,
                                   seed: next()))
            cases.append(Self.make(.a3, dtype, ws: 4, m: 0, k: 256, n: 8, seed: next()))
            cases.append(Self.make(.a3, dtype, ws: 4, m: 28, k: 257, n: 13, data: .normal, seed: next()))
            cases.append(Self.make(.a2, dtype, ws: 2, m: 10, k: 1023, n: 17, x2T: true, data: .outliers, seed: next()))
            cases.append(Self.make(.a3, dtype, ws: 8, m: 8, k: 511, n: 1, bias: true, data: .special, seed: next()))
        }
        return cases + commModeSmokeCases(rowsScale: { $0 }, firstSeed: 950)
    }

    public func randomCase(using generator: inout SeededGenerator, budget: Int) -> Case {
        let platform = Platform.allCases.randomElement(using: &generator)!
        let dtype: DType = Bool.random(using: &generator) ? .float16 : .bfloat16
        let sizes = platform.matmulReduceScatterWorldSizes
        let ws = Int.random(in: 0..<3, using: &generator) == 0 ? sizes.randomElement(using: &generator)! : sizes[0]
        var rows = pick([0, 1, 2, 3, 7, 16], orUpTo: 32, using: &generator)  // output rows per rank
        var k = pick([256, 257, 511, 512, 1000, 4096, 65534], orIn: 256...8192, using: &generator)
        var n = pick([1, 2, 3, 16, 31], orUpTo: 128, using: &generator)
        // Multiply-adds: every rank computes (rows * ws) x k x n.
        while ws * rows * ws * k * n > budget {
            if rows > 1 { rows /= 2 } else if n > 1 { n /= 2 } else if k > 256 { k = max(256, k / 2) } else { break }
        }
        let testCase = Self.make(platform, dtype, ws: ws, m: rows * ws, k: k, n: n,
                                 x2T: Bool.random(using: &generator),
                                 bias: Int.random(in: 0..<3, using: &generator) == 0,
                                 data: DataMode.allCases.randomElement(using: &generator)!,
                                 seed: generator.next() % 1_000_000)
        // Fewer ranks keep the budget: rows per rank stay, ws drops to at most 8.
        return aivVariant(of: testCase, using: &generator, rows: { rows, ws in rows * ws }, rowsPerRank: rows,
                          budget: budget)
    }

    public func invalidCases() -> [(Case, String)] {
        let base = "ws=2:m=4:k=256:n=4"
        let entries: [(String, String)] = [
            ("mmrs:a3:fp32:\(base)", "MMRS-X1-DTYPE"),
            ("mmrs:a3:fp16:\(base):x2.dtype=bf16", "MMRS-X2-DTYPE"),
            ("mmrs:a3:bf16:\(base):out.dtype=fp16", "MMRS-OUTPUT-DTYPE"),
            ("mmrs:a3:fp16:\(base):bias=1:bias.dtype=bf16", "MMRS-BIAS-DTYPE"),
            ("mmrs:a3:fp16:\(base):x1.shape=4x256x1", "MMRS-X1-2D"),
            ("mmrs:a3:bf16:\(base):x2.shape=256x4x1", "MMRS-X2-2D"),
            ("mmrs:a3:fp16:\(base):x1T=1", "MMRS-X1-NOT-TRANSPOSED"),
            ("mmrs:a3:bf16:\(base):x2.shape=512x4", "MMRS-K-MATCH"),
            ("mmrs:a3:fp16:ws=2:m=4:k=0:n=4", "MMRS-K-ZERO"),
            ("mmrs:a3:bf16:ws=2:m=4:k=255:n=4", "MMRS-K-RANGE"),
            ("mmrs:a2:fp16:ws=16:m=16:k=256:n=4", "MMRS-WORLD-SIZE"),
            ("mmrs:a3:fp16:ws=2:m=3:k=256:n=4", "MMRS-M-DIVISIBLE"),
            ("mmrs:a3:bf16:\(base):op=max", "MMRS-REDUCE-OP"),
            ("mmrs:a3:fp16:\(base):turn=1", "MMRS-COMM-TURN"),
            ("mmrs:a3:bf16:\(base):bias=1:bias.shape=5", "MMRS-BIAS-SHAPE"),
            ("mmrs:a3:fp16:\(base):hcom=0", "MMRS-GROUP-EMPTY"),
            ("mmrs:a3:bf16:\(base):hcom=128", "MMRS-GROUP-LENGTH"),
        ] + commModeInvalidCases(operatorID.rawValue, base: base, prefix: "MMRS")
        return entries.map { (try! Case(id: "\($0.0):data=uniform:seed=1"), $0.1) }
    }

    public func shrinkCandidates(_ testCase: Case) -> [Case] {
        let ws = testCase.int("ws", default: 2)
        let (m, k, n) = (testCase.int("m", default: 2), testCase.int("k", default: 256), testCase.int("n", default: 1))
        let rows = m / max(ws, 1)
        var candidates: [Case?] = []
        if ws > 2 { candidates.append(with(testCase, ["ws": "2", "m": "\(2 * rows)"])) }
        candidates += smaller(rows).map { with(testCase, ["m": "\($0 * ws)"]) }
        candidates += smaller(n).map { with(testCase, ["n": "\($0)"]) }
        if k > 256 { candidates += smaller(k, minimum: 256).map { with(testCase, ["k": "\($0)"]) } }
        // Dropping x2T under an x2.shape override would reinterpret the override (n may grow).
        for key in ["x2T", "bias"] where testCase.params[key] != nil
            && !(key == "x2T" && testCase.params["x2.shape"] != nil) {
            candidates.append(with(testCase, [key: nil]))
        }
        candidates += smallerShapeOverrides(testCase, keys: ["x1.shape", "x2.shape", "bias.shape"])
        return candidates.compactMap { $0 } + simplerData(testCase)
    }

    public func randomViolation(of testCase: Case, using generator: inout SeededGenerator) -> (Case, String)? {
        let (ws, m) = (testCase.int("ws", default: 2), testCase.int("m", default: 2))
        let candidates = matmulFamilyViolations(of: testCase, specific: [
            with(testCase, ["m": "\(m + 1)"]).flatMap { ws > 1 ? $0 : nil },
            with(testCase, ["op": "max"]),
        ], using: &generator)
        return pickViolation(candidates, using: &generator)
    }
}
