import Foundation
import Testing
@testable import FuseCheckHarness
import _FuseCheckTestSupport

@Suite("SIGINT and SIGTERM during a run", .enabled(if: fusecheckExecutable != nil, "fusecheck not built"))
struct InterruptionTests {
    /// Starts `fusecheck` with `arguments` and a private temporary folder; the caller signals it.
    static func start(_ arguments: [String], temporary: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: fusecheckExecutable!)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: projectLayout.root)
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = temporary
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// A backend that answers its first two requests, then hangs in a process that left its
    /// group (setsid); it writes that process's pid to `pidFile`.
    static func hangingBackend(pidFile: String) throws -> String {
        let path = try temporaryFolder() + "/backend.py"
        try """
            import json, subprocess, sys
            for count, line in enumerate(sys.stdin):
                if count < 2:
                    print(json.dumps({"status": "rejected", "message": "no"}), flush=True)
                    continue
                child = subprocess.Popen(["sleep", "300"], start_new_session=True)
                open("\(pidFile)", "w").write(str(child.pid))
                child.wait()
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return "python3 \(path)"
    }

    @Test("a signal ends the backend and its descendants, removes scratch, reports the cases done, exits 128+signal",
          arguments: [(SIGINT, Int32(130), "SIGINT"), (SIGTERM, 143, "SIGTERM")])
    func interrupted(signal: Int32, status: Int32, name: String) throws {
        let temporary = try temporaryFolder()
        let pidFile = temporary + "/grandchild.pid"
        let report = temporary + "/report.json"
        let process = try Self.start(["run", "--suite", "invalid", "--backend-cmd", try Self.hangingBackend(pidFile: pidFile),
                                      "--timeout", "300", "--json", report], temporary: temporary)
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: pidFile) && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        Thread.sleep(forTimeInterval: 0.2)
        let grandchild = pid_t((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "") ?? 0
        #expect(grandchild > 0, "the backend never reached its third case")
        let signalled = Date()
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        #expect(Date().timeIntervalSince(signalled) < 5, "the harness took too long to stop")
        #expect(process.terminationStatus == status)

        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any]
        #expect(json?["interruptedBy"] as? String == name)
        #expect((json?["results"] as? [Any])?.count == 2, "the two cases done, not the interrupted one")
        if grandchild > 0 {
            Thread.sleep(forTimeInterval: 0.3)
            #expect(kill(grandchild, 0) != 0 || processState(grandchild) == "Z", "the backend's setsid child survived")
            kill(grandchild, SIGKILL)
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: temporary).filter { $0.hasPrefix("fusecheck-backend") }
        #expect(left.isEmpty, "scratch folders left: \(left)")
    }
}

/// The state letter of /proc/PID/stat (R, S, Z, ...).
private func processState(_ pid: pid_t) -> String {
    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    return stat.split(separator: ")").last?.split(separator: " ").first.map(String.init) ?? ""
}
