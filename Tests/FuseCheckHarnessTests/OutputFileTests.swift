import Foundation
import Synchronization
import Testing
import FuseCheckEngines
@testable import FuseCheckHarness
@testable import FuseCheckExternal
@testable import FuseCheckMutants

/// The bytes of a file, or nil if it cannot be read.
private func contents(_ path: String) -> String? {
    FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
}

/// The file type bits of `path` itself (not of what a symlink points to).
private func fileType(_ path: String) -> mode_t? {
    var status = stat()
    return lstat(path, &status) == 0 ? status.st_mode & S_IFMT : nil
}

@Suite("Atomic writes: a target is replaced only if it is a regular file, through an exclusive temporary")
struct AtomicFileTests {
    @Test("a new file is created and an existing regular file replaced, leaving nothing else in the folder")
    func replacesRegularFile() throws {
        let folder = try temporaryFolder()
        let path = folder + "/report.json"
        try AtomicFile.write(Data("first".utf8), to: path)
        try AtomicFile.write(Data("second".utf8), to: path)
        #expect(contents(path) == "second")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["report.json"])
        #expect(fileType(path) == S_IFREG)
    }

    @Test("a symlink target is refused, naming the path; neither the link nor what it points to changes")
    func refusesSymlink() throws {
        let folder = try temporaryFolder()
        let victim = folder + "/victim"
        try AtomicFile.write(Data("precious".utf8), to: victim)
        let link = folder + "/report.json"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: victim)
        #expect { try AtomicFile.write(Data("new".utf8), to: link) } throws: {
            "\($0)".contains(link) && "\($0)".contains("symbolic link")
        }
        #expect(fileType(link) == S_IFLNK && contents(victim) == "precious")
    }

    @Test("a FIFO target is refused, naming the path, and stays a FIFO")
    func refusesFIFO() throws {
        let path = try temporaryFolder() + "/pipe"
        #expect(mkfifo(path, 0o600) == 0)
        #expect { try AtomicFile.write(Data("new".utf8), to: path) } throws: {
            "\($0)".contains(path) && "\($0)".contains("FIFO")
        }
        #expect(fileType(path) == S_IFIFO)
    }

    @Test("a directory target is refused with a clear error naming the path")
    func refusesDirectory() throws {
        let path = try temporaryFolder() + "/reports"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        #expect { try AtomicFile.write(Data("new".utf8), to: path) } throws: {
            "\($0)".contains(path) && "\($0)".contains("directory")
        }
        #expect(fileType(path) == S_IFDIR)
    }

    @Test("a device target is refused (as root, --json /dev/null used to replace /dev/null)",
          .enabled(if: getuid() == 0, "mknod needs root"))
    func refusesDevice() throws {
        let path = try temporaryFolder() + "/null"
        #expect(mknod(path, S_IFCHR | 0o666, (1 << 8) | 3) == 0)  // the same device as /dev/null
        #expect { try AtomicFile.write(Data("new".utf8), to: path) } throws: {
            "\($0)".contains(path) && "\($0)".contains("device")
        }
        #expect(fileType(path) == S_IFCHR)
    }

    @Test("a symlink planted at the old predictable temporary name is neither written through nor left in place")
    func plantedTemporary() throws {
        let folder = try temporaryFolder()
        let victim = folder + "/victim"
        try AtomicFile.write(Data("precious".utf8), to: victim)
        let planted = folder + "/.report.json.\(getpid()).tmp"
        try FileManager.default.createSymbolicLink(atPath: planted, withDestinationPath: victim)
        try AtomicFile.write(Data("report".utf8), to: folder + "/report.json")
        #expect(contents(victim) == "precious")
        #expect(fileType(folder + "/report.json") == S_IFREG && contents(folder + "/report.json") == "report")
        #expect(fileType(planted) == S_IFLNK, "someone else's file is not ours to remove")
    }

    @Test("a write that fails leaves no temporary behind")
    func noLeftovers() throws {
        let folder = try temporaryFolder()
        try FileManager.default.createDirectory(atPath: folder + "/taken", withIntermediateDirectories: false)
        #expect(throws: HarnessError.self) { try AtomicFile.write(Data("x".utf8), to: folder + "/taken") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["taken"])
    }
}

@Suite("Export targets: only a new or empty folder")
struct ExportTargetTests {
    static let suite = Suite(name: "one",
                             cases: [try! Case(id: "agmm:a3:fp16:ws=2:m=1:k=256:n=1:data=uniform:seed=1")])

    @Test("export --out onto an existing file is refused and the file survives")
    func existingFile() throws {
        let path = try temporaryFolder() + "/notes.txt"
        try AtomicFile.write(Data("keep me".utf8), to: path)
        #expect { try CaseExport.export(Self.suite, to: path) } throws: { "\($0)".contains(path) }
        #expect(contents(path) == "keep me")
    }

    @Test("export --out onto a symlink is refused and the link survives")
    func symlink() throws {
        let folder = try temporaryFolder()
        try FileManager.default.createDirectory(atPath: folder + "/real", withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: folder + "/link", withDestinationPath: folder + "/real")
        #expect(throws: HarnessError.self) { try CaseExport.export(Self.suite, to: folder + "/link") }
        #expect(fileType(folder + "/link") == S_IFLNK)
    }

    @Test("export --out into an empty folder or a new path works")
    func emptyOrNew() throws {
        let empty = try temporaryFolder()
        try CaseExport.export(Self.suite, to: empty)
        #expect(try CaseExport.read(empty).entries.count == 1)
        let new = try temporaryFolder() + "/new/export"
        try CaseExport.export(Self.suite, to: new)
        #expect(try CaseExport.read(new).entries.count == 1)
    }
}

@Suite("Output locations: checked before a run, named in every refusal")
struct OutputLocationCheckTests {
    @Test("a report may go to -, a new file or a regular file in an existing folder")
    func acceptedReports() throws {
        let folder = try temporaryFolder()
        try OutputLocation.checkReport("-", option: "--json")
        try OutputLocation.checkReport(folder + "/new.json", option: "--json")
        try AtomicFile.write(Data("old".utf8), to: folder + "/old.json")
        try OutputLocation.checkReport(folder + "/old.json", option: "--json")
    }

    @Test("a report is refused in a missing folder, under a file, or onto a FIFO, naming option and path")
    func refusedReports() throws {
        let folder = try temporaryFolder()
        try AtomicFile.write(Data("x".utf8), to: folder + "/file")
        #expect(mkfifo(folder + "/fifo", 0o600) == 0)
        for path in [folder + "/missing/r.json", folder + "/file/r.json", folder + "/fifo", "/dev/null"] {
            #expect("\(path)") { try OutputLocation.checkReport(path, option: "--junit") } throws: {
                "\($0)".hasPrefix("--junit \(path): ")
            }
        }
    }

    @Test("a findings folder may exist or be creatable; a file in its place or its way is refused")
    func findingsFolders() throws {
        let folder = try temporaryFolder()
        try OutputLocation.checkFolder(folder, option: "--findings")
        try OutputLocation.checkFolder(folder + "/a/b/c", option: "--findings")
        try AtomicFile.write(Data("x".utf8), to: folder + "/file")
        #expect(throws: HarnessError.self) { try OutputLocation.checkFolder(folder + "/file", option: "--findings") }
        #expect(throws: HarnessError.self) { try OutputLocation.checkFolder(folder + "/file/a", option: "--findings") }
    }

    @Test("a finding that cannot be written mid-run is reported with its error, not dropped")
    func unwritableFinding() throws {
        let file = try temporaryFolder() + "/not-a-folder"
        try AtomicFile.write(Data("x".utf8), to: file)
        var options = FuzzOptions()
        options.seed = 3
        options.cases = 120
        options.budget = 1 << 13
        options.findingsFolder = file
        let told = Mutex<[String]>([])
        options.findingNotWritten = { signature, _ in told.withLock { $0.append(signature) } }
        let mutant = MutantEngine(.biasIgnored)
        let summary = try Fuzzer.run(options, backendName: mutant.name, makeBackend: { EngineBackend(mutant) })
        let finding = try #require(summary.findings.first, "\(mutant.name) not found in 120 cases")
        #expect(finding.path == nil)
        #expect(finding.writeError?.contains(file) == true, "\(finding.writeError ?? "no error")")
        #expect(told.withLock { $0 } == summary.findings.map(\.signature), "each failure is told as it happens")
    }
}
