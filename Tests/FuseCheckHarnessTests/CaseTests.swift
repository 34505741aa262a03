import Foundation
import Testing
import FuseCheckCore
import FuseCheckOps
@testable import FuseCheckHarness

@Suite("Case ids and JSON")
struct CaseTests {
    @Test("the documented example id parses into its fields and prints back unchanged")
    func example() throws {
        let id = "agmm:a3:bf16:ws=8:m=16:k=512:n=64:x2T=1:data=uniform:seed=7"
        let parsed = try Case(id: id)
        #expect(parsed.op == AllGatherMatmulCall.operatorID)
        #expect(parsed.platform == .a3 && parsed.dtype == .bfloat16 && parsed.data == .uniform && parsed.seed == 7)
        #expect(parsed.params == ["ws": "8", "m": "16", "k": "512", "n": "64", "x2T": "1"])
        #expect(parsed.id == id)
        let call = try #require(try parsed.makeCall() as? AllGatherMatmulCall)
        #expect(call.x2.shape == [64, 512] && call.x2Transposed && call.worldSize == 8)
    }

    @Test("parameters at their default are left out of the id; key order is canonical")
    func canonical() throws {
        let parsed = try Case(id: "agmm:a2:fp16:n=5:k=256:x2T=0:gather=1:m=3:ws=2:seed=4:data=exact")
        #expect(parsed.id == "agmm:a2:fp16:ws=2:m=3:k=256:n=5:data=exact:seed=4")
    }

    @Test("every smoke case round-trips through its id and through JSON")
    func roundTrips() throws {
        for testCase in smokeSuite.cases {
            #expect(try Case(id: testCase.id) == testCase, "\(testCase.id)")
            let json = try JSONEncoder().encode(testCase)
            #expect(try JSONDecoder().decode(Case.self, from: json) == testCase, "\(testCase.id)")
        }
    }

    @Test("malformed ids are errors that name what is wrong", arguments: [
        ("zzmm:a3:fp16:ws=2", "unknown operator"),
        ("agmm:a9:fp16:ws=2:m=1:k=256:n=1", "unknown platform"),
        ("agmm:a3:int8:ws=2:m=1:k=256:n=1", "unknown dtype"),
        ("agmm:a3:fp16:ws=2:m=1:k=256", "missing the required parameter \"n\""),
        ("agmm:a3:fp16:ws=2:m=1:k=256:n=1:bogus=3", "unknown parameter \"bogus\""),
        ("agmm:a3:fp16:ws=2:m=1:k=256:n=1:data=gaussian", "unknown data mode"),
        ("agmm:a3:fp16:ws=2:m=1:k=256:n=1:seed=x", "seed"),
        ("agmm:a3:fp16:ws=2:m=1:k=256:n", "not key=value"),
        ("agmm:a3", "at least operator:platform:dtype"),
        ("agmm:a3:fp16:ws=2:ws=4:m=1:k=256:n=1", "given twice"),
    ])
    func malformed(id: String, message: String) {
        do {
            _ = try Case(id: id)
            Issue.record("\(id) parsed")
        } catch {
            #expect("\(error)".contains(message), "\(id): \(error)")
        }
    }

    @Test("JSON whose id disagrees with its fields is rejected")
    func inconsistentJSON() {
        let json = #"{"id":"agmm:a3:fp16:ws=2:m=1:k=256:n=1:data=uniform:seed=1","op":"agmm","platform":"a3","#
            + #""dtype":"fp16","params":{"ws":2,"m":1,"k":256,"n":2},"data":"uniform","seed":1}"#
        #expect(throws: CaseFormatError.self) { try JSONDecoder().decode(Case.self, from: Data(json.utf8)) }
    }

    @Test("a case with overrides builds the invalid call it describes")
    func overrides() throws {
        let testCase = try Case(id: "agmm:a3:fp16:ws=2:m=1:k=256:n=4:x2.dtype=bf16:hcom=128:data=uniform:seed=1")
        let call = try testCase.makeCall()
        #expect(call.violations().map(\.constraint.id) == ["AGMM-X2-DTYPE", "AGMM-GROUP-LENGTH"])
        // Inputs of an invalid case can still be generated, for backends that must reject it.
        let inputs = try InputGenerator.inputs(for: testCase)
        #expect(inputs[1, "x2"]?.dtype == .bfloat16)
    }
}
