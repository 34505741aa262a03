import FuseCheckCore
import FuseCheckEngines
import FuseCheckHarness
import FuseCheckOps

/// The conformance checks every registered operator goes through (swift-collections'
/// `CheckCollection` habit): an operator that passes them is wired into every layer.
///
/// Each check returns the problems it found, each naming the case, so a test can record them.
/// Not API: the test bundles use it.
public enum OperatorConformance {
    /// Every case id of the operator's suites parses back to the same case.
    public static func idsRoundTrip(_ record: any OperatorCaseRecord) -> [String] {
        var problems: [String] = []
        for testCase in record.smokeCases() + record.invalidCases().map(\.0) {
            do {
                let parsed = try Case(id: testCase.id)
                if parsed != testCase || parsed.id != testCase.id { problems.append("\(testCase.id) parses to \(parsed.id)") }
            } catch {
                problems.append("\(testCase.id) does not parse: \(error)")
            }
        }
        return problems
    }

    /// Every constraint of the operator has an invalid case, and each invalid case breaks exactly
    /// its constraint.
    public static func invalidCasesBreakExactlyTheirConstraint(_ record: any OperatorCaseRecord) -> [String] {
        var problems: [String] = []
        let invalid = record.invalidCases()
        let ids = OperatorCatalogue.operators.first { $0.operatorID == record.operatorID }?.constraints.map(\.id) ?? []
        if ids.isEmpty { problems.append("\(record.operatorID) has no constraints in the catalogue") }
        for id in ids where !invalid.contains(where: { $0.1 == id }) {
            problems.append("constraint \(id) has no invalid case")
        }
        for (testCase, id) in invalid {
            do {
                let violated = try testCase.makeCall().violations().map(\.constraint.id)
                if violated != [id] { problems.append("\(testCase.id) should break \(id) alone, breaks \(violated)") }
            } catch {
                problems.append("\(testCase.id) cannot be built: \(error)")
            }
        }
        return problems
    }

    /// On finite data the gauge is finite and bounds the golden: `|e| <= G (1 + 2 u_T) + η_T` for
    /// every computed output element (e is the exact sum, `|c| <= G`, rounded to T once), so no
    /// bound can be infinite or below the value it bounds.
    public static func gaugeIsFiniteAndBounds(_ record: any OperatorCaseRecord) -> [String] {
        var problems: [String] = []
        for testCase in record.smokeCases() where testCase.data != .special {
            do {
                let call = try testCase.makeCall()
                let inputs = try InputGenerator.inputs(for: testCase)
                guard let golden = try Runner.golden(call, inputs: inputs) else { continue }
                for slot in call.outputSlots where slot.kind?.isComputed == true {
                    for rank in 0..<call.rankCount {
                        let values = golden.outputs[rank, slot.name]?.values ?? []
                        guard !values.isEmpty else { continue }
                        guard let gauge = golden.gauge.magnitude[rank, slot.name], gauge.count == values.count else {
                            problems.append("\(testCase.id): no gauge for \(slot.name) on rank \(rank)")
                            continue
                        }
                        let dtype = slot.spec.dtype
                        let slack = 1 + 2 * dtype.unitRoundoff + 0x1p-20
                        let floor = dtype.halfSmallestSubnormal
                        if let index = values.indices.first(where: { index in
                            let g = Double(gauge.values[index])
                            return !g.isFinite || (values[index].isFinite && abs(Double(values[index])) > g * slack + floor)
                        }) {
                            problems.append("\(testCase.id): \(slot.name) rank \(rank) element \(index): "
                                + "G = \(gauge.values[index]) for golden \(values[index])")
                        }
                    }
                }
            } catch {
                problems.append("\(testCase.id): \(error)")
            }
        }
        return problems
    }

    /// On `exact` data every engine, whatever its summation order or rounding of intermediates,
    /// gives the golden's bits on every matmul output (activations other than ReLU excepted).
    public static func exactDataIsOrderIndependent(_ record: any OperatorCaseRecord) -> [String] {
        let engines: [any Engine] = [PipelinedEngine(), PipelinedEngine(accumulation: .splitK(parts: 3)),
                                     ReferenceEngine(epilogue: .vendor),
                                     ReferenceEngine(numerics: ReferenceNumerics(accumulation: .fp64), name: "fp64")]
        var problems: [String] = []
        for testCase in record.smokeCases() where testCase.data == .exact {
            do {
                let call = try testCase.makeCall()
                let inputs = try InputGenerator.inputs(for: testCase)
                guard let golden = try Runner.golden(call, inputs: inputs) else { continue }
                for engine in engines {
                    guard case .completed(let outputs) = try engine.run(call, inputs: inputs) else {
                        problems.append("\(testCase.id): \(engine.name) rejected it")
                        continue
                    }
                    for slot in call.outputSlots where slot.kind == .matmul || slot.kind == .activated(.relu) {
                        for rank in 0..<call.rankCount {
                            let want = golden.outputs[rank, slot.name]?.values.map(\.bitPattern) ?? []
                            let got = outputs[rank, slot.name]?.values.map { $0 == 0 ? 0 : $0.bitPattern } ?? []
                            if want.map({ $0 == 0x8000_0000 ? 0 : $0 }) != got {
                                problems.append("\(testCase.id): \(engine.name) \(slot.name) rank \(rank) differs")
                            }
                        }
                    }
                }
            } catch {
                problems.append("\(testCase.id): \(error)")
            }
        }
        return problems
    }

    /// The smoke cases run without a failure (in-process) on every built-in engine but the
    /// reference, whose whole smoke run (every case a plain pass) is ConformanceTests'.
    public static func smokePassesOnBuiltInEngines(_ record: any OperatorCaseRecord,
                                                   backends: [String] = BackendCatalog.builtInNames.filter {
                                                       $0 != "reference"
                                                   }) -> [String] {
        var problems: [String] = []
        for name in backends {
            guard let backend = try? BackendCatalog.backend(named: name) else {
                problems.append("no backend \(name)")
                continue
            }
            let runner = Runner(backend: backend)
            for result in runner.run(record.smokeCases()) where result.status.isFailure {
                problems.append("\(name): \(result.id): \(result.status.rawValue): \(result.message)")
            }
        }
        return problems
    }
}
