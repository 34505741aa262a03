import FuseCheckCore
import FuseCheckEngines
import FuseCheckOps

/// Compares an implementation's outputs with the golden: the single place where pass, warn and
/// fail are decided.
///
/// - Data-movement outputs (gather_out, y2) are compared bit for bit (NaN matches any NaN).
/// - Matmul outputs of `exact`-mode cases are compared bit for bit, +0 matching -0 (the sign of
///   an exact zero sum depends on how an implementation seeds its accumulator).
/// - Other matmul and activated outputs are compared with `TolerancePolicy`'s per-element bounds,
///   the mean-signed-error test, and the vendor criteria alongside.
/// - NaN matches NaN only; inf matches inf of the same sign (or a finite value of that sign within
///   the bound of T's overflow threshold); a missing output or one of the wrong shape or dtype fails.
/// - The implementation-defined behaviours of numerics-profile P1 (`ImplementationDefinedBehaviour`)
///   are recognized per element, counted in `OutputReport.implementationDefined`, and pass unless
///   `strict`.
public struct Comparator: Sendable {
    public var policy = TolerancePolicy()
    /// Which criterion decides the verdict of tolerance comparisons.
    public var criterion: Criterion
    /// Whether implementation-defined behaviours fail (`--strict`) instead of being reported.
    public var strict: Bool
    /// Implementation-defined behaviours a backend's expectations file allows: reported, never
    /// failed, even under `--strict`.
    public var allowed: Set<ImplementationDefinedBehaviour> = []
    /// Whether tolerance reports carry the vendor criteria (`OutputReport.vendor`) when the
    /// criterion is `.fusecheck`, where they only inform. The fuzzer leaves them out: they copied
    /// every output once more and took about 5% of its CPU. Under another criterion they decide
    /// the verdict and are always computed.
    public var reportsVendorCriteria = true

    /// Whether this comparison computes the vendor criteria.
    var computesVendorCriteria: Bool { reportsVendorCriteria || criterion != .fusecheck }

    /// Whether an element showing `behaviour` fails.
    func fails(_ behaviour: ImplementationDefinedBehaviour) -> Bool { strict && !allowed.contains(behaviour) }

    public init(criterion: Criterion = .fusecheck, strict: Bool = false) {
        self.criterion = criterion
        self.strict = strict
    }

    /// Compares every output slot of the call.
    public func compare(_ testCase: Case, call: any HarnessCall, inputs: WorldTensors,
                        expected: WorldTensors, gauge: ReferenceGauge, got: WorldTensors) -> [OutputReport] {
        let flushed = FlushedGolden(call: call, inputs: inputs)
        return call.outputSlots.map { slot in
            if let problem = shapeProblem(slot, call: call, got: got) {
                return OutputReport(name: slot.name, method: "shape", verdict: .fail, elements: 0, failures: 1,
                                    warnings: 0, worst: nil, maxAbsoluteError: .infinity, maxRelativeError: .infinity,
                                    ulpHistogram: [:], message: problem)
            }
            let exactCase = testCase.data == .exact && slot.kind == .matmul
            if slot.kind == .dataMovement || exactCase {
                return bitExact(slot, testCase: testCase, call: call, inputs: inputs, expected: expected, got: got,
                                zerosEqual: slot.kind != .dataMovement)
            }
            return tolerance(slot, call: call, expected: expected, gauge: gauge, flushed: flushed, got: got)
        }
    }

    private func shapeProblem(_ slot: TensorSlot, call: any HarnessCall, got: WorldTensors) -> String? {
        guard got.rankCount == call.rankCount else {
            return "outputs for \(got.rankCount) ranks, expected \(call.rankCount)"
        }
        for rank in 0..<call.rankCount {
            guard let tensor = got[rank, slot.name] else { return "rank \(rank) has no \(slot.name)" }
            if tensor.dtype != slot.spec.dtype {
                return "rank \(rank) \(slot.name) is \(tensor.dtype.shortName), expected \(slot.spec.dtype.shortName)"
            }
            if tensor.shape != slot.spec.shape {
                return "rank \(rank) \(slot.name) has shape \(shapeDescription(tensor.shape)), expected \(shapeDescription(slot.spec.shape))"
            }
        }
        return nil
    }

    // MARK: Bit-exact

    private func bitExact(_ slot: TensorSlot, testCase: Case, call: any HarnessCall, inputs: WorldTensors,
                          expected: WorldTensors, got: WorldTensors, zerosEqual: Bool) -> OutputReport {
        let dtype = slot.spec.dtype
        var mismatches = 0
        var first: ElementReport?
        var elements = 0
        var maxAbsolute = 0.0
        var maxRelative = 0.0
        var histogram = UlpHistogram()
        var implementationDefined: [String: Int] = [:]
        var equal = 0  // counted into the histogram once, not per element
        for rank in 0..<call.rankCount {
            let want = expected[rank, slot.name]!
            let have = got[rank, slot.name]!
            elements += want.count
            let (wanted, had) = (want.values, have.values)
            for index in 0..<want.count {
                let (e, a) = (wanted[index], had[index])
                // Equal Float bits are equal bits of T (both hold values of T exactly).
                var same = e.bitPattern == a.bitPattern || (e.isNaN && a.isNaN)
                    || dtype.bits(of: e) == dtype.bits(of: a)
                if !same, zerosEqual, e == 0, a == 0 {
                    // Every zero of an exact-data matmul is an exact zero: its sign is the seed's.
                    implementationDefined[ImplementationDefinedBehaviour.signOfExactZero.rawValue, default: 0] += 1
                    same = !fails(.signOfExactZero)
                }
                guard !same else { equal += 1; continue }
                mismatches += 1
                if e.isFinite && a.isFinite {
                    let absolute = Double(abs(a - e))
                    maxAbsolute = max(maxAbsolute, absolute)
                    maxRelative = max(maxRelative, absolute / max(Double(abs(e)), 1e-30))
                    histogram.add(distance: ulpDistance(a, e, dtype))
                } else {
                    histogram.addSpecial()
                    maxAbsolute = .infinity
                }
                if first == nil {
                    first = ElementReport(rank: rank, index: want.multiIndex(index), got: a, expected: e)
                }
            }
        }
        histogram.add(distance: 0, count: equal)
        var message = ""
        if let first {
            message = "\(mismatches) of \(elements) elements differ; first at \(first)"
            if testCase.data == .provenance, slot.kind == .dataMovement {
                message += "; " + Provenance.describe(got: first.got, expected: first.expected, testCase: testCase,
                                                      call: call)
            } else if slot.kind != .dataMovement,
                      let origin = RowLocator.describe(first, slot: slot.name, expected: expected, got: got,
                                                       dtype: dtype) {
                message += "; " + origin
            }
        }
        if !implementationDefined.isEmpty {
            message += (message.isEmpty ? "" : "; ") + implementationDefinedNote(implementationDefined)
        }
        return OutputReport(name: slot.name, method: "bit-exact", verdict: mismatches == 0 ? .pass : .fail,
                            elements: elements, failures: mismatches, warnings: 0, worst: first,
                            maxAbsoluteError: maxAbsolute, maxRelativeError: maxRelative,
                            ulpHistogram: histogram.dictionary, message: message,
                            implementationDefined: implementationDefined.isEmpty ? nil : implementationDefined)
    }

    // MARK: Tolerance

    /// The running totals of one output's tolerance comparison.
    struct ToleranceTally {
        var failures = 0, warnings = 0, elements = 0
        var worst: ElementReport?
        var worstRatio = -1.0
        var maxAbsolute = 0.0, maxRelative = 0.0
        var histogram = UlpHistogram()
        var signedErrors = TolerancePolicy.SignedErrors()
        var allGot: [Float] = [], allExpected: [Float] = []
        /// Per element, whether the comparator accepts it although it differs (a special value at
        /// T's overflow threshold, an allowed implementation-defined behaviour): the vendor
        /// criteria count those as exact.
        var accepted: [Bool] = []
        var firstSpecialMismatch: ElementReport?
        var implementationDefined: [String: Int] = [:]

        mutating func count(_ behaviour: ImplementationDefinedBehaviour) {
            implementationDefined[behaviour.rawValue, default: 0] += 1
        }

        /// A failing element that no bound describes (a special value, a signed zero under --strict):
        /// the first one becomes the output's worst element.
        mutating func failUnbounded(_ report: ElementReport) {
            failures += 1
            accepted.append(false)
            if firstSpecialMismatch == nil { firstSpecialMismatch = report }
        }
    }

    /// What every element of one output shares.
    struct ToleranceSubject {
        var slot: TensorSlot
        var dtype: DType
        var activation: ActivationType
        var flushed: FlushedGolden
        var expected: WorldTensors
        var got: WorldTensors
    }

    private func tolerance(_ slot: TensorSlot, call: any HarnessCall, expected: WorldTensors,
                           gauge: ReferenceGauge, flushed: FlushedGolden, got: WorldTensors) -> OutputReport {
        let subject = ToleranceSubject(slot: slot, dtype: slot.spec.dtype,
                                       activation: slot.kind?.activation ?? .none, flushed: flushed,
                                       expected: expected, got: got)
        var tally = ToleranceTally()
        for rank in 0..<call.rankCount {
            let want = expected[rank, slot.name]!
            let have = got[rank, slot.name]!
            // A bound without a gauge would be infinite and pass anything: an operator whose gauge
            // lacks an output fails instead, naming the gap.
            let magnitude = gauge.magnitude[rank, slot.name] ?? Tensor.empty(.float32)
            guard want.count == 0 || magnitude.count == want.count else {
                return missingGauge(slot, rank: rank, elements: want.count)
            }
            tally.elements += want.count
            if computesVendorCriteria {
                tally.allGot += have.values
                tally.allExpected += want.values
            }
            // Looked up once per rank, not per element.
            let rankGauge = RankGauge(gauge: gauge, rank: rank, name: slot.name, activation: subject.activation)
            let smallestNormal = subject.dtype.smallestNormal
            want.values.withUnsafeBufferPointer { wanted in
                have.values.withUnsafeBufferPointer { had in
                    var index = 0
                    while index < wanted.count {
                        // The common case, runs of the golden's own finite bits: counted as
                        // `compareFinite` counts a zero error, without an element context.
                        var run = 0, normal = 0
                        while index < wanted.count, had[index].bitPattern == wanted[index].bitPattern,
                              wanted[index].isFinite {
                            if wanted[index] != 0, abs(wanted[index]) >= smallestNormal { normal += 1 }
                            run += 1
                            index += 1
                        }
                        if run > 0 {
                            tally.histogram.add(distance: 0, count: run)
                            tally.signedErrors.addZeros(normal)
                            if computesVendorCriteria {
                                tally.accepted.append(contentsOf: repeatElement(false, count: run))
                            }
                        }
                        guard index < wanted.count else { break }
                        let (e, a) = (wanted[index], had[index])
                        let context = ElementContext(rankGauge, rank: rank, index: index)
                        // The element's multi-index is computed only for a report (it allocates).
                        if e.isNaN || a.isNaN || e.isInfinite || a.isInfinite {
                            compareSpecial(a, e, context: context, in: want, subject, &tally)
                        } else {
                            compareFinite(a, e, context: context, in: want, subject, &tally)
                        }
                        index += 1
                    }
                }
            }
        }
        return toleranceReport(subject, tally)
    }

    private func missingGauge(_ slot: TensorSlot, rank: Int, elements: Int) -> OutputReport {
        OutputReport(name: slot.name, method: "tolerance", verdict: .fail, elements: elements,
                     failures: elements, warnings: 0, worst: nil, maxAbsoluteError: 0,
                     maxRelativeError: 0, ulpHistogram: [:],
                     message: "FuseCheck has no gauge for \(slot.name) on rank \(rank): no bound "
                         + "can be computed (an operator bug in the harness, not the backend's)")
    }

    /// An element where either value is NaN or inf: it matches, is an implementation-defined
    /// behaviour, or fails without a bound.
    private func compareSpecial(_ a: Float, _ e: Float, context: ElementContext, in tensor: Tensor,
                                _ subject: ToleranceSubject, _ tally: inout ToleranceTally) {
        if specialMatches(a, e, context: context, activation: subject.activation, dtype: subject.dtype) {
            tally.histogram.add(distance: 0)
            tally.accepted.append(true)
            return
        }
        if let behaviour = implementationDefinedBehaviour(
            a, e, context: context, activation: subject.activation, dtype: subject.dtype, slot: subject.slot.name,
            flushed: subject.flushed) {
            tally.count(behaviour)
            if !fails(behaviour) {
                tally.histogram.add(distance: 0)
                tally.accepted.append(true)
                return
            }
        }
        tally.histogram.addSpecial()
        tally.failUnbounded(ElementReport(rank: context.rank, index: tensor.multiIndex(context.index), got: a,
                                          expected: e, bound: nil, ratio: .infinity))
    }

    /// A finite pair: within the pass bound, between the pass and warn bounds, beyond the warn
    /// bound, or excused as an implementation-defined behaviour.
    private func compareFinite(_ a: Float, _ e: Float, context: ElementContext, in tensor: Tensor,
                               _ subject: ToleranceSubject, _ tally: inout ToleranceTally) {
        let dtype = subject.dtype
        let error = Double(abs(a - e))
        tally.maxAbsolute = max(tally.maxAbsolute, error)
        if e != 0 { tally.maxRelative = max(tally.maxRelative, error / Double(abs(e))) }
        tally.histogram.add(distance: ulpDistance(a, e, dtype))
        // Added to the mean-signed-error test unless the element is excused below.
        var signed: Double?
        if e != 0, abs(e) >= dtype.smallestNormal {
            signed = Double(a - e) * (e > 0 ? 1 : -1) / ulp(e, dtype)
        }
        guard error > 0 else {
            if let signed { tally.signedErrors.add(signed) }
            if e == 0, e.sign != a.sign, context.magnitude == 0 {
                tally.count(.signOfExactZero)
                if fails(.signOfExactZero) {
                    tally.failUnbounded(ElementReport(rank: context.rank, index: tensor.multiIndex(context.index),
                                                      got: a, expected: e, bound: 0, ratio: .infinity))
                    return
                }
            }
            tally.accepted.append(false)
            return
        }
        let passBound = bound(e, context: context, activation: subject.activation, dtype: dtype,
                              probabilistic: true)
        let ratio = error / passBound
        var excused = false
        if ratio > 1 {
            if let behaviour = implementationDefinedBehaviour(
                a, e, context: context, activation: subject.activation, dtype: dtype, slot: subject.slot.name,
                flushed: subject.flushed) {
                tally.count(behaviour)
                excused = !fails(behaviour)
            }
            if !excused {
                let warnBound = bound(e, context: context, activation: subject.activation, dtype: dtype,
                                      probabilistic: false)
                if error > warnBound { tally.failures += 1 } else { tally.warnings += 1 }
            }
        }
        tally.accepted.append(excused)
        guard !excused else { return }
        if let signed { tally.signedErrors.add(signed) }
        if ratio > tally.worstRatio {
            tally.worstRatio = ratio
            tally.worst = ElementReport(rank: context.rank, index: tensor.multiIndex(context.index), got: a,
                                        expected: e, bound: passBound, ratio: ratio)
        }
    }

    /// The verdict and message of one output from its tally: the element counts, the
    /// mean-signed-error test (matmul outputs only) and the chosen criterion.
    private func toleranceReport(_ subject: ToleranceSubject, _ tally: ToleranceTally) -> OutputReport {
        let worst = tally.firstSpecialMismatch ?? tally.worst
        // Only for matmul outputs: there every legitimate difference (summation order, tie rule,
        // double rounding through T) is an unbiased rounding, while an activation evaluated in
        // fp16 (the vendor's GELU) is legitimately biased for small |t|.
        let bias = subject.slot.kind == .matmul ? policy.roundingBias(tally.signedErrors) : nil
        let biased = bias?.isBiased ?? false
        let vendor = computesVendorCriteria
            ? VendorCriteriaReport.compute(got: tally.allGot, expected: tally.allExpected, dtype: subject.dtype,
                                           accepted: tally.accepted)
            : nil
        var verdict: OutputVerdict = tally.failures > 0 || biased ? .fail : (tally.warnings > 0 ? .warn : .pass)
        if criterion != .fusecheck, let vendor {
            let chosen = vendor.verdicts[criterion.rawValue] ?? .pass
            verdict = tally.firstSpecialMismatch != nil ? .fail : chosen
        }
        var notes: [String] = []
        if tally.failures > 0 || tally.warnings > 0 {
            var note = "\(tally.failures) element(s) over the warn bound, "
                + "\(tally.warnings) between the pass and warn bounds"
            if let worst {
                note += "; worst: \(worst)"
                if let origin = RowLocator.describe(worst, slot: subject.slot.name, expected: subject.expected,
                                                    got: subject.got, dtype: subject.dtype) {
                    note += "; " + origin
                }
            }
            notes.append(note)
        }
        if let bias, bias.isBiased {
            notes.append(String(format: "systematic rounding bias: mean signed error %.3f ulp (z = %.1f)",
                                bias.mean, bias.z))
        }
        if criterion != .fusecheck, verdict != .pass {
            notes.append("criterion \(criterion.rawValue): \(verdict.rawValue)")
        }
        if !tally.implementationDefined.isEmpty {
            notes.append(implementationDefinedNote(tally.implementationDefined))
        }
        return OutputReport(name: subject.slot.name, method: "tolerance", verdict: verdict, elements: tally.elements,
                            failures: tally.failures, warnings: tally.warnings, worst: worst,
                            maxAbsoluteError: tally.maxAbsolute, maxRelativeError: tally.maxRelative,
                            ulpHistogram: tally.histogram.dictionary,
                            meanSignedError: bias?.mean, meanSignedErrorZ: bias?.z, vendor: vendor,
                            message: notes.joined(separator: "; "),
                            implementationDefined: tally.implementationDefined.isEmpty
                                ? nil : tally.implementationDefined)
    }

    /// "implementation-defined (allowed): 3 × activation of ±inf gave NaN", or "(failed under --strict)".
    private func implementationDefinedNote(_ counts: [String: Int]) -> String {
        let failing = counts.keys.contains { ImplementationDefinedBehaviour(rawValue: $0).map(fails) ?? false }
        return "implementation-defined (\(failing ? "failed under --strict" : "allowed")): "
            + ImplementationDefinedBehaviour.describe(counts)
    }

    /// One rank's gauge of one output, looked up once.
    struct RankGauge {
        var preActivation: [Float]?
        var magnitude: [Float]?
        var bias: [Float]?
        var terms: Int
        var intermediateRoundings: Int
        var hasActivation: Bool

        init(gauge: ReferenceGauge, rank: Int, name: String, activation: ActivationType) {
            hasActivation = activation != .none
            preActivation = hasActivation ? gauge.preActivation[rank, name]?.values : nil
            magnitude = gauge.magnitude[rank, name]?.values
            bias = gauge.bias[rank, name]?.values
            terms = gauge.terms
            intermediateRoundings = gauge.intermediateRoundings
        }
    }

    /// What the bound of one element needs from the gauge.
    struct ElementContext {
        var rank: Int
        var index: Int
        /// G, rounded up by the gauge's own fp32 rounding.
        var magnitude: Double
        var bias: Double
        /// The golden's fp32 pre-activation t (activated outputs only), else nil.
        var preActivation: Float?
        var terms: Int
        var intermediateRoundings: Int

        init(gauge: ReferenceGauge, rank: Int, name: String, index: Int, activation: ActivationType) {
            self.init(RankGauge(gauge: gauge, rank: rank, name: name, activation: activation), rank: rank,
                      index: index)
        }

        init(_ gauge: RankGauge, rank: Int, index: Int) {
            self.rank = rank
            self.index = index
            preActivation = gauge.hasActivation ? gauge.preActivation?[index] : nil
            // An activation of a ±inf pre-activation is its limit, exactly: no accumulation error
            // (G, inf there, would make the bound infinite and pass any value).
            magnitude = preActivation?.isInfinite == true
                ? 0 : Double(gauge.magnitude?[index] ?? .infinity) * TolerancePolicy.gaugeRoundUp
            bias = Double(gauge.bias?[index] ?? 0)
            terms = gauge.terms
            intermediateRoundings = gauge.intermediateRoundings
        }
    }

    /// The pass (`probabilistic`) or warn bound of an element whose golden value is `value`. An
    /// infinite pre-activation (whose activation the golden gives as its limit) is replaced by the
    /// value itself: the bound is then that of an exact result, never infinite.
    func bound(_ value: Float, context: ElementContext, activation: ActivationType, dtype: DType,
                       probabilistic: Bool) -> Double {
        guard activation != .none else {
            return policy.matmulBound(expected: Double(value), gauge: context.magnitude, bias: context.bias,
                                      terms: context.terms, dtype: dtype, probabilistic: probabilistic,
                                      intermediateRoundings: context.intermediateRoundings)
        }
        let t = context.preActivation.flatMap { $0.isFinite ? $0 : nil } ?? value
        return policy.activatedBound(activation: activation, preActivation: Double(t), expected: Double(value),
                                     gauge: context.magnitude, bias: context.bias, terms: context.terms,
                                     dtype: dtype, probabilistic: probabilistic)
    }

    /// Whether a pair involving NaN or inf matches: NaN with NaN, inf with the same inf, or inf
    /// with a finite value of its sign that lies within the bound of T's overflow threshold (never
    /// where the golden is the activation's limit at a ±inf pre-activation: no overflow there).
    func specialMatches(_ a: Float, _ e: Float, context: ElementContext, activation: ActivationType,
                                dtype: DType) -> Bool {
        if (e.isNaN && a.isNaN) || (e.isInfinite && a == e) { return true }
        // A cross-rank sum in T (TolerancePolicy, "Cross-rank sums") may overflow T in a partial
        // or a partial sum wherever the gauge, which bounds them all, reaches T's overflow
        // threshold: inf, or NaN from inf - inf, is then a correct kernel's result.
        if context.intermediateRoundings > 0, a.isInfinite || a.isNaN, !e.isNaN,
           context.magnitude >= dtype.overflowThreshold {
            return true
        }
        guard !e.isNaN, !a.isNaN, e.sign == a.sign, e.isInfinite != a.isInfinite,
              context.preActivation?.isInfinite != true else { return false }
        let finite = e.isInfinite ? a : e
        return Double(abs(finite)) + bound(finite, context: context, activation: activation, dtype: dtype,
                                           probabilistic: false) >= dtype.overflowThreshold
    }

    /// The implementation-defined behaviour (numerics-profile P1) that explains an element the
    /// golden does not accept, or nil (see `ImplementationDefinedBehaviour` for the rules).
    func implementationDefinedBehaviour(_ a: Float, _ e: Float, context: ElementContext,
                                                activation: ActivationType, dtype: DType, slot: String,
                                                flushed: FlushedGolden) -> ImplementationDefinedBehaviour? {
        // First, as it needs no input changed: an element that a flush would also explain (the
        // pre-activation inf * subnormal, NaN once flushed) counts as the activation's.
        if activation != .none, a.isNaN, !e.isNaN, context.preActivation?.isInfinite == true {
            return .activationOfInfinity
        }
        if a == 0, e.isFinite, abs(e) < dtype.smallestNormal { return .subnormalsFlushed }
        // DAZ: acceptable against the golden of the inputs with their subnormals read as zero.
        // Only where flushing changes the golden: elsewhere it explains nothing.
        if let golden = flushed.value, let want = golden.outputs[context.rank, slot]?.values[context.index],
           want.bitPattern != e.bitPattern {
            let flushedContext = ElementContext(gauge: golden.gauge, rank: context.rank, name: slot,
                                                index: context.index, activation: activation)
            if a == 0, want.isFinite, abs(want) < dtype.smallestNormal { return .subnormalsFlushed }
            if a.isNaN || a.isInfinite || want.isNaN || want.isInfinite {
                if specialMatches(a, want, context: flushedContext, activation: activation, dtype: dtype) {
                    return .subnormalsFlushed
                }
            } else if Double(abs(a - want)) <= bound(want, context: flushedContext, activation: activation,
                                                     dtype: dtype, probabilistic: false) {
                return .subnormalsFlushed
            }
        }
        return nil
    }
}
