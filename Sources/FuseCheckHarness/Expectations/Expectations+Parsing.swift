import Foundation
import FuseCheckCore
import FuseCheckOps

extension Expectations {
    /// The keys of the file's top-level object.
    static let topLevelKeys = ["format", "backend", "allow", "profile", "expected_failures", "skip"]

    /// Reads and checks an expectations file; every problem is a `HarnessError` naming
    /// `PATH:LINE:COLUMN` and the key.
    public static func load(path: String) throws -> Expectations {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
              let data = FileManager.default.contents(atPath: path) else {
            throw HarnessError("cannot read the expectations file \(path)")
        }
        return try parse(data, path: path)
    }

    /// Parses and checks the text of an expectations file (`path` names it in messages).
    public static func parse(_ data: Data, path: String) throws -> Expectations {
        func fail(_ location: TextLocation, _ key: String?, _ message: String) -> HarnessError {
            HarnessError("\(path):\(location): " + (key.map { "key \"\($0)\": " } ?? "") + message)
        }
        let root: LocatedJSON
        do {
            root = try LocatedJSON.parse(data)
        } catch {
            throw fail(error.location, nil, "not valid JSON: \(error.message)")
        }
        guard case .object(let members) = root.value else {
            throw fail(root.location, nil, "an expectations file is a JSON object, not \(root.kindName)")
        }
        for member in members where !topLevelKeys.contains(member.key) {
            throw fail(member.keyLocation, member.key,
                       "unknown key (known: \(topLevelKeys.joined(separator: ", ")))"
                        + suggestion(member.key, topLevelKeys))
        }
        func member(_ key: String) -> LocatedJSON.Member? { members.first { $0.key == key } }

        // The version first, so that a newer format is refused as such rather than misread.
        guard let format = member("format") else {
            throw fail(root.location, "format", "missing (this build reads format \(currentFormat))")
        }
        guard case .number(let version) = format.value.value else {
            throw fail(format.value.location, "format", "must be a number, not \(format.value.kindName)")
        }
        guard version == Double(currentFormat) else {
            let shown = abs(version) < 1e15 && version == version.rounded() ? String(Int64(version)) : "\(version)"
            throw fail(format.value.location, "format", "format \(shown); this build reads format \(currentFormat)")
        }

        guard let backendMember = member("backend") else {
            throw fail(root.location, "backend", "missing (the name of the kernel this file describes)")
        }
        let backend = try string(backendMember.value, key: "backend", fail: fail)
        guard !backend.isEmpty else { throw fail(backendMember.value.location, "backend", "must not be empty") }

        var allow: [String] = []
        if let allowMember = member("allow") {
            let names = behaviours.map(\.key)
            for (index, element) in try array(allowMember.value, key: "allow", fail: fail).enumerated() {
                let key = "allow[\(index)]"
                let name = try string(element, key: key, fail: fail)
                guard names.contains(name) else {
                    throw fail(element.location, key, "unknown implementation-defined behaviour \"\(name)\" (known: "
                        + names.joined(separator: ", ") + ")" + suggestion(name, names))
                }
                if !allow.contains(name) { allow.append(name) }
            }
        }

        var profile: [String: String]?
        if let profileMember = member("profile") {
            guard case .object(let properties) = profileMember.value.value else {
                throw fail(profileMember.value.location, "profile",
                           "must be an object of property names to values, not \(profileMember.value.kindName)")
            }
            var declared: [String: String] = [:]
            for property in properties {
                declared[property.key] = try string(property.value, key: "profile.\(property.key)", fail: fail)
            }
            profile = declared
        }

        let expectedFailures = try member("expected_failures").map {
            try entries($0.value, key: "expected_failures", fail: fail)
        } ?? []
        let skips = try member("skip").map { try entries($0.value, key: "skip", fail: fail) } ?? []
        return Expectations(path: path, backend: backend, allow: allow, profile: profile,
                            expectedFailures: expectedFailures, skips: skips)
    }

    private typealias Failure = (TextLocation, String?, String) -> HarnessError

    private static func string(_ value: LocatedJSON, key: String, fail: Failure) throws -> String {
        guard case .string(let text) = value.value else {
            throw fail(value.location, key, "must be a string, not \(value.kindName)")
        }
        return text
    }

    private static func array(_ value: LocatedJSON, key: String, fail: Failure) throws -> [LocatedJSON] {
        guard case .array(let elements) = value.value else {
            throw fail(value.location, key, "must be an array, not \(value.kindName)")
        }
        return elements
    }

    /// The entries of `expected_failures` or `skip`: each an object with one of `filter` and
    /// `case`, and a non-empty `reason`.
    private static func entries(_ value: LocatedJSON, key: String, fail: Failure) throws -> [Entry] {
        let entryKeys = ["filter", "case", "reason"]
        return try array(value, key: key, fail: fail).enumerated().map { index, element in
            let prefix = "\(key)[\(index)]"
            guard case .object(let members) = element.value else {
                throw fail(element.location, prefix,
                           "must be an object {\"filter\" or \"case\": ..., \"reason\": ...}, not \(element.kindName)")
            }
            for member in members where !entryKeys.contains(member.key) {
                throw fail(member.keyLocation, "\(prefix).\(member.key)",
                           "unknown key (known: filter, case, reason)" + suggestion(member.key, entryKeys))
            }
            let filter = members.first { $0.key == "filter" }
            let caseMember = members.first { $0.key == "case" }
            let selector: Entry.Selector
            switch (filter, caseMember) {
            case (let filter?, nil):
                let query = try string(filter.value, key: "\(prefix).filter", fail: fail)
                if let problem = filterProblem(query) { throw fail(filter.value.location, "\(prefix).filter", problem) }
                selector = .filter(query)
            case (nil, let caseMember?):
                let id = try string(caseMember.value, key: "\(prefix).case", fail: fail)
                do {
                    _ = try Case(id: id)
                } catch {
                    throw fail(caseMember.value.location, "\(prefix).case", "not a case id: \(error)")
                }
                selector = .caseID(id)
            case (_?, _?):
                throw fail(element.location, prefix, "give \"filter\" or \"case\", not both")
            case (nil, nil):
                throw fail(element.location, prefix, "needs \"filter\" (a --filter query) or \"case\" (a case id)")
            }
            guard let reasonMember = members.first(where: { $0.key == "reason" }) else {
                throw fail(element.location, "\(prefix).reason", "missing: every entry says why")
            }
            let reason = try string(reasonMember.value, key: "\(prefix).reason", fail: fail)
            guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw fail(reasonMember.value.location, "\(prefix).reason", "must not be empty: every entry says why")
            }
            return Entry(selector, reason: reason, line: element.location.line)
        }
    }

    /// What is wrong with a `--filter` query in an expectations file, or nil if nothing.
    ///
    /// `CaseFilter` takes any `key=value` term and compares it with the case's parameter of that
    /// name, so a misspelt key (`wss=32`) matches no case and its entry would silently do
    /// nothing. Here a key must be a case field or a parameter of some operator (of the operator
    /// the query names with `op=`, if it names one), and field values must be ones that exist.
    static func filterProblem(_ query: String) -> String? {
        let terms = query.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !query.isEmpty, !terms.contains(where: \.isEmpty) else {
            return "\"\(query)\" has an empty term (terms are comma-separated key=value or id substrings)"
        }
        let pairs = terms.compactMap { term -> (String, String)? in
            let parts = term.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            return parts.count == 2 ? (parts[0], parts[1]) : nil
        }
        let operators = OperatorRegistry.records.map(\.operatorID.rawValue)
        var scope = OperatorRegistry.records
        for (key, value) in pairs where key == "op" {
            guard operators.contains(value) else {
                return "op=\(value): unknown operator (known: \(operators.joined(separator: ", ")))"
            }
            scope = scope.filter { $0.operatorID.rawValue == value }
        }
        let parameterKeys = scope.flatMap { $0.parameters.map(\.key) }
        let fields = ["op", "platform", "dtype", "data", "seed"]
        for (key, value) in pairs {
            guard !key.isEmpty, !value.isEmpty else { return "\"\(key)=\(value)\" needs a key and a value" }
            switch key {
            case "op": continue
            case "platform" where Platform(rawValue: value) == nil:
                return "platform=\(value): unknown platform (known: "
                    + Platform.allCases.map(\.rawValue).joined(separator: ", ") + ")"
            case "dtype" where !DType.allCases.contains { $0.shortName == value || $0.rawValue == value }:
                return "dtype=\(value): unknown dtype (known: "
                    + DType.allCases.map(\.shortName).joined(separator: ", ") + ")"
            case "data" where DataMode(rawValue: value) == nil:
                return "data=\(value): unknown data mode (known: "
                    + DataMode.allCases.map(\.rawValue).joined(separator: ", ") + ")"
            case "seed" where UInt64(value) == nil:
                return "seed=\(value): a seed is a whole number from 0 to \(UInt64.max)"
            case _ where fields.contains(key):
                continue
            case _ where !parameterKeys.contains(key):
                var known = fields
                for parameter in parameterKeys where !known.contains(parameter) { known.append(parameter) }
                return "\(key)=\(value): unknown key \"\(key)\" (known: \(known.joined(separator: ", ")))"
                    + suggestion(key, known)
            default:
                continue
            }
        }
        return nil
    }

    /// ` (did you mean "X"?)` for a name one or two edits from a known one, else empty.
    static func suggestion(_ name: String, _ known: [String]) -> String {
        func distance(_ a: [Character], _ b: [Character]) -> Int {
            var previous = Array(0...b.count)
            for (i, x) in a.enumerated() {
                var row = [i + 1]
                for (j, y) in b.enumerated() {
                    row.append(min(previous[j + 1] + 1, row[j] + 1, previous[j] + (x == y ? 0 : 1)))
                }
                previous = row
            }
            return previous[b.count]
        }
        let scored = known.map { ($0, distance(Array(name), Array($0))) }.filter { $0.1 <= 2 }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return "" }
        return " (did you mean \"\(best.0)\"?)"
    }
}
