import Foundation
import Testing
@testable import FuseCheckHarness

/// What the example backends need on this machine: python3 with NumPy; for the MPI backend
/// also Open MPI's mpirun and mpi4py. Tests that need them are skipped, saying why, when absent.
enum PythonEnvironment {
    /// `examples/backends` of this package.
    static let examples = projectLayout.root + "/examples/backends"

    /// Whether `python3 -c 'import numpy'` succeeds.
    static let hasNumPy: Bool = succeeds("python3 -c 'import numpy'")

    /// Whether mpirun and mpi4py are there too.
    static let hasMPI: Bool = hasNumPy && succeeds("mpirun --version && python3 -c 'import mpi4py'")

    static let skipMessage: Comment = "needs python3 with numpy (pip install numpy)"
    static let mpiSkipMessage: Comment =
        "needs mpirun (apt-get install openmpi-bin libopenmpi-dev) and mpi4py (pip install mpi4py)"

    /// Runs a shell command, discarding its output; true on exit status 0.
    static func succeeds(_ command: String) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus == 0
        } catch {
            return false
        }
    }

    /// Runs a Python script with arguments; returns its stdout, or throws with its stderr.
    static func run(script: String, arguments: [String] = []) throws -> String {
        let folder = try temporaryFolder()
        let path = folder + "/script.py"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "exec python3 \"$0\" \"$@\"", path] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HarnessError("python3 failed: " + String(decoding: errorData, as: UTF8.self))
        }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A shell command running one of the example backends.
    static func command(_ script: String, _ arguments: String = "") -> String {
        "exec python3 '\(examples)/\(script)'" + (arguments.isEmpty ? "" : " " + arguments)
    }
}
