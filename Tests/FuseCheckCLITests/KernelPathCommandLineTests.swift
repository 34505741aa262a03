import Foundation
import Testing
import _FuseCheckTestSupport

/// `FUSECHECK_KERNEL` end to end: an unknown path is a usage error (exit 2, naming the supported
/// paths), and every supported path gives the pipelined engine's outputs the same digests.
@Suite("The fusecheck command: kernel paths", .enabled(if: fusecheckExecutable != nil, "fusecheck not built"))
struct KernelPathCommandLineTests {
    static func fusecheck(_ arguments: [String], kernel: String) throws -> (status: Int32, output: String, error: String) {
        let outcome = try fusecheckOutcome(arguments, environment: ["FUSECHECK_KERNEL": kernel])
        return (outcome.status, outcome.output, outcome.errors)
    }

    @Test("an unknown kernel path exits 2 and names the supported ones")
    func unknownPath() throws {
        let (status, _, error) = try Self.fusecheck(["constraints"], kernel: "avx9000")
        #expect(status == 2)
        #expect(error.contains("FUSECHECK_KERNEL=avx9000 is not a kernel path"))
        #expect(error.contains("generic"))
    }

    @Test("every supported path gives the same output digests")
    func samePathsSameBits() throws {
        let id = "agmm:a2:bf16:ws=2:m=9:k=300:n=53:data=normal:seed=5"
        // A path the CPU lacks exits 2 (checked above for an unknown one); the others must agree.
        let shown = try ["avx512", "avx2", "generic"].compactMap { path -> String? in
            let (status, output, error) = try Self.fusecheck(["show", id, "--engine", "pipelined"], kernel: path)
            if status == 2 && error.contains("needs instructions this CPU") { return nil }
            #expect(status == 0, "\(path): exit \(status)")
            return output
        }
        #expect(shown.count >= 1 && shown.allSatisfy { $0 == shown[0] })
    }
}
