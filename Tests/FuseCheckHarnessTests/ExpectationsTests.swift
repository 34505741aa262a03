import Foundation
import Testing
@testable import FuseCheckHarness
import _FuseCheckTestSupport

/// Parses `text` as an expectations file named `e.json`.
private func parse(_ text: String) throws -> Expectations {
    try Expectations.parse(Data(text.utf8), path: "e.json")
}

/// The message of the error parsing `text` throws (empty if it parses).
private func parseError(_ text: String) -> String {
    do {
        _ = try parse(text)
        return ""
    } catch {
        return "\(error)"
    }
}

@Suite("Expectations files: the format")
struct ExpectationsParsingTests {
    @Test("a valid file gives its backend, allowed behaviours, profile, expected failures and skips")
    func validFile() throws {
        let file = try parse("""
            {
              "format": 1,
              "backend": "my-npu-kernel",
              "allow": ["activation-of-inf-nan", "subnormals-flushed"],
              "profile": {"accumulator": "fp32"},
              "expected_failures": [
                {"filter": "op=aagbmm,act=4", "reason": "FastGELU slope"},
                {"case": "agmm:a3:bf16:ws=8:m=16:k=512:n=64:x2T=1:data=uniform:seed=7", "reason": "edge tile"}
              ],
              "skip": [{"filter": "ws=32", "reason": "world size 32 unsupported"}]
            }
            """)
        #expect(file.backend == "my-npu-kernel")
        #expect(file.allow == ["activation-of-inf-nan", "subnormals-flushed"])
        #expect(file.allows("subnormals-flushed") && !file.allows("sign-of-exact-zero"))
        #expect(file.profile == ["accumulator": "fp32"])
        #expect(file.expectedFailures.map(\.selector) == [
            .filter("op=aagbmm,act=4"), .caseID("agmm:a3:bf16:ws=8:m=16:k=512:n=64:x2T=1:data=uniform:seed=7"),
        ])
        #expect(file.expectedFailures.map(\.line) == [7, 8])
        #expect(file.skips.map(\.reason) == ["world size 32 unsupported"])
    }

    @Test("the smallest file: format and backend")
    func minimalFile() throws {
        let file = try parse(#"{"format": 1, "backend": "b"}"#)
        #expect(file.allow.isEmpty && file.profile == nil && file.expectedFailures.isEmpty && file.skips.isEmpty)
    }

    /// Malformed files, with what the error must say (location and key).
    static let malformed: [(text: String, expected: [String])] = [
        ("{\"format\": 1,\n \"backend\": \"b\",\n \"expected_failure\": []}",
         ["e.json:3:2:", "key \"expected_failure\"", "unknown key", "did you mean \"expected_failures\""]),
        ("{\"format\": 1, \"backend\": \"b\",\n \"skip\": [\n  {\"filter\": \"ws=32\"}]}",
         ["e.json:3:3:", "key \"skip[0].reason\"", "missing"]),
        ("{\"format\": 1, \"backend\": \"b\",\n \"skip\": [{\"filter\": \"ws=32\", \"reason\": \"  \"}]}",
         ["e.json:2:", "key \"skip[0].reason\"", "must not be empty"]),
        ("{\"format\": 1, \"backend\": \"b\",\n\n \"skip\": [{\"filter\": \"wss=32\", \"reason\": \"r\"}]}",
         ["e.json:3:", "key \"skip[0].filter\"", "unknown key \"wss\"", "did you mean \"ws\""]),
        ("{\"format\": 1, \"backend\": \"b\",\n \"skip\": [{\"filter\": \"op=nope\", \"reason\": \"r\"}]}",
         ["e.json:2:", "key \"skip[0].filter\"", "unknown operator"]),
        ("{\"format\": 1, \"backend\": \"b\",\n \"skip\": [{\"filter\": \"op=agmm,act=1\", \"reason\": \"r\"}]}",
         ["e.json:2:", "key \"skip[0].filter\"", "unknown key \"act\""]),
        ("{\"format\": 1, \"backend\": \"b\",\n \"skip\": [{\"filter\": \"dtype=fp8\", \"reason\": \"r\"}]}",
         ["key \"skip[0].filter\"", "unknown dtype"]),
        ("{\"format\": 1, \"backend\": \"b\",\n \"skip\": [{\"filter\": \"ws=2,,m=1\", \"reason\": \"r\"}]}",
         ["key \"skip[0].filter\"", "empty term"]),
        ("{\"format\": 1, \"backend\": \"b\",\n \"expected_failures\": [{\"case\": \"agmm:zz\", \"reason\": \"r\"}]}",
         ["e.json:2:", "key \"expected_failures[0].case\"", "not a case id"]),
        ("{\"format\": 1, \"backend\": \"b\",\n \"expected_failures\": [{\"reason\": \"r\"}]}",
         ["e.json:2:", "key \"expected_failures[0]\"", "needs \"filter\""]),
        ("{\"format\": 1, \"backend\": \"b\",\n \"skip\": [{\"filter\": \"ws=2\", \"case\": \"x\", \"reason\": \"r\"}]}",
         ["key \"skip[0]\"", "not both"]),
        ("{\"format\": 1, \"backend\": \"b\",\n \"skip\": [\"ws=2\"]}",
         ["e.json:2:11:", "key \"skip[0]\"", "must be an object"]),
        ("{\"format\": 1, \"backend\": \"b\",\n \"skip\": {}}", ["e.json:2:10:", "key \"skip\"", "must be an array"]),
        ("{\"format\": 1, \"backend\": \"b\",\n \"allow\": [\"sign-of-exact-zer\"]}",
         ["e.json:2:12:", "key \"allow[0]\"", "unknown implementation-defined behaviour", "did you mean \"sign-of-exact-zero\""]),
        ("{\"format\": 1, \"backend\": \"b\",\n \"profile\": {\"accumulator\": 32}}",
         ["e.json:2:29:", "key \"profile.accumulator\"", "must be a string"]),
        ("{\"format\": 2, \"backend\": \"b\"}", ["e.json:1:12:", "key \"format\"", "this build reads format 1"]),
        ("{\"backend\": \"b\"}", ["e.json:1:1:", "key \"format\"", "missing"]),
        ("{\"format\": 1}", ["key \"backend\"", "missing"]),
        ("{\"format\": 1, \"backend\": 7}", ["e.json:1:26:", "key \"backend\"", "must be a string"]),
        ("[1]", ["e.json:1:1:", "a JSON object"]),
        ("{\"format\": 1,\n \"backend\": \"b\",\n}", ["e.json:3:1:", "not valid JSON", "trailing comma"]),
        ("{\"format\": 1,\n \"backend\": \"b\"\n \"skip\": []}", ["e.json:3:2:", "not valid JSON", "after the value of \"backend\""]),
        ("{\"format\": 1, \"backend\": \"b\", \"backend\": \"c\"}", ["e.json:1:31:", "occurs twice"]),
        ("{\"format\": 1, \"backend\": \"b", ["e.json:1:26:", "not closed"]),
    ]

    @Test("a malformed file is an error naming the file, line, column and key", arguments: malformed)
    func malformedFile(text: String, expected: [String]) {
        let message = parseError(text)
        for part in expected {
            #expect(message.contains(part), "\(text.debugDescription): \(message)")
        }
    }

    @Test("a file that does not exist is an error naming it")
    func missingFile() {
        #expect(throws: HarnessError.self) { try Expectations.load(path: "/nonexistent/e.json") }
    }

    @Test("every filter term a case field or parameter can take is accepted", arguments: [
        "op=agmm,ws=8,bias=1", "op=aagbmm,act=4,shard=1", "platform=a2", "dtype=bf16", "dtype=float16",
        "data=exact", "seed=7", "ws=32", "aagbmm:a3", "shard=1",
    ])
    func goodFilters(query: String) {
        #expect(Expectations.filterProblem(query) == nil, "\(query)")
    }

    @Test("the contradictions of a measured profile with a declared one name each changed property")
    func contradictions() {
        let declared = ["accumulator": "fp32", "output-rounding": "nearest-even", "subnormals": "gradual"]
        let measured = ["accumulator": "fp16", "output-rounding": "nearest-even", "subnormals": "undetermined"]
        #expect(Expectations.contradictions(declared: declared, measured: measured)
                == ["accumulator: declared fp32, measured fp16"])
        #expect(Expectations.contradictions(declared: declared, measured: [:]).isEmpty)
        let file = Expectations(path: "e.json", backend: "b", profile: declared)
        #expect(file.profileContradictions(measured: measured) == ["accumulator: declared fp32, measured fp16"])
        #expect(Expectations(path: "e.json", backend: "b").profileContradictions(measured: measured).isEmpty)
    }

    @Test("the behaviour names are one documented list")
    func behaviourNames() {
        #expect(Expectations.behaviours.map(\.key) == ImplementationDefinedBehaviour.allCases.map(\.rawValue))
    }
}

@Suite("Expectations files: what they do to a run")
struct ExpectationsSemanticsTests {
    /// A result of `id` with `status`.
    static func result(_ id: String, _ status: CaseStatus) -> CaseResult {
        let testCase = try! Case(id: id)
        return CaseResult(id: id, op: testCase.op.rawValue, dtype: testCase.dtype.shortName,
                          platform: testCase.platform.rawValue, backend: "b", status: status, expectedRejection: nil,
                          rejection: nil, outputs: [], message: status == .fail ? "output: 3 elements over bound" : "",
                          stderr: nil, repro: "", seconds: 0)
    }

    static let biasCase = "agmm:a3:fp16:ws=2:m=4:k=256:n=8:bias=1:data=uniform:seed=1"
    static let otherBiasCase = "agmm:a3:fp16:ws=2:m=4:k=256:n=8:bias=1:data=uniform:seed=2"
    static let plainCase = "agmm:a3:fp16:ws=2:m=4:k=256:n=8:data=uniform:seed=1"

    static let file = Expectations(path: "e.json", backend: "b", expectedFailures: [
        .init(.filter("op=agmm,bias=1"), reason: "bias twice", line: 3),
        .init(.caseID(plainCase), reason: "known", line: 4),
    ], skips: [.init(.filter("ws=32"), reason: "world size 32 unsupported", line: 6)])

    @Test("skipped cases are not run and are reported as skipped with the reason")
    func skips() throws {
        let cases = try [Case(id: "agmm:a3:fp16:ws=32:m=4:k=256:n=8:data=uniform:seed=1"), Case(id: Self.plainCase)]
        let (run, skipped) = Self.file.skipping(cases, backend: "b")
        #expect(run.map(\.id) == [Self.plainCase])
        #expect(skipped.map(\.status) == [.skipped])
        #expect(skipped.first?.message.contains("world size 32 unsupported") == true)
        #expect(skipped.first?.expectation?.entry == "e.json:6 (filter ws=32)")
    }

    @Test("a failure the file expects is an expected failure: counted, not failing the run")
    func expectedFailure() {
        let report = RunReport(suite: "s", backend: "b", criterion: "fusecheck", seconds: 0,
                               results: [Self.result(Self.biasCase, .fail), Self.result(Self.otherBiasCase, .pass)])
        let applied = Self.file.apply(to: report, skipped: [], strict: false)
        #expect(applied.results.map(\.status) == [.expectedFailure, .pass])
        #expect(applied.results[0].expectation?.verdict == .fail)
        #expect(applied.results[0].message.contains("was fail: output: 3 elements over bound"))
        #expect(applied.expectations?.expectedFailures == 1)
        #expect(applied.passed && applied.exitCode == 0)
        #expect(applied.summaryTable().contains("expected-failure"))
        #expect(applied.junit().contains("<skipped message=\"expected-failure: bias twice"))
    }

    @Test("a crash the file expects is an expected failure too")
    func expectedCrash() {
        let applied = Self.file.apply(to: [Self.result(Self.biasCase, .crash)], strict: true)
        #expect(applied.map(\.status) == [.expectedFailure])
        #expect(applied[0].expectation?.verdict == .crash)
    }

    @Test("a pass of a listed case is an unexpected pass: reported, a failure only under strict",
          arguments: [false, true])
    func unexpectedPassOfCase(strict: Bool) {
        let report = RunReport(suite: "s", backend: "b", criterion: "fusecheck", seconds: 0,
                               results: [Self.result(Self.plainCase, .pass)])
        let applied = Self.file.apply(to: report, skipped: [], strict: strict)
        #expect(applied.results[0].status == (strict ? .fail : .unexpectedPass))
        #expect(applied.results[0].message.contains("unexpected pass"))
        #expect(applied.results[0].message.contains("e.json:4"))
        #expect(applied.expectations?.unexpectedPasses == 1)
        #expect(applied.exitCode == (strict ? 1 : 0))
    }

    @Test("a filter entry is stale (its passes unexpected) only when it caught no failure", arguments: [false, true])
    func staleFilterEntry(strict: Bool) {
        let passes = [Self.result(Self.biasCase, .pass), Self.result(Self.otherBiasCase, .warn)]
        let applied = Self.file.apply(to: passes, strict: strict)
        #expect(applied.map(\.status) == (strict ? [.fail, .fail] : [.unexpectedPass, .unexpectedPass]))
        let mixed = Self.file.apply(to: [Self.result(Self.biasCase, .fail), Self.result(Self.otherBiasCase, .pass)],
                                    strict: strict)
        #expect(mixed.map(\.status) == [.expectedFailure, .pass])
    }

    @Test("harness errors and failures no entry picks are left as they are")
    func untouched() {
        let other = "agmm:a3:fp16:ws=4:m=4:k=256:n=8:data=uniform:seed=1"
        let applied = Self.file.apply(to: [Self.result(other, .fail), Self.result(Self.biasCase, .harnessError)],
                                      strict: false)
        #expect(applied.map(\.status) == [.fail, .harnessError])
    }

    @Test("a run whose every case is skipped ran nothing and does not pass")
    func allSkipped() throws {
        let (_, skipped) = Self.file.skipping([try Case(id: "agmm:a3:fp16:ws=32:m=4:k=256:n=8:data=uniform:seed=1")],
                                              backend: "b")
        let report = RunReport(suite: "s", backend: "b", criterion: "fusecheck", seconds: 0, results: [])
        let applied = Self.file.apply(to: report, skipped: skipped, strict: false)
        #expect(applied.casesRun == 0 && !applied.passed && applied.exitCode == 1)
        #expect(applied.expectations?.skipped == 1)
    }

    @Test("fuzz: a failure the file expects is no finding")
    func fuzzFindings() throws {
        var options = FuzzOptions()
        options.cases = 40
        options.expectations = Expectations(path: "e.json", backend: "mutant:bias-twice",
                                            expectedFailures: [.init(.filter("bias=1"), reason: "bias twice"),
                                                               .init(.filter("bias=2"), reason: "bias twice")],
                                            skips: [.init(.filter("op=aagbmm"), reason: "not this kernel"),
                                                    .init(.filter("op=bmmrs"), reason: "not this kernel")])
        let summary = try Fuzzer.run(options, backendName: "mutant:bias-twice",
                                     makeBackend: { try BackendCatalog.backend(named: "mutant:bias-twice") })
        #expect(summary.findings.isEmpty, "\(summary.findings.map(\.signature))")
        #expect(summary.counts["skipped", default: 0] > 0)
        #expect(summary.counts["expected-failure", default: 0] > 0)
    }
}

@Suite("fusecheck --expectations", .enabled(if: fusecheckExecutable != nil, "fusecheck not built"))
struct ExpectationsCommandLineTests {
    @Test("run: expected failures exit 0 with the counts reported; without the file the run fails")
    func expectedFailuresPass() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = folder + "/expectations.json"
        try Data("""
            {"format": 1, "backend": "mutant:bias-twice",
             "expected_failures": [{"filter": "op=agmm,bias=1", "reason": "bias added twice"}]}
            """.utf8).write(to: URL(fileURLWithPath: file))
        let arguments = ["run", "--backend", "mutant:bias-twice", "--filter", "op=agmm,bias=1"]
        #expect(try fusecheck(arguments).status == 1)
        let (status, output) = try fusecheck(arguments + ["--expectations", file, "--json", "-"])
        #expect(status == 0, "\(output)")
        let report = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
        let summary = report?["expectations"] as? [String: Any]
        #expect((summary?["expectedFailures"] as? Int ?? 0) > 0)
        #expect(summary?["unexpectedPasses"] as? Int == 0)
    }

    @Test("a malformed expectations file is a harness error (exit 2)")
    func malformed() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = folder + "/expectations.json"
        try Data("{\"format\": 1, \"backend\": \"b\", \"skipp\": []}".utf8).write(to: URL(fileURLWithPath: file))
        #expect(try fusecheck(["run", "--filter", "op=agmm,ws=2,m=1", "--expectations", file]).status == 2)
        #expect(try fusecheck(["fuzz", "--cases", "1", "--expectations", file, "--findings", folder + "/f"]).status == 2)
    }
}
