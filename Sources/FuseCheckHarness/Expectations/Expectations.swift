import Foundation

/// A backend's expectations file: what a team that keeps a kernel declares about it, kept next to
/// the kernel as ONNX backend tests and browser test suites keep theirs (docs/expectations.md).
///
/// ```json
/// {
///   "format": 1,
///   "backend": "my-npu-kernel",
///   "allow": ["activation-of-infinity", "subnormal-flush"],
///   "profile": {"accumulator": "fp32", "output-rounding": "nearest-even"},
///   "expected_failures": [
///     {"filter": "op=aagbmm,act=4", "reason": "FastGELU slope 1.0 until ticket 123"},
///     {"case": "agmm:a3:bf16:ws=8:m=16:k=512:n=64:data=uniform:seed=7", "reason": "edge tile"}
///   ],
///   "skip": [{"filter": "ws=32", "reason": "world size 32 unsupported"}]
/// }
/// ```
///
/// - `format` (required): this file format's version, `Expectations.currentFormat`.
/// - `backend` (required): the kernel the file describes (information only).
/// - `allow`: implementation-defined behaviours (`Expectations.behaviours`) the backend has;
///   they stay allowed under `--strict`.
/// - `profile`: the backend's declared numerics profile (property to value, as `fusecheck
///   profile` writes it); `contradictions(declared:measured:)` names what a measurement changed.
/// - `expected_failures`, `skip`: entries of one selector, `filter` (the `--filter` syntax) or
///   `case` (a case id), and a non-empty `reason`.
///
/// Unknown keys are errors, so a misspelt key is caught rather than ignored; every error names
/// the file, line, column and key.
public struct Expectations: Sendable {
    /// The format this build reads.
    public static let currentFormat = 1

    /// The file the expectations were read from (named in messages and reports).
    public var path: String
    /// The kernel the file describes.
    public var backend: String
    /// Names of the implementation-defined behaviours allowed (each one of `behaviours`).
    public var allow: [String]
    /// The declared numerics profile, if the file has one.
    public var profile: [String: String]?
    /// Cases that are known to fail, each with why.
    public var expectedFailures: [Entry]
    /// Cases not to run at all (an unsupported feature), each with why.
    public var skips: [Entry]

    public init(path: String, backend: String, allow: [String] = [], profile: [String: String]? = nil,
                expectedFailures: [Entry] = [], skips: [Entry] = []) {
        self.path = path
        self.backend = backend
        self.allow = allow
        self.profile = profile
        self.expectedFailures = expectedFailures
        self.skips = skips
    }

    /// One expected failure or skip: which cases, why, and where in the file it is.
    public struct Entry: Sendable {
        /// How an entry picks its cases.
        public enum Selector: Sendable, Equatable {
            /// A `--filter` query (`op=aagbmm,act=4`): every matching case.
            case filter(String)
            /// One case id, exactly.
            case caseID(String)
        }

        public var selector: Selector
        public var reason: String
        /// The line of the entry in its file (0 when made in code).
        public var line: Int

        public init(_ selector: Selector, reason: String, line: Int = 0) {
            self.selector = selector
            self.reason = reason
            self.line = line
        }

        /// Whether the entry picks this case.
        public func matches(_ testCase: Case) -> Bool {
            switch selector {
            case .filter(let query): CaseFilter(query).matches(testCase)
            case .caseID(let id): testCase.id == id
            }
        }

        /// The selector as written in the file: `filter op=agmm,bias=1` or `case ID`.
        public var selectorText: String {
            switch selector {
            case .filter(let query): "filter \(query)"
            case .caseID(let id): "case \(id)"
            }
        }
    }

    /// The implementation-defined behaviours an `allow` list may name, with what each means
    /// (`../shared/spec/numerics-profile.md` P1). The one list of these names: the comparator's
    /// implementation-defined verdict notes use the same strings.
    public static var behaviours: [(key: String, value: String)] {
        ImplementationDefinedBehaviour.allCases.map { (key: $0.rawValue, value: $0.wording) }
    }

    /// Whether the file allows this implementation-defined behaviour.
    public func allows(_ behaviour: String) -> Bool { allow.contains(behaviour) }

    /// The properties on which a measured numerics profile contradicts a declared one, one line
    /// each (`accumulator: declared fp32, measured fp16`), sorted by property. A property the
    /// measurement left out, or reports as `undetermined`, contradicts nothing: a probe that
    /// cannot decide says nothing about the declaration.
    public static func contradictions(declared: [String: String], measured: [String: String]) -> [String] {
        declared.keys.sorted().compactMap { property in
            guard let claim = declared[property], let found = measured[property],
                  found != "undetermined", found != claim else { return nil }
            return "\(property): declared \(claim), measured \(found)"
        }
    }

    /// The properties on which a measured profile contradicts this file's declared one (none
    /// when the file declares no profile).
    public func profileContradictions(measured: [String: String]) -> [String] {
        Self.contradictions(declared: profile ?? [:], measured: measured)
    }

    /// What the file says about the run's backend in one line, for the report's text.
    public var summaryLine: String {
        "expectations \(path) (\(backend)): \(expectedFailures.count) expected failure(s), \(skips.count) skip(s)"
            + (allow.isEmpty ? "" : ", allows \(allow.joined(separator: ", "))")
    }
}
