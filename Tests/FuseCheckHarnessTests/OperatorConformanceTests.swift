import Testing
import FuseCheckHarness
import FuseCheckOps
import _FuseCheckTestSupport

/// Every registered operator through the same checks: adding an operator to the registry puts it
/// here, and a gap in any layer fails with the case that shows it.
@Suite("Every registered operator conforms")
struct OperatorConformanceTests {
    static let operators = OperatorRegistry.records.map(\.operatorID.rawValue)

    static func record(_ id: String) throws -> any OperatorCaseRecord {
        try #require(OperatorRegistry.record(for: OperatorID(rawValue: id)))
    }

    @Test("the registry holds every operator of the constraint catalogue, once")
    func registryMatchesCatalogue() {
        var catalogue: Set<String> = []
        for type in OperatorCatalogue.operators { catalogue.insert(type.operatorID.rawValue) }
        let registered = Set(Self.operators)
        #expect(registered == catalogue)
        #expect(registered.count == Self.operators.count)
    }

    @Test("case ids round-trip", arguments: operators)
    func idsRoundTrip(_ id: String) throws {
        let problems = OperatorConformance.idsRoundTrip(try Self.record(id))
        #expect(problems.isEmpty, "\(problems.prefix(5))")
    }

    @Test("every constraint has an invalid case that breaks exactly it", arguments: operators)
    func invalidCases(_ id: String) throws {
        let problems = OperatorConformance.invalidCasesBreakExactlyTheirConstraint(try Self.record(id))
        #expect(problems.isEmpty, "\(problems.prefix(5))")
    }

    @Test("the gauge is finite on finite data and bounds the golden", arguments: operators)
    func gauge(_ id: String) throws {
        let problems = OperatorConformance.gaugeIsFiniteAndBounds(try Self.record(id))
        #expect(problems.isEmpty, "\(problems.prefix(5))")
    }

    @Test("exact data gives the golden's bits in every summation order and rounding of intermediates",
          arguments: operators)
    func exactData(_ id: String) throws {
        let problems = OperatorConformance.exactDataIsOrderIndependent(try Self.record(id))
        #expect(problems.isEmpty, "\(problems.prefix(5))")
    }

    @Test("smoke passes on every built-in engine", arguments: operators)
    func smoke(_ id: String) throws {
        let problems = OperatorConformance.smokePassesOnBuiltInEngines(try Self.record(id))
        #expect(problems.isEmpty, "\(problems.prefix(5))")
    }

    @Test("at least 40 smoke cases per operator, in both dtypes and every data mode", arguments: operators)
    func smokeCoverage(_ id: String) throws {
        let cases = try Self.record(id).smokeCases()
        #expect(cases.count >= 40)
        #expect(Set(cases.map(\.dtype)).count == 2 && Set(cases.map(\.data)).count == DataMode.allCases.count)
    }
}
