import FuseCheckCore
import FuseCheckOps
import Testing

extension MatmulReduceScatterCall {
    /// A valid call: world size 8 (in both platforms' sets), m 32 (divisible by every world size
    /// of spec §9), k 256 (the smallest valid k), n 128.
    static func baseline(platform: Platform = .a2, dtype: DType = .float16, worldSize: Int = 8,
                         m: Int = 32, k: Int = 256, n: Int = 128, x2Transposed: Bool = false,
                         bias: Bool = false) -> Self {
        Self(platform: platform, dtype: dtype, worldSize: worldSize, m: m, k: k, n: n,
             x2Transposed: x2Transposed, bias: bias)
    }
}

/// Each MatmulReduceScatter constraint (reduce-scatter-ops.md §9) at its boundary: the last
/// accepted value passes, the first rejected value is rejected with exactly that constraint's id
/// and no other.
@Suite("MatmulReduceScatter constraints at their boundaries")
struct MatmulReduceScatterConstraintTests {
    typealias Call = MatmulReduceScatterCall

    @Test("the baseline calls are valid on both platforms, for both dtypes, both x2 layouts, with and without bias",
          arguments: Platform.allCases, [DType.float16, .bfloat16])
    func baselineIsValid(platform: Platform, dtype: DType) {
        for x2Transposed in [false, true] {
            for bias in [false, true] {
                let call = Call.baseline(platform: platform, dtype: dtype, x2Transposed: x2Transposed, bias: bias)
                #expect(call.violatedIDs == [], "\(platform) \(dtype) x2Transposed = \(x2Transposed) bias = \(bias)")
            }
        }
    }

    // MARK: - dtypes

    @Test("x1 dtype must be float16 or bfloat16", arguments: DType.allCases)
    func x1DType(dtype: DType) {
        // x2, output and bias follow x1, so only the x1 constraint can fire.
        var call = Call.baseline(bias: true)
        call.x1.dtype = dtype
        call.x2.dtype = dtype
        call.bias?.dtype = dtype
        call.outputDType = dtype
        let expected = [DType.float16, .bfloat16].contains(dtype) ? [] : ["MMRS-X1-DTYPE"]
        #expect(call.violatedIDs == expected, "x1 dtype = \(dtype)")
    }

    @Test("x2 dtype must equal x1 dtype", arguments: [DType.float16, .bfloat16], DType.allCases)
    func x2DType(x1: DType, x2: DType) {
        var call = Call.baseline(dtype: x1)
        call.x2.dtype = x2
        #expect(call.violatedIDs == (x2 == x1 ? [] : ["MMRS-X2-DTYPE"]), "x1 = \(x1), x2 = \(x2)")
    }

    @Test("output dtype must equal x1 dtype", arguments: [DType.float16, .bfloat16], DType.allCases)
    func outputDType(x1: DType, output: DType) {
        var call = Call.baseline(dtype: x1)
        call.outputDType = output
        #expect(call.violatedIDs == (output == x1 ? [] : ["MMRS-OUTPUT-DTYPE"]), "x1 = \(x1), output = \(output)")
    }

    @Test("bias dtype must equal x1 dtype (a bf16 x1 takes a bf16 bias, not fp32)",
          arguments: [DType.float16, .bfloat16], DType.allCases)
    func biasDType(x1: DType, bias: DType) {
        var call = Call.baseline(dtype: x1, bias: true)
        call.bias?.dtype = bias
        #expect(call.violatedIDs == (bias == x1 ? [] : ["MMRS-BIAS-DTYPE"]), "x1 = \(x1), bias = \(bias)")
    }

    // MARK: - ranks and layout

    @Test("x1 must be 2-D; m is then not divisibility-checked", arguments: [[], [1024], [1, 32, 256], [2, 2, 8, 256]])
    func x1Rank(shape: [Int]) {
        var call = Call.baseline()
        call.x1.shape = shape
        #expect(call.violatedIDs == ["MMRS-X1-2D"], "x1 shape = \(shape)")
    }

    @Test("x2 must be 2-D; a bias cannot be length-checked against a malformed x2",
          arguments: [[], [256], [1, 256, 128], [2, 2, 256, 128]])
    func x2Rank(shape: [Int]) {
        for bias in [false, true] {
            var call = Call.baseline(bias: bias)
            call.x2.shape = shape
            #expect(call.violatedIDs == ["MMRS-X2-2D"], "x2 shape = \(shape), bias = \(bias)")
        }
    }

    @Test("x1 may not arrive transposed")
    func x1Transposed() {
        var call = Call.baseline()
        call.x1Transposed = true
        #expect(call.violatedIDs == ["MMRS-X1-NOT-TRANSPOSED"])
    }

    /// (stored x2 shape, x2Transposed, expected ids) for x1 (32, 256): x2 is read logically.
    static let x2Layouts: [([Int], Bool, [String])] = [
        ([256, 128], false, []),               // (k, n) as is
        ([128, 256], true, []),                // (n, k) stored transposed
        ([128, 256], false, ["MMRS-K-MATCH"]), // the same memory read as (k, n) has k = 128
        ([256, 128], true, ["MMRS-K-MATCH"]),  // (k, n) marked transposed reads as k = 128
        ([256, 256], false, []),               // square: both readings agree
        ([256, 256], true, []),
        ([257, 128], false, ["MMRS-K-MATCH"]),
        ([128, 255], true, ["MMRS-K-MATCH"]),
    ]

    @Test("x2's shape is interpreted logically: k is its first axis, or its second when transposed",
          arguments: x2Layouts)
    func x2Layout(shape: [Int], transposed: Bool, expected: [String]) {
        var call = Call.baseline()
        call.x2 = TensorSpec(.float16, shape)
        call.x2Transposed = transposed
        #expect(call.violatedIDs == expected, "x2 stored \(shape), x2Transposed = \(transposed)")
    }

    // MARK: - k

    /// k = 0 is its own error; otherwise k must lie in [256, 65535).
    static let kCases: [(Int, [String])] = [
        (0, ["MMRS-K-ZERO"]),
        (1, ["MMRS-K-RANGE"]),
        (255, ["MMRS-K-RANGE"]),
        (256, []),
        (257, []),
        (4096, []),
        (65534, []),
        (65535, ["MMRS-K-RANGE"]),
        (65536, ["MMRS-K-RANGE"]),
        (1 << 20, ["MMRS-K-RANGE"]),
    ]

    @Test("k must lie in [256, 65535); k = 0 is reported as MMRS-K-ZERO alone", arguments: kCases)
    func kRange(k: Int, expected: [String]) {
        // k is changed in x1 and x2 together so that MMRS-K-MATCH holds.
        for x2Transposed in [false, true] {
            let call = Call.baseline(k: k, x2Transposed: x2Transposed)
            #expect(call.violatedIDs == expected, "k = \(k), x2Transposed = \(x2Transposed)")
        }
    }

    @Test("x1's k is range-checked, x2's k only matched against it")
    func kRangeReadsX1() {
        var call = Call.baseline()
        call.x2.shape = [255, 128]
        #expect(call.violatedIDs == ["MMRS-K-MATCH"])
    }

    // MARK: - world size

    /// Spec §9, written out here rather than read from `Platform` so that the test checks it.
    static let specWorldSizes: [Platform: Set<Int>] = [.a2: [2, 4, 8], .a3: [2, 4, 8, 16, 32]]

    @Test("world_size must be in the platform's set: 2, 4, 8 on A2; 2, 4, 8, 16, 32 on A3",
          arguments: Platform.allCases, [-2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 15, 16, 17, 24, 31, 32, 33, 64])
    func worldSize(platform: Platform, worldSize: Int) {
        // m = 32 is divisible by every accepted world size, so only MMRS-WORLD-SIZE can fire.
        var call = Call.baseline(platform: platform)
        call.worldSize = worldSize
        let accepted = Self.specWorldSizes[platform]?.contains(worldSize) ?? false
        #expect(call.violatedIDs == (accepted ? [] : ["MMRS-WORLD-SIZE"]), "world_size = \(worldSize) on \(platform)")
    }

    @Test("the platform profiles list exactly the world sizes of spec §9", arguments: Platform.allCases)
    func platformWorldSizes(platform: Platform) {
        #expect(Set(platform.matmulReduceScatterWorldSizes) == Self.specWorldSizes[platform], "\(platform)")
    }

    // MARK: - m divisible by world_size

    /// (platform, world size, m, expected ids): the multiples of ws around each boundary.
    static let divisibility: [(Platform, Int, Int, [String])] = [
        (.a2, 2, 0, []),   // m = 0 is a valid no-op
        (.a2, 2, 1, ["MMRS-M-DIVISIBLE"]),
        (.a2, 2, 2, []),
        (.a2, 2, 3, ["MMRS-M-DIVISIBLE"]),
        (.a2, 4, 2, ["MMRS-M-DIVISIBLE"]),
        (.a2, 4, 4, []),
        (.a2, 4, 6, ["MMRS-M-DIVISIBLE"]),
        (.a2, 8, 7, ["MMRS-M-DIVISIBLE"]),
        (.a2, 8, 8, []),
        (.a2, 8, 9, ["MMRS-M-DIVISIBLE"]),
        (.a2, 8, 12, ["MMRS-M-DIVISIBLE"]),
        (.a3, 16, 8, ["MMRS-M-DIVISIBLE"]),
        (.a3, 16, 48, []),
        (.a3, 32, 0, []),
        (.a3, 32, 31, ["MMRS-M-DIVISIBLE"]),
        (.a3, 32, 32, []),
        (.a3, 32, 33, ["MMRS-M-DIVISIBLE"]),
        (.a3, 32, 48, ["MMRS-M-DIVISIBLE"]),
        (.a3, 32, 4096, []),
        // Against an unsupported world size only MMRS-WORLD-SIZE is reported.
        (.a2, 3, 4, ["MMRS-WORLD-SIZE"]),
        (.a2, 16, 8, ["MMRS-WORLD-SIZE"]),
        (.a2, 0, 5, ["MMRS-WORLD-SIZE"]),
        (.a3, -2, 3, ["MMRS-WORLD-SIZE"]),
    ]

    @Test("m must be divisible by world_size (checked against a supported world size only)",
          arguments: divisibility)
    func mDivisible(platform: Platform, worldSize: Int, m: Int, expected: [String]) {
        let call = Call.baseline(platform: platform, worldSize: worldSize, m: m)
        #expect(call.violatedIDs == expected, "m = \(m), world_size = \(worldSize) on \(platform)")
    }

    // MARK: - attributes

    static let reduceOps: [(String, [String])] = [
        ("sum", []),
        ("", ["MMRS-REDUCE-OP"]),
        ("avg", ["MMRS-REDUCE-OP"]),
        ("max", ["MMRS-REDUCE-OP"]),
        ("min", ["MMRS-REDUCE-OP"]),
        ("prod", ["MMRS-REDUCE-OP"]),
        ("SUM", ["MMRS-REDUCE-OP"]),
        ("sum ", ["MMRS-REDUCE-OP"]),
        ("su", ["MMRS-REDUCE-OP"]),
    ]

    @Test("reduce_op must be \"sum\", spelled exactly", arguments: reduceOps)
    func reduceOp(reduceOp: String, expected: [String]) {
        var call = Call.baseline()
        call.reduceOp = reduceOp
        #expect(call.violatedIDs == expected, "reduce_op = \"\(reduceOp)\"")
    }

    @Test("comm_turn must be 0", arguments: [Int.min, -1, 0, 1, 2, Int.max])
    func commTurn(commTurn: Int) {
        var call = Call.baseline()
        call.commTurn = commTurn
        #expect(call.violatedIDs == (commTurn == 0 ? [] : ["MMRS-COMM-TURN"]), "comm_turn = \(commTurn)")
    }

    // MARK: - bias

    /// Bias shapes for n = 128, k = 256, m = 32.
    static let biasShapes: [([Int], [String])] = [
        ([128], []),
        ([127], ["MMRS-BIAS-SHAPE"]),
        ([129], ["MMRS-BIAS-SHAPE"]),
        ([256], ["MMRS-BIAS-SHAPE"]),   // k, not n
        ([32], ["MMRS-BIAS-SHAPE"]),    // m, not n
        ([4], ["MMRS-BIAS-SHAPE"]),     // m/ws, not n
        ([0], ["MMRS-BIAS-SHAPE"]),
        ([], ["MMRS-BIAS-SHAPE"]),
        ([1, 128], ["MMRS-BIAS-SHAPE"]),
        ([128, 1], ["MMRS-BIAS-SHAPE"]),
        ([32, 128], ["MMRS-BIAS-SHAPE"]),
    ]

    @Test("bias, when given, must be 1-D of length n (x2 read logically)", arguments: biasShapes)
    func biasShape(shape: [Int], expected: [String]) {
        for x2Transposed in [false, true] {
            var call = Call.baseline(x2Transposed: x2Transposed, bias: true)
            call.bias?.shape = shape
            #expect(call.violatedIDs == expected, "bias shape = \(shape), x2Transposed = \(x2Transposed)")
        }
    }

    // MARK: - group name

    static let groupNames: [(String, [String])] = [
        ("", ["MMRS-GROUP-EMPTY"]),
        ("g", []),
        (groupName(bytes: 127), []),
        (groupName(bytes: 128), ["MMRS-GROUP-LENGTH"]),
        (groupName(bytes: 129), ["MMRS-GROUP-LENGTH"]),
        // Lengths count UTF-8 bytes, not characters.
        (groupName(bytes: 127, repeating: "é"), []),
        (groupName(bytes: 128, repeating: "é"), ["MMRS-GROUP-LENGTH"]),
        (groupName(bytes: 127, repeating: "😀"), []),
        (groupName(bytes: 128, repeating: "😀"), ["MMRS-GROUP-LENGTH"]),
    ]

    @Test("hcom must be non-empty and shorter than 128 UTF-8 bytes", arguments: groupNames)
    func group(name: String, expected: [String]) {
        var call = Call.baseline()
        call.group = name
        #expect(call.violatedIDs == expected, "hcom of \(name.utf8.count) bytes, \(name.count) characters")
    }

    // MARK: - several violations

    static let combinations: [(String, @Sendable (inout Call) -> Void, [String])] = [
        ("k = 255 and world_size = 3", { $0 = Call.baseline(worldSize: 3, k: 255) },
         ["MMRS-K-RANGE", "MMRS-WORLD-SIZE"]),
        ("m = 12 on 8 ranks and reduce_op = \"max\"", { $0 = Call.baseline(m: 12); $0.reduceOp = "max" },
         ["MMRS-M-DIVISIBLE", "MMRS-REDUCE-OP"]),
        ("a bf16 bias of length 64 for fp16 x1", { $0.bias = TensorSpec(.bfloat16, [64]) },
         ["MMRS-BIAS-DTYPE", "MMRS-BIAS-SHAPE"]),
        ("x1 of k = 0 against x2 of k = 256", { $0.x1.shape = [32, 0] },
         ["MMRS-K-MATCH", "MMRS-K-ZERO"]),
        ("3-D x1 and a 129-byte hcom", { $0.x1.shape = [1, 32, 256]; $0.group = groupName(bytes: 129) },
         ["MMRS-X1-2D", "MMRS-GROUP-LENGTH"]),
    ]

    @Test("a call breaking two constraints reports both, in catalogue order", arguments: combinations)
    func twoViolations(label: String, change: @Sendable (inout Call) -> Void, expected: [String]) {
        var call = Call.baseline()
        change(&call)
        #expect(call.violatedIDs == expected, "\(label)")
    }

    @Test("violations come in catalogue order whatever order the parameters were broken in")
    func catalogueOrder() {
        // Broken from the last catalogue entry to the first.
        var call = Call.baseline(platform: .a2, m: 20)
        call.group = groupName(bytes: 200)
        call.bias = TensorSpec(.float32, [1, 1])
        call.commTurn = 3
        call.reduceOp = "avg"
        call.x1Transposed = true
        call.outputDType = .float32
        call.x2.dtype = .bfloat16
        let expected = ["MMRS-X2-DTYPE", "MMRS-OUTPUT-DTYPE", "MMRS-BIAS-DTYPE", "MMRS-X1-NOT-TRANSPOSED",
                        "MMRS-M-DIVISIBLE", "MMRS-REDUCE-OP", "MMRS-COMM-TURN", "MMRS-BIAS-SHAPE",
                        "MMRS-GROUP-LENGTH"]
        #expect(call.violatedIDs == expected)
        #expect(Call.constraints.map(\.id).filter(expected.contains) == expected)
    }

    // MARK: - absurd values

    static let extremes = [Int.min, Int.min + 1, -1, 0, 1, Int.max - 1, Int.max]

    @Test("no value of any size, world size or attribute makes validation or the output shape trap",
          arguments: extremes, extremes)
    func absurdValues(a: Int, b: Int) {
        for platform in Platform.allCases {
            let calls = [
                Call(platform: platform, worldSize: a, x1: TensorSpec(.float16, [b, a]),
                     x2: TensorSpec(.float16, [a, b]), bias: TensorSpec(.float16, [b]), commTurn: a),
                Call(platform: platform, worldSize: b, x1: TensorSpec(.float16, [a, b]),
                     x2: TensorSpec(.float16, [b, a]), x2Transposed: true, bias: TensorSpec(.float16, [a, b])),
                Call(platform: platform, worldSize: 8, x1: TensorSpec(.float16, [a, 256]),
                     x2: TensorSpec(.float16, [256, b])),
            ]
            for call in calls {
                // Reaching the expectation at all is the test: a trap would end the process.
                #expect(call.violatedIDs.count <= Call.constraints.count, "a = \(a), b = \(b)")
                #expect(call.outputSlots.count == 1, "a = \(a), b = \(b)")
            }
        }
    }
}
