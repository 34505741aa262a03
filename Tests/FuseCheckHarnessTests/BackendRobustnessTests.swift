import Foundation
import Testing
@testable import FuseCheckHarness
@testable import FuseCheckExternal

/// A small valid case every test here can send.
private func smallCase(seed: UInt64 = 1) -> Case {
    AllGatherMatmulCases.make(.a3, .float16, ws: 2, m: 1, k: 256, n: 2, data: .exact, seed: seed)
}

/// Runs `testCase` on `backend`, keeping the stderr.
private func runKeepingStderr(_ backend: SubprocessBackend, _ testCase: Case) throws -> BackendCaseRun {
    backend.runReportingStderr(testCase, call: try testCase.makeCall(), inputs: try InputGenerator.inputs(for: testCase))
}

/// Whether process `pid` is gone (or a zombie nobody reaped yet, which runs no code).
private func isGone(_ pid: pid_t) -> Bool {
    guard kill(pid, 0) == 0 else { return true }
    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
}

/// Writes a Python script to a temporary folder; returns its path.
private func script(_ source: String) throws -> String {
    let path = try temporaryFolder() + "/backend.py"
    try source.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

@Suite("Subprocess backend: deadlines and attribution")
struct BackendDeadlineTests {
    @Test("the timeout holds under a flood of blank lines (yes '')")
    func floodOfBlankLines() throws {
        let backend = SubprocessBackend(command: "yes ''", timeout: .seconds(2))
        defer { backend.shutDown() }
        let started = ContinuousClock.now
        guard case .failed(let failure) = try runOnBackend(backend, smallCase()) else {
            Issue.record("a backend that only writes blank lines must time out")
            return
        }
        #expect(failure.kind == .timeout, "\(failure)")
        #expect(ContinuousClock.now - started < .seconds(6), "the 2 s deadline took \(ContinuousClock.now - started)")
    }

    @Test("a flood without newlines is a protocol error at the reply limit, not a hang")
    func floodWithoutNewlines() throws {
        let backend = SubprocessBackend(.init(command: "yes x | tr -d '\\n'", timeout: .seconds(5), replyLimit: 1 << 16))
        defer { backend.shutDown() }
        guard case .failed(let failure) = try runOnBackend(backend, smallCase()) else {
            Issue.record("expected a failure")
            return
        }
        #expect(failure.kind == .protocolError, "\(failure)")
    }

    @Test("a backend that exits right after each reply: no case is blamed, whatever the timing",
          .enabled(if: PythonEnvironment.hasNumPy, PythonEnvironment.skipMessage))
    func quietExitIsNeverBlamed() throws {
        let backend = SubprocessBackend(command: PythonEnvironment.command("testing/misbehave.py", "quiet-exit"),
                                        timeout: .seconds(30))
        defer { backend.shutDown() }
        for seed: UInt64 in 1...6 {  // back to back: the exit races the next request
            let run = try runKeepingStderr(backend, smallCase(seed: seed))
            guard case .completed = run.outcome else {
                Issue.record("case \(seed) was blamed: \(run.outcome)\n\(run.stderr)")
                return
            }
        }
        #expect(backend.processStarts == 6)
    }

    @Test("a late second reply is not taken as the next case's reply",
          .enabled(if: PythonEnvironment.hasNumPy, PythonEnvironment.skipMessage))
    func lateReplyIsNotMisattributed() throws {
        let backend = SubprocessBackend(command: PythonEnvironment.command("testing/misbehave.py",
                                                                          "late-reply --on seed=13"),
                                        timeout: .seconds(30))
        defer { backend.shutDown() }
        guard case .completed = try runOnBackend(backend, smallCase(seed: 13)) else {
            Issue.record("the first case should complete")
            return
        }
        let run = try runKeepingStderr(backend, smallCase(seed: 14))  // at once, before the late line
        guard case .completed(let outputs) = run.outcome else {
            Issue.record("the next case was blamed for the late reply: \(run.outcome)\n\(run.stderr)")
            return
        }
        #expect(try firstBackendMismatch(smallCase(seed: 14), got: outputs) == nil)
        #expect(run.stderr.contains("replied for another case") || run.stderr.contains("unsolicited output"),
                "\(run.stderr)")
    }

    @Test("a backend that dies while a grandchild holds its stdout is a crash at once, not a timeout")
    func deathWithGrandchildHoldingStdout() throws {
        let backend = SubprocessBackend(command: "(sleep 30) & read line; echo dying >&2; exit 3",
                                        timeout: .seconds(20))
        defer { backend.shutDown() }
        let started = ContinuousClock.now
        let run = try runKeepingStderr(backend, smallCase())
        guard case .failed(let failure) = run.outcome else {
            Issue.record("expected a crash, got \(run.outcome)")
            return
        }
        #expect(failure.kind == .crash && failure.message.contains("exited with status 3"), "\(failure)")
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(run.stderr.contains("dying"))
    }

    @Test("a backend that closes its stdout and lives on is a crash at once (a simple command is exec'd)")
    func closedStdout() throws {
        let path = try script("""
            import os, sys, time
            sys.stdin.readline()
            os.close(1)
            time.sleep(30)
            """)
        let backend = SubprocessBackend(command: "python3 \(path)", timeout: .seconds(20))
        defer { backend.shutDown() }
        let started = ContinuousClock.now
        guard case .failed(let failure) = try runOnBackend(backend, smallCase()) else {
            Issue.record("expected a crash")
            return
        }
        #expect(failure.kind == .crash, "\(failure)")
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test("a descendant that left the process group (setsid) does not outlive the backend")
    func setsidDescendantIsKilled() throws {
        let folder = try temporaryFolder()
        let path = try script("""
            import subprocess, sys, time
            child = subprocess.Popen(["sleep", "60"], start_new_session=True)
            open("\(folder)/pid", "w").write(str(child.pid))
            sys.stdin.readline()
            time.sleep(60)
            """)
        let backend = SubprocessBackend(command: "python3 \(path)", timeout: .seconds(1))
        guard case .failed(let failure) = try runOnBackend(backend, smallCase()), failure.kind == .timeout else {
            Issue.record("expected a timeout")
            return
        }
        backend.shutDown()
        let pid = try #require(pid_t(try String(contentsOfFile: folder + "/pid", encoding: .utf8)))
        let deadline = ContinuousClock.now + .seconds(3)
        while !isGone(pid) && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(isGone(pid), "the setsid grandchild \(pid) survived")
        if !isGone(pid) { kill(pid, SIGKILL) }
    }

    @Test("escape sequences in a backend's stderr and messages never reach the report raw")
    func controlCharactersAreEscaped() throws {
        let command = "read line; printf '\\033[2J\\033]0;owned\\007evil\\n' >&2; "
            + "printf '{\"status\": \"rejected\", \"message\": \"no\\\\u001b[31m\"}\\n'; sleep 5"
        let backend = SubprocessBackend(command: command, timeout: .seconds(10))
        defer { backend.shutDown() }
        let result = Runner(backend: backend).run(smallCase())
        let stderr = try #require(result.stderr)
        #expect(!stderr.contains("\u{1B}") && !stderr.contains("\u{07}"), "\(stderr.debugDescription)")
        #expect(stderr.contains("\\x1b[2J") && stderr.contains("evil"))
        #expect(!result.message.contains("\u{1B}") && !(result.rejection ?? "").contains("\u{1B}"),
                "\(result.message.debugDescription) \(String(describing: result.rejection))")
    }
}

@Suite("Untrusted text")
struct UntrustedTextTests {
    @Test("control characters are escaped, newlines and tabs kept, other text untouched")
    func escapes() {
        #expect(UntrustedText.sanitized("a\u{1B}[31mb\tc\nd\u{7F}\u{9B}") == "a\\x1b[31mb\tc\nd\\x7f\\x9b")
        #expect(UntrustedText.sanitizedLine("one\ntwo\r") == "one\\ntwo\\r")
        #expect(UntrustedText.sanitized("abc \u{202E}cba") == "abc \\u{202e}cba")
        let plain = "ünïcödé 数学 √2 ±inf"
        #expect(UntrustedText.sanitized(plain) == plain)
    }

    @Test("every scalar below U+0100 that is a control is escaped")
    func everyControl() {
        for value in UInt32(0)..<0x100 {
            let scalar = Unicode.Scalar(value)!
            let original = String(Character(scalar))
            let escaped = UntrustedText.sanitizedLine(original) != original
            let isControl = value < 0x20 || (0x7F...0x9F).contains(value)
            #expect(escaped == (isControl && value != 0x09), "U+\(value)")
        }
    }
}

@Suite("Child process: which commands are exec'd")
struct SimpleCommandTests {
    @Test("words and quoted words are simple", arguments: [
        "python3 backend.py", "/usr/bin/python3 '/a b/backend.py' --accumulate blas",
        "mpirun -n 2 python3 x.py", "./kernel \"--flag=1\"",
    ])
    func simple(_ command: String) { #expect(ChildProcess.isSimple(command)) }

    @Test("anything with shell syntax keeps the shell", arguments: [
        "while read line; do echo; done", "FOO=1 python3 x.py", "exec python3 x.py", "cd /tmp && ./x",
        "python3 x.py 2>/dev/null", "echo $HOME", "python3 'unterminated", "(sleep 1)", "a | b", "",
        "cd /tmp", "x.py &",
    ])
    func notSimple(_ command: String) { #expect(!ChildProcess.isSimple(command)) }
}
