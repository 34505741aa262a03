import FuseCheckEngines

/// A `--filter` query: comma-separated terms, all of which must hold. `key=value` compares a
/// case field (`op`, `platform`, `dtype`, `data`, `seed`) or parameter (`ws`, `k`, `act`, ...)
/// exactly; any other term must occur in the case id.
public struct CaseFilter: Sendable {
    let terms: [(key: String?, value: String)]

    public init(_ query: String) {
        terms = query.split(separator: ",").map { term in
            let parts = term.split(separator: "=", maxSplits: 1).map(String.init)
            return parts.count == 2 ? (parts[0], parts[1]) : (nil, String(term))
        }
    }

    public func matches(_ testCase: Case) -> Bool {
        terms.allSatisfy { term in
            guard let key = term.key else { return testCase.id.contains(term.value) }
            switch key {
            case "op": return testCase.op.rawValue == term.value
            case "platform": return testCase.platform.rawValue == term.value
            case "dtype": return testCase.dtype.shortName == term.value || testCase.dtype.rawValue == term.value
            case "data": return testCase.data.rawValue == term.value
            case "seed": return String(testCase.seed) == term.value
            default:
                let fallback = OperatorRegistry.record(for: testCase.op)?.parameters
                    .first { $0.key == key }?.defaultValue
                return (testCase.params[key] ?? fallback) == term.value
            }
        }
    }
}
