import FuseCheckCore
import FuseCheckOps

/// AllGatherMatmul's cases: `agmm:PLATFORM:DTYPE:ws=..:m=..:k=..:n=..[:x2T=1][:bias=1][:gather=0]`.
public struct AllGatherMatmulCases: OperatorCaseRecord {
    public init() {}

    public var operatorID: OperatorID { AllGatherMatmulCall.operatorID }

    public let parameters: [CaseParameter] = [
        .required("ws", "world size"),
        .required("m", "rows of x1 per rank"),
        .required("k", "contraction length"),
        .required("n", "columns of x2 and output"),
        .optional("x2T", default: "0", "1: x2 stored transposed, (n, k)"),
        .optional("bias", default: "0", "1: a bias of length n (opt-in; the vendor documents it as unsupported)"),
        .optional("gather", default: "1", "gather_output: 0 makes gather_out the empty tensor"),
        .optional("x1T", default: "0", "1: x1 marked transposed (invalid)"),
        .optional("gidx", default: "0", "gather_index"),
        .optional("turn", default: "0", "comm_turn"),
        .optional("hcom", default: "10", "length in bytes of the group name"),
    ] + CaseParameter.quantizationParameters + CaseParameter.matmulOperandOverrides

    public func makeCall(_ testCase: Case) throws -> AllGatherMatmulCall {
        let m = try integer(testCase, "m")
        let quantization = try quantizationOperands(testCase, m: m, n: try integer(testCase, "n"))
        let operands = try matmulOperands(testCase, rows: m, operandDType: quantization.operandDType)
        return AllGatherMatmulCall(
            platform: testCase.platform,
            worldSize: try integer(testCase, "ws"),
            x1: operands.x1, x2: operands.x2,
            x1Transposed: try integer(testCase, "x1T") != 0,
            x2Transposed: operands.x2Transposed,
            bias: operands.bias,
            outputDType: operands.output,
            gatherIndex: try integer(testCase, "gidx"),
            gatherOutput: try integer(testCase, "gather") != 0,
            commTurn: try integer(testCase, "turn"),
            group: try groupName(testCase, "hcom", prefix: "hcom_", fallback: "hcom_group"),
            commMode: quantization.commMode, x1Scale: quantization.x1Scale, x2Scale: quantization.x2Scale)
    }

    /// A case from the logical sizes.
    public static func make(_ platform: Platform, _ dtype: DType, ws: Int, m: Int, k: Int, n: Int,
                            x2T: Bool = false, bias: Bool = false, gather: Bool = true,
                            data: DataMode = .uniform, seed: UInt64 = 1) -> Case {
        var params = ["ws": "\(ws)", "m": "\(m)", "k": "\(k)", "n": "\(n)"]
        if x2T { params["x2T"] = "1" }
        if bias { params["bias"] = "1" }
        if !gather { params["gather"] = "0" }
        return Case(op: AllGatherMatmulCall.operatorID, platform: platform, dtype: dtype, params: params,
                     data: data, seed: seed)
    }

    public func smokeCases() -> [Case] {
        var cases: [Case] = []
        let dtypes: [DType] = [.float16, .bfloat16]
        let modes = DataMode.allCases
        var seed: UInt64 = 100
        func next() -> UInt64 { seed += 1; return seed }

        // Every world size of each platform, both dtypes; data modes and layouts rotate.
        for platform in Platform.allCases {
            for (w, ws) in platform.allGatherMatmulWorldSizes.enumerated() {
                for (d, dtype) in dtypes.enumerated() {
                    let rotation = w * 2 + d
                    cases.append(Self.make(platform, dtype, ws: ws, m: ws >= 16 ? 1 : 3, k: 256, n: 5,
                                           x2T: rotation % 2 == 1, data: modes[rotation % modes.count],
                                           seed: next()))
                }
            }
        }
        // Every data mode x dtype x layout x platform at a moderate size.
        for platform in Platform.allCases {
            for dtype in dtypes {
                for mode in modes {
                    for x2T in [false, true] {
                        cases.append(Self.make(platform, dtype, ws: platform == .a2 ? 4 : 2, m: 4, k: 320, n: 24,
                                               x2T: x2T, data: mode, seed: next()))
                    }
                }
            }
        }
        // Exact and provenance data on every A3 world size: data movement and rank order at scale.
        for (index, ws) in Platform.a3.allGatherMatmulWorldSizes.enumerated() {
            for dtype in dtypes {
                cases.append(Self.make(.a3, dtype, ws: ws, m: 2, k: 256 + index, n: 3, x2T: index % 2 == 0,
                                       data: dtype == .float16 ? .exact : .provenance, seed: next()))
            }
        }
        // Every data mode on the largest A2 world.
        for (index, mode) in modes.enumerated() {
            cases.append(Self.make(.a2, dtypes[index % 2], ws: 8, m: 2, k: 384, n: 6, x2T: index % 3 == 0,
                                   data: mode, seed: next()))
        }
        // Edges: the k range's ends, m = 0, odd sizes, gather_output off, the bias profile.
        for dtype in dtypes {
            for mode in [DataMode.exact, .uniform] {
                cases.append(Self.make(.a3, dtype, ws: 2, m: 1, k: 65534, n: 2, data: mode, seed: next()))
                cases.append(Self.make(.a2, dtype, ws: 2, m: 1, k: 65534, n: 3, x2T: true, data: mode, seed: next()))
            }
            cases.append(Self.make(.a3, dtype, ws: 8, m: 1, k: 256, n: 1, data: .exact, seed: next()))
            cases.append(Self.make(.a3, dtype, ws: 4, m: 0, k: 256, n: 8, data: .uniform, seed: next()))
            cases.append(Self.make(.a2, dtype, ws: 8, m: 0, k: 512, n: 3, x2T: true, gather: false, seed: next()))
            cases.append(Self.make(.a3, dtype, ws: 4, m: 7, k: 257, n: 13, data: .normal, seed: next()))
            cases.append(Self.make(.a2, dtype, ws: 2, m: 5, k: 1023, n: 17, x2T: true, data: .outliers, seed: next()))
            cases.append(Self.make(.a3, dtype, ws: 2, m: 3, k: 300, n: 9, gather: false, data: .provenance,
                                   seed: next()))
            cases.append(Self.make(.a3, dtype, ws: 16, m: 3, k: 511, n: 11, gather: false, data: .exact, seed: next()))
            cases.append(Self.make(.a2, dtype, ws: 4, m: 3, k: 65534, n: 1, x2T: true, data: .normal, seed: next()))
            for mode in modes {
                cases.append(Self.make(.a3, dtype, ws: 2, m: 2, k: 288, n: 7, x2T: mode == .normal, bias: true,
                                       data: mode, seed: next()))
            }
        }
        return cases + commModeSmokeCases(rowsScale: { _ in 1 }, firstSeed: 900)
    }

    public func randomCase(using generator: inout SeededGenerator, budget: Int) -> Case {
        let platform = Platform.allCases.randomElement(using: &generator)!
        let dtype: DType = Bool.random(using: &generator) ? .float16 : .bfloat16
        let sizes = platform.allGatherMatmulWorldSizes
        let ws = Int.random(in: 0..<3, using: &generator) == 0 ? sizes.randomElement(using: &generator)! : sizes[0]
        var m = pick([0, 1, 2, 3, 7, 16], orUpTo: 64, using: &generator)
        var k = pick([256, 257, 511, 512, 1000, 4096, 65534], orIn: 256...8192, using: &generator)
        var n = pick([1, 2, 3, 16, 31], orUpTo: 128, using: &generator)
        // Multiply-adds: every rank computes (m * ws) x k x n.
        while ws * m * ws * k * n > budget {
            if m > 1 { m /= 2 } else if n > 1 { n /= 2 } else if k > 256 { k = max(256, k / 2) } else { break }
        }
        let testCase = Self.make(platform, dtype, ws: ws, m: m, k: k, n: n,
                                 x2T: Bool.random(using: &generator),
                                 bias: Int.random(in: 0..<5, using: &generator) == 0,
                                 gather: Int.random(in: 0..<8, using: &generator) != 0,
                                 data: DataMode.allCases.randomElement(using: &generator)!,
                                 seed: generator.next() % 1_000_000)
        // Fewer ranks keep the budget: m rows per rank stay, ws drops to at most 8.
        return aivVariant(of: testCase, using: &generator, rows: { rows, _ in rows }, rowsPerRank: m,
                          budget: budget)
    }
}

/// An edge value half the time, otherwise uniform in 1...limit.
func pick(_ edges: [Int], orUpTo limit: Int, using generator: inout SeededGenerator) -> Int {
    pick(edges, orIn: 1...limit, using: &generator)
}

/// An edge value half the time, otherwise uniform in `range`.
func pick(_ edges: [Int], orIn range: ClosedRange<Int>, using generator: inout SeededGenerator) -> Int {
    Bool.random(using: &generator) ? edges.randomElement(using: &generator)! : Int.random(in: range, using: &generator)
}
