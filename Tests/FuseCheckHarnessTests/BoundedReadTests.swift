import Foundation
import Testing
import FuseCheckCore
@testable import FuseCheckHarness
@testable import FuseCheckExternal

/// Makes `path` a sparse file of `size` bytes that starts with `prefix`: it costs no disk, and
/// reading it whole would cost `size` bytes of memory.
func writeSparseFile(_ path: String, prefix: [UInt8], size: Int) throws {
    try Data(prefix).write(to: URL(fileURLWithPath: path))
    guard truncate(path, off_t(size)) == 0 else { throw HarnessError("truncate \(path): errno \(errno)") }
}

/// The process's peak resident set so far, in bytes.
func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return usage.ru_maxrss * 1024
}

@Suite("Backend output is read in bounded pieces")
struct BoundedReadTests {
    static let sparseSize = 20 << 30
    static let testCase = AllGatherMatmulCases.make(.a3, .float16, ws: 2, m: 2, k: 256, n: 3, data: .exact, seed: 5)

    /// Runs `body` and expects it to finish within 5 s and raise the peak resident set by less than 512 MiB.
    func expectCheap<T>(_ what: String, _ body: () throws -> T) rethrows -> T {
        let (peak, start) = (peakResidentBytes(), Date())
        let result = try body()
        #expect(Date().timeIntervalSince(start) < 5, "\(what) took too long")
        #expect(peakResidentBytes() - peak < 512 << 20, "\(what) raised the peak resident set")
        return result
    }

    @Test("a sparse 20 GB output.npy with the right header is bad output for its surplus, read no further")
    func sparseSurplus() throws {
        let (folder, call, _) = try CaseFolderOutcomeTests.answeredFolder(Self.testCase)
        let path = folder + "/out/rank0/output.npy"
        let valid = try Data(contentsOf: URL(fileURLWithPath: path))
        try writeSparseFile(path, prefix: Array(valid), size: Self.sparseSize)
        let failure = try #require(expectCheap("reading the sparse output") {
            CaseFolderOutcomeTests.failure(CaseFolder.readOutcome(folder: folder, call: call))
        })
        #expect(failure.kind == .badOutput)
        #expect(failure.message.hasPrefix("rank 0 output.npy: \(Self.sparseSize - valid.count) bytes after"),
                "\(failure.message)")
        #expect(failure.message.contains("bytes after the data"))
    }

    @Test("an output whose header announces a huge shape is refused by its header, before any data is read")
    func hugeHeader() throws {
        let (folder, call, _) = try CaseFolderOutcomeTests.answeredFolder(Self.testCase)
        let path = folder + "/out/rank1/output.npy"
        let header = npyBytes("{'descr': '<f2', 'fortran_order': False, 'shape': (100000, 100000), }", data: [])
        try writeSparseFile(path, prefix: header, size: header.count + 20_000_000_000)
        let failure = expectCheap("reading the huge output") {
            CaseFolderOutcomeTests.failure(CaseFolder.readOutcome(folder: folder, call: call))
        }
        #expect(failure == BackendFailure(.badOutput, "rank 1 output.npy has shape [100000, 100000], expected [4, 3]"))
    }

    @Test("an output one byte longer than its shape needs is bad output saying so")
    func oneByteSurplus() throws {
        let (folder, call, _) = try CaseFolderOutcomeTests.answeredFolder(Self.testCase)
        let path = folder + "/out/rank1/gather_out.npy"
        try (try Data(contentsOf: URL(fileURLWithPath: path)) + [0]).write(to: URL(fileURLWithPath: path))
        let failure = CaseFolderOutcomeTests.failure(CaseFolder.readOutcome(folder: folder, call: call))
        #expect(failure?.kind == .badOutput)
        #expect(failure?.message.hasPrefix("rank 1 gather_out.npy: 1 bytes after the data of shape [4, 256]") == true,
                "\(failure?.message ?? "completed")")
    }

    @Test("a sparse 20 GB rejected.json is bad output, read no further than its limit")
    func sparseRejection() throws {
        let folder = try temporaryFolder() + "/case"
        try CaseFolder.write(Self.testCase, to: folder)
        try FileManager.default.createDirectory(atPath: folder + "/out", withIntermediateDirectories: true)
        let prefix = Array(#"{"message": ""#.utf8)
        try writeSparseFile(folder + "/out/rejected.json", prefix: prefix, size: Self.sparseSize)
        let failure = expectCheap("reading the sparse rejection") {
            CaseFolderOutcomeTests.failure(CaseFolder.readOutcome(folder: folder, call: try! Self.testCase.makeCall()))
        }
        #expect(failure == BackendFailure(.badOutput, "out/rejected.json is larger than 1 MiB"))
    }

    @Test("a rejection of exactly the limit is still read")
    func rejectionAtLimit() throws {
        let folder = try temporaryFolder() + "/case"
        try FileManager.default.createDirectory(atPath: folder + "/out", withIntermediateDirectories: true)
        let prefix = #"{"message": "k", "constraints": []}"#
        let text = prefix + String(repeating: " ", count: CaseFolder.rejectionLimit - prefix.utf8.count)
        try Data(text.utf8).write(to: URL(fileURLWithPath: folder + "/out/rejected.json"))
        #expect(try CaseFolder.readRejection(folder + "/out").get() == BackendRejection(message: "k", constraints: []))
    }

    @Test("NpyFile.read refuses data over its limit by the header, and reads a good file exactly")
    func npyReadLimit() throws {
        let folder = try temporaryFolder()
        let huge = npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }", data: [])
        try writeSparseFile(folder + "/huge.npy", prefix: huge, size: huge.count + 4096)
        #expect { try NpyFile.read(path: folder + "/huge.npy") } throws: { "\($0)".contains("more than the") }

        let tensor = Tensor(rounding: [1, -2, 3.5, 0], to: .bfloat16, shape: [2, 2])
        try NpyFile.write(tensor, to: folder + "/good.npy")
        #expect(try NpyFile.read(path: folder + "/good.npy").tensor(as: .bfloat16) == tensor)
        #expect(throws: NpyFormatError.self) { try NpyFile.read(path: folder + "/missing.npy") }
    }

    @Test("a case manifest cannot make the harness allocate more ranks than it lists")
    func manifestWorld() throws {
        let folder = try temporaryFolder() + "/case"
        try CaseFolder.write(Self.testCase, to: folder)
        let path = folder + "/" + CaseFolder.manifestFile
        let text = try String(contentsOfFile: path, encoding: .utf8)
            .replacingOccurrences(of: "\"size\" : 2", with: "\"size\" : 99999999999999")
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        #expect { try CaseFolder.readInputs(folder) } throws: { "\($0)".contains("world size 99999999999999") }
    }
}
