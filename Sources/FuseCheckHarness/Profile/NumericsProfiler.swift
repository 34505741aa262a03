import Foundation
import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps

/// Measures a backend's numerics profile (spec P2) with designed probes.
///
/// Each probe is a dot product of exact powers of two (`ProbeBatch`) chosen so that the
/// alternatives of one property give different bits; each property's decision maps the probes'
/// outputs to one documented value (`ProfileProperty`) or to `undetermined` when they match
/// none of the alternatives, when a probe was rejected or failed, or when an earlier property
/// that the probe depends on is itself undetermined. Nothing is guessed. u below is T's unit
/// roundoff (2^-11 for fp16, 2^-8 for bf16), so 1 + u lies halfway between 1 and 1 + 2u.
public struct NumericsProfiler {
    /// The backend measured.
    public let backend: any Backend

    public init(backend: any Backend) { self.backend = backend }

    /// The operators profiled.
    public static let operators: [OperatorID] = [
        AllGatherMatmulCall.operatorID, AlltoAllAllGatherBatchMatMulCall.operatorID, MatmulReduceScatterCall.operatorID,
        BatchMatMulReduceScatterAlltoAllCall.operatorID,
    ]

    /// The operators whose outputs are cross-rank sums (the reduction properties apply).
    static let reducingOperators: Set<OperatorID> = [
        MatmulReduceScatterCall.operatorID, BatchMatMulReduceScatterAlltoAllCall.operatorID,
    ]
    /// The dtypes profiled.
    public static let dtypes: [DType] = [.float16, .bfloat16]

    /// The profile of every operator (or the ones named) in both dtypes.
    public func measure(operators: [OperatorID] = NumericsProfiler.operators) -> ProfileReport {
        var profiles: [OperatorProfile] = []
        for op in operators {
            for dtype in Self.dtypes {
                profiles.append(measure(op, dtype))
            }
        }
        return ProfileReport(backend: backend.name, profiles: profiles)
    }

    // MARK: - Running probes

    /// The outcome of one batch: per column the values on every destination, or why there are none.
    struct BatchResult {
        var values: [[Float]]?
        var failure: String?
        var deterministic: Bool?

        /// Column j's value on destination 0, if the batch completed.
        func first(_ j: Int) -> Float? { values?[j].first }
    }

    /// Runs `batch` twice (the second run for determinism).
    func run(_ batch: ProbeBatch) -> BatchResult {
        let testCase = batch.testCase
        let call: any HarnessCall
        do { call = try testCase.makeCall() } catch {
            return BatchResult(values: nil, failure: "\(testCase.id): \(error)")
        }
        let inputs = batch.inputs(rankCount: call.rankCount)
        var runs: [WorldTensors] = []
        for _ in 0..<2 {
            switch backend.run(testCase, call: call, inputs: inputs) {
            case .completed(let outputs): runs.append(outputs)
            case .rejected(_, let message):
                return BatchResult(values: nil, failure: "\(testCase.id) rejected: \(message)")
            case .failed(let failure): return BatchResult(values: nil, failure: "\(testCase.id): \(failure)")
            }
        }
        var values: [[Float]] = []
        for j in batch.columns.indices {
            guard let column = batch.values(of: runs[0], column: j) else {
                return BatchResult(values: nil, failure: "\(testCase.id): an output is missing or too small")
            }
            values.append(column)
        }
        let same = runs[0].names == runs[1].names && (0..<runs[0].rankCount).allSatisfy { rank in
            runs[0].names.allSatisfy { name in runs[0][rank, name]?.bitPatterns == runs[1][rank, name]?.bitPatterns }
        }
        return BatchResult(values: values, failure: nil, deterministic: same)
    }

    // MARK: - The probes

    /// Positions of the designed left entries in the finite batch.
    private enum Slot {
        static let large = 250, tiny = 251, subnormal = 252
    }

    /// T's constants: u, the smallest subnormal s, and two normal factors whose product is
    /// subnormal in T.
    private struct Constants {
        let u: Float
        let subnormal: Float
        let tinyFactors: (Float, Float)

        init(_ dtype: DType) {
            u = Float(dtype.unitRoundoff)
            if dtype == .float16 {
                subnormal = 0x1p-24
                tinyFactors = (0x1p-7, 0x1p-10)  // 2^-17: normal in fp32, subnormal in fp16
            } else {
                subnormal = 0x1p-133
                tinyFactors = (0x1p-64, 0x1p-64)  // 2^-128: subnormal in fp32 and bf16
            }
        }
    }

    /// Split-K chunk sizes tried (a pattern starting at j shows a chunk boundary at or before j).
    static let chunkCandidates = [4, 8, 16, 32, 64, 128]

    /// Columns of the finite batch, by name, in order.
    private enum FiniteColumn: Int, CaseIterable {
        case accWide, accNarrow, orderA, orderB
        case round1, round2, round3
        case intermediateNearest, intermediateTowardZero
        case subnormalLeft, subnormalRight, subnormalResult
        case reductionPrecision, reductionOrder32, reductionOrderT
    }

    private func finiteBatch(_ op: OperatorID, _ dtype: DType) -> ProbeBatch {
        let c = Constants(dtype)
        let u = c.u
        var columns: [ProbeBatch.Column] = []
        for column in FiniteColumn.allCases {
            switch column {
            // fp32: the two 2^-9 are lost against 2^15 (each a tie to even): 0; wider: 2^-8.
            case .accWide: columns.append(.init([0: 0x1p15, 1: 0x1p-9, 2: 0x1p-9, 3: -0x1p15]))
            // fp32 or wider: 2^-11 exactly; a 16-bit accumulator loses both 2^-12: 0.
            case .accNarrow: columns.append(.init([0: 1, 1: 0x1p-12, 2: 0x1p-12, 3: -1]))
            // In fp32: ascending 0, descending 2^-13, pairwise 2^-14, split-K (chunks >= 4) 0.
            case .orderA: columns.append(.init([0: 0x1p10, 1: 0x1p-14, 2: 0x1p-14, 3: -0x1p10]))
            // In fp32: ascending 0; descending, pairwise and split-K 2^-13.
            case .orderB: columns.append(.init([0: 0x1p10, 253: 0x1p-14, 254: 0x1p-14, 255: -0x1p10]))
            // 1 + bias: 1 + u (tie), 1 + 3u (tie), 1 + 1.5u (above half).
            case .round1: columns.append(.init([0: 1], bias: u))
            case .round2: columns.append(.init([0: 1], bias: 3 * u))
            case .round3: columns.append(.init([0: 1], bias: 1.5 * u))
            // (1 + 0.75u) + u/2: rounded once 1 + 2u; rounded to T first 1 (any nearest rule).
            case .intermediateNearest: columns.append(.init([0: 1, 1: u / 2, 2: u / 4], bias: u / 2))
            // (1 + 1.75u) + u/4 = 1 + 2u exactly; truncated to T first: 1.
            case .intermediateTowardZero: columns.append(.init([0: 1, 1: u, 2: u / 2, 3: u / 4], bias: u / 4))
            // s * 2^10 with s subnormal in the left, then the right operand: normal in T.
            case .subnormalLeft: columns.append(.init([Slot.subnormal: 0x1p10]))
            case .subnormalRight: columns.append(.init([Slot.large: c.subnormal]))
            // A product of two normal T values that is subnormal in T.
            case .subnormalResult: columns.append(.init([Slot.tiny: c.tinyFactors.1]))
            // Partials 1 + u/2 and -1: fp32 u/2 in any order; rounded to T first 0.
            case .reductionPrecision: columns.append(.init(ranks: [[0: 1, 1: u / 2], [0: -1]]))
            // Partials 2^10, 2^-14, 2^-14, -2^10: fp32 rank order 0 on every destination.
            case .reductionOrder32:
                columns.append(.init(ranks: [[0: 0x1p10], [0: 0x1p-14], [0: 0x1p-14], [0: -0x1p10]]))
            // Partials 1, u, u, -1: summed in T in rank order 0 on every destination.
            case .reductionOrderT: columns.append(.init(ranks: [[0: 1], [0: u], [0: u], [0: -1]]))
            }
        }
        for j in Self.chunkCandidates {
            columns.append(.init([0: 0x1p10, j: 0x1p-14, j + 1: 0x1p-14, j + 2: -0x1p10]))
        }
        if Self.hasWideBias(op, dtype) {
            // 1 + an fp32 bias just off a rounding boundary, one column per output rounding; the
            // bias rounded to T first lands on the boundary and the output on the other side.
            // nearest-even: 1 + (u + u 2^-10) is 1 + 2u, 1 + u (tie) is 1.
            // half-away: 1 + (u - u 2^-10) is 1, 1 + u (tie) is 1 + 2u.
            // toward-zero: 1 + (2u - 2u 2^-10) is 1, 1 + 2u is 1 + 2u.
            for bias in Self.wideBiases(u) { columns.append(.init([0: 1], bias: bias)) }
        }
        return ProbeBatch(op: op, dtype: dtype,
                          left: [Slot.large: 0x1p10, Slot.tiny: c.tinyFactors.0, Slot.subnormal: c.subnormal],
                          columns: columns)
    }

    /// Left entry 0 is +inf: columns 1, -1 and s give +inf, -inf and inf * s.
    private func infinityBatch(_ op: OperatorID, _ dtype: DType, _ activation: ActivationType) -> ProbeBatch {
        ProbeBatch(op: op, dtype: dtype, activation: activation, left: [0: .infinity],
                   columns: [.init([0: 1]), .init([0: -1]), .init([0: Constants(dtype).subnormal])])
    }

    /// Left entry 0 is NaN.
    private func nanBatch(_ op: OperatorID, _ dtype: DType, _ activation: ActivationType) -> ProbeBatch {
        ProbeBatch(op: op, dtype: dtype, activation: activation, left: [0: .nan], columns: [.init([0: 1])])
    }

    /// The activation's argument x = -3, where the GELU forms and the FastGELU slopes differ by
    /// more than 10%.
    static let activationPoint: Float = -3

    private func activationBatch(_ op: OperatorID, _ dtype: DType, _ activation: ActivationType) -> ProbeBatch {
        ProbeBatch(op: op, dtype: dtype, activation: activation, columns: [.init([0: Self.activationPoint])])
    }

    // MARK: - Deciding

    /// One operator and dtype being decided: the finite probes' results and the properties so far.
    private struct Decision {
        let op: OperatorID
        let dtype: DType
        let c: Constants
        let finite: BatchResult
        var p: [ProfileProperty: ProfileValue] = [:]
        var accumulator: String?
        var rounding: String?

        var u: Float { c.u }
        func value(_ column: FiniteColumn) -> Float? { finite.first(column.rawValue) }
        /// Why a property is undetermined when the finite batch failed ("" otherwise).
        var why: String { finite.failure.map { "probe failed: \($0)" } ?? "" }
        /// Subnormals and the reduction need an fp32 or wider accumulator.
        var exactAccumulator: Bool { accumulator == "fp32" || accumulator == "wider" }
        var narrowWhy: String {
            finite.failure != nil ? why : "needs an fp32 or wider accumulator (a narrower one "
                + "rounds and underflows the probes itself)"
        }
    }

    /// The profile of one operator and dtype: the finite batch, then each property in turn (a
    /// later one may need an earlier one decided).
    func measure(_ op: OperatorID, _ dtype: DType) -> OperatorProfile {
        var deterministic: [Bool] = []
        func record(_ result: BatchResult) -> BatchResult {
            if let same = result.deterministic { deterministic.append(same) }
            return result
        }
        var d = Decision(op: op, dtype: dtype, c: Constants(dtype), finite: record(run(finiteBatch(op, dtype))))
        decideAccumulator(&d)
        decideOrder(&d)
        decideOutputRounding(&d)
        decideIntermediateRounding(&d)
        decideBiasAddition(&d)
        decideSubnormals(&d, infinities: record(run(infinityBatch(op, dtype, .none))))
        decideNaNAndActivations(&d, record: record)
        decideReduction(&d)
        d.p[.determinism] = deterministic.isEmpty ? .undetermined("no probe completed")
            : .value(deterministic.allSatisfy { $0 } ? "deterministic" : "nondeterministic")
        return OperatorProfile(op: op, dtype: dtype, properties: d.p)
    }

    /// The accumulator: fp32, wider or narrower.
    private func decideAccumulator(_ d: inout Decision) {
        if let wide = d.value(.accWide), let narrow = d.value(.accNarrow) {
            switch (wide, narrow) {
            case (0, 0x1p-11): d.accumulator = "fp32"
            case (0x1p-8, 0x1p-11): d.accumulator = "wider"
            case (0, 0): d.accumulator = "narrower"
            default: break
            }
            d.p[.accumulator] = d.accumulator.map(ProfileValue.value)
                ?? .undetermined("accumulator probes gave \(wide), \(narrow): none of fp32 (0, 2^-11), "
                                 + "wider (2^-8, 2^-11), narrower (0, 0)")
        } else {
            d.p[.accumulator] = .undetermined(d.why)
        }
    }

    /// The summation order (visible only with an fp32 accumulator).
    private func decideOrder(_ d: inout Decision) {
        if d.accumulator == "fp32", let a = d.value(.orderA), let b = d.value(.orderB) {
            let chunks = Self.chunkCandidates.indices.compactMap {
                d.finite.first(FiniteColumn.allCases.count + $0)
            }
            switch (a, b) {
            case (0, 0): d.p[.order] = .value("k-ascending")
            case (0x1p-13, 0x1p-13): d.p[.order] = .value("k-descending")
            case (0x1p-14, 0x1p-13): d.p[.order] = .value("pairwise")
            case (0, 0x1p-13):
                // The smallest candidate j whose pattern, starting at j, sums apart from entry 0.
                if let first = chunks.firstIndex(of: 0x1p-13),
                   chunks[..<first].allSatisfy({ $0 == 0 }), chunks[first...].allSatisfy({ $0 == 0x1p-13 }),
                   first > 0 {
                    d.p[.order] = .value("split-k:\(Self.chunkCandidates[first])")
                } else {
                    d.p[.order] = .value("split-k")
                }
            default:
                d.p[.order] = .undetermined("order probes gave \(a), \(b): none of ascending (0, 0), descending "
                                          + "(2^-13, 2^-13), pairwise (2^-14, 2^-13), split-k (0, 2^-13)")
            }
        } else {
            d.p[.order] = .undetermined(d.finite.failure != nil ? d.why
                                      : "the summation order is visible only with an fp32 accumulator")
        }
    }

    /// The output rounding: 1 + u, 1 + 3u (ties), 1 + 1.5u.
    private func decideOutputRounding(_ d: inout Decision) {
        let u = d.u
        if let r1 = d.value(.round1), let r2 = d.value(.round2), let r3 = d.value(.round3) {
            switch (r1, r2, r3) {
            case (1, 1 + 4 * u, 1 + 2 * u): d.rounding = "nearest-even"
            case (1 + 2 * u, 1 + 4 * u, 1 + 2 * u): d.rounding = "half-away"
            case (1, 1 + 2 * u, 1): d.rounding = "toward-zero"
            default: break
            }
            d.p[.outputRounding] = d.rounding.map(ProfileValue.value)
                ?? .undetermined("rounding probes gave \(r1), \(r2), \(r3): no known rule")
        } else {
            d.p[.outputRounding] = .undetermined(d.why)
        }
    }

    /// Intermediate rounding (needs the accumulator exact on the probe and a known rounding).
    private func decideIntermediateRounding(_ d: inout Decision) {
        let u = d.u
        if d.exactAccumulator, let rounding = d.rounding,
           let nearest = d.value(.intermediateNearest), let towardZero = d.value(.intermediateTowardZero) {
            let observed = rounding == "toward-zero" ? towardZero : nearest
            switch observed {
            case 1 + 2 * u: d.p[.intermediateRounding] = .value("none")
            case 1: d.p[.intermediateRounding] = .value("T")
            default: d.p[.intermediateRounding] = .undetermined("intermediate probe gave \(observed)")
            }
        } else {
            d.p[.intermediateRounding] = .undetermined(d.finite.failure != nil ? d.why
                                                     : "needs a decided accumulator (fp32 or wider) and rounding")
        }
    }

    /// Bias addition: without intermediate rounding a T bias meets the unrounded accumulator; an
    /// fp32 bias (the expert operators' bf16) may also be rounded to T first.
    private func decideBiasAddition(_ d: inout Decision) {
        let u = d.u
        // fp32 bias (AlltoAllAllGatherBatchMatMul bf16) may also be rounded to T first.
        let wideBiasColumn = FiniteColumn.allCases.count + Self.chunkCandidates.count
        let wideBiasIndex = ["nearest-even": 0, "half-away": 1, "toward-zero": 2][d.rounding ?? ""]
        switch d.p[.intermediateRounding]?.decided {
        case "none" where Self.hasWideBias(d.op, d.dtype):
            let observed = wideBiasIndex.flatMap { d.finite.first(wideBiasColumn + $0) }
            let unrounded: Float = d.rounding == "nearest-even" ? 1 + 2 * u : 1
            let roundedFirst: Float = d.rounding == "nearest-even" ? 1 : 1 + 2 * u
            switch observed {
            case unrounded?: d.p[.biasAddition] = .value("fp32")
            case roundedFirst?: d.p[.biasAddition] = .value("T")
            default: d.p[.biasAddition] = .undetermined("fp32-bias probe gave \(String(describing: observed))")
            }
        case "none": d.p[.biasAddition] = .value("fp32")
        case "T": d.p[.biasAddition] = .undetermined("after rounding to T, adding a T bias in T or in fp32 "
                                                  + "and then casting give the same bits on these probes")
        default: d.p[.biasAddition] = .undetermined("needs intermediate rounding decided")
        }
    }

    /// Subnormal inputs and results (an accumulator narrower than fp32 has its own range: it would
    /// answer instead).
    private func decideSubnormals(_ d: inout Decision, infinities: BatchResult) {
        let c = d.c
        if !d.exactAccumulator {
            d.p[.subnormalInputs] = .undetermined(d.narrowWhy)
        } else if let left = d.value(.subnormalLeft), let right = d.value(.subnormalRight) {
            let product = c.subnormal * 0x1p10
            let infTimesSubnormal = infinities.first(2)
            switch (left, right, infTimesSubnormal) {
            case (product, product, let x) where x == nil || x == .infinity:
                d.p[.subnormalInputs] = .value("preserved")
            case (0, 0, let x) where x == nil || x!.isNaN:
                d.p[.subnormalInputs] = .value("flushed")
            default:
                d.p[.subnormalInputs] = .undetermined("subnormal-input probes gave \(left), \(right), "
                                                    + "inf * s = \(String(describing: infTimesSubnormal))")
            }
        } else {
            d.p[.subnormalInputs] = .undetermined(d.why)
        }
        if !d.exactAccumulator {
            d.p[.subnormalResults] = .undetermined(d.narrowWhy)
        } else if let result = d.value(.subnormalResult) {
            switch result {
            case c.tinyFactors.0 * c.tinyFactors.1: d.p[.subnormalResults] = .value("preserved")
            case 0: d.p[.subnormalResults] = .value("flushed")
            default: d.p[.subnormalResults] = .undetermined("subnormal-result probe gave \(result)")
            }
        } else {
            d.p[.subnormalResults] = .undetermined(d.why)
        }
    }

    /// NaN propagation, and for AlltoAllAllGatherBatchMatMul the activations at ±inf and their forms.
    private func decideNaNAndActivations(_ d: inout Decision, record: (BatchResult) -> BatchResult) {
        let isBatched = d.op == AlltoAllAllGatherBatchMatMulCall.operatorID
        var nanResults: [Float?] = [record(run(nanBatch(d.op, d.dtype, .none))).first(0)]
        if isBatched {
            var limits: [Bool?] = []
            for activation in [ActivationType.gelu, .silu, .relu, .fastGelu] {
                let result = record(run(infinityBatch(d.op, d.dtype, activation)))
                for (j, argument) in [(0, Float.infinity), (1, -Float.infinity)] {
                    guard let value = result.first(j) else { limits.append(nil); continue }
                    if value.isNaN { limits.append(false); continue }
                    let limit: Float = argument > 0 ? .infinity : 0
                    limits.append(value == limit ? true : nil)
                }
                nanResults.append(record(run(nanBatch(d.op, d.dtype, activation))).first(0))
            }
            if limits.contains(where: { $0 == nil }) {
                d.p[.activationAtInfinity] = .undetermined("an activation probe at ±inf failed or gave a value "
                                                         + "that is neither the limit nor NaN")
            } else {
                d.p[.activationAtInfinity] = .value(limits.allSatisfy { $0 == true } ? "limit" : "NaN")
            }
            d.p[.gelu] = classify(record(run(activationBatch(d.op, d.dtype, .gelu))).first(0), dtype: d.dtype, [
                ("tanh", ActivationType.gelu.apply(Double(Self.activationPoint))),
                ("erf", Self.geluErf(Double(Self.activationPoint))),
                ("silu", ActivationType.silu.apply(Double(Self.activationPoint))),
            ])
            let fastGelu = record(run(activationBatch(d.op, d.dtype, .fastGelu))).first(0)
            d.p[.fastGeluSlope] = classify(fastGelu, dtype: d.dtype, [
                ("1.702", ActivationType.fastGelu.apply(Double(Self.activationPoint))),
                ("1", ActivationType.silu.apply(Double(Self.activationPoint))),
            ])
        } else {
            for property in [ProfileProperty.activationAtInfinity, .gelu, .fastGeluSlope] {
                d.p[property] = .notApplicable
            }
        }
        if nanResults.contains(where: { $0 == nil }) {
            d.p[.nan] = .undetermined("a NaN probe failed")
        } else {
            d.p[.nan] = .value(nanResults.allSatisfy { $0!.isNaN } ? "propagated" : "suppressed")
        }
    }

    /// The cross-rank reduction's precision and order (MatmulReduceScatter, the combine's TP sum).
    private func decideReduction(_ d: inout Decision) {
        let u = d.u
        if Self.reducingOperators.contains(d.op) && !d.exactAccumulator {
            d.p[.reductionPrecision] = .undetermined(d.narrowWhy)
            d.p[.reductionOrder] = .undetermined(d.narrowWhy)
        } else if Self.reducingOperators.contains(d.op) {
            let precision = d.finite.values?[FiniteColumn.reductionPrecision.rawValue]
            let precisionValue: String?
            switch precision {
            case let values? where values.allSatisfy({ $0 == u / 2 }): precisionValue = "fp32"
            case let values? where values.allSatisfy({ $0 == 0 }): precisionValue = "T"
            default: precisionValue = nil
            }
            d.p[.reductionPrecision] = precisionValue.map(ProfileValue.value)
                ?? .undetermined(precision.map { "reduction probe gave \($0)" } ?? d.why)
            let orderColumn: FiniteColumn? = switch precisionValue {
            case "fp32": .reductionOrder32
            case "T": .reductionOrderT
            default: nil
            }
            if let orderColumn, let values = d.finite.values?[orderColumn.rawValue] {
                d.p[.reductionOrder] = .value(values.allSatisfy { $0 == 0 } ? "rank" : "other")
            } else {
                d.p[.reductionOrder] = .undetermined("needs the reduction precision decided")
            }
        } else {
            d.p[.reductionPrecision] = .notApplicable
            d.p[.reductionOrder] = .notApplicable
        }
    }

    /// The fp32 biases of the wide-bias probe, for nearest-even, half-away and toward-zero output.
    static func wideBiases(_ u: Float) -> [Float] { [u + u * 0x1p-10, u - u * 0x1p-10, 2 * u - 2 * u * 0x1p-10] }

    /// Whether the bias is wider than T (the expert operators' fp32 bias for bf16).
    static func hasWideBias(_ op: OperatorID, _ dtype: DType) -> Bool {
        switch op {
        case AlltoAllAllGatherBatchMatMulCall.operatorID:
            AlltoAllAllGatherBatchMatMulCall.biasDType(for: dtype) != dtype
        case BatchMatMulReduceScatterAlltoAllCall.operatorID:
            BatchMatMulReduceScatterAlltoAllCall.biasDType(for: dtype) != dtype
        default: false
        }
    }

    /// GELU's exact (erf) form, x * Phi(x).
    static func geluErf(_ x: Double) -> Double { 0.5 * x * erfc(-x / 2.0.squareRoot()) }

    /// The name of the alternative within 3% of `value` (the alternatives lie more than 10%
    /// apart; 3% admits any evaluation in fp32 or fp16 and T's rounding).
    private func classify(_ value: Float?, dtype: DType, _ alternatives: [(String, Double)]) -> ProfileValue {
        guard let value else { return .undetermined("the activation probe failed") }
        let matches = alternatives.filter { abs(Double(value) - $0.1) <= 0.03 * abs($0.1) }
        guard matches.count == 1 else {
            return .undetermined("activation probe gave \(value): none of "
                                 + alternatives.map { "\($0.0) \($0.1)" }.joined(separator: ", "))
        }
        return .value(matches[0].0)
    }
}
