import Foundation

/// The `fusecheck` executable built beside the running test bundle, if there is one.
public let fusecheckExecutable: String? = {
    let candidates = [Bundle.main.bundleURL.deletingLastPathComponent(),
                      URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
    return candidates.map { $0.appendingPathComponent("fusecheck").path }
        .first { FileManager.default.isExecutableFile(atPath: $0) }
}()

/// The package's root folder, found from this file's path (corpora and goldens are found from there).
public let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A fresh temporary folder.
public func temporaryFolder() throws -> String {
    let path = NSTemporaryDirectory() + "fusecheck-tests-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// What one run of the executable printed and how it ended.
public struct CommandOutcome {
    public var status: Int32
    public var output: String
    public var errors: String
}

/// Runs the executable in the package root with `CI` set and `environment` added to this
/// process's, keeping standard output and standard error apart (each through a file, so that
/// neither pipe can fill up and stall the child).
public func fusecheckOutcome(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandOutcome {
    let folder = try temporaryFolder()
    let outputPath = folder + "/stdout", errorPath = folder + "/stderr"
    _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
    let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
    let errors = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: fusecheckExecutable!)
    process.arguments = arguments
    process.currentDirectoryURL = packageRoot
    process.environment = ProcessInfo.processInfo.environment.merging(["CI": "true"]) { $1 }
        .merging(environment) { $1 }
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    process.waitUntilExit()
    try output.close()
    try errors.close()
    let read = { (path: String) in
        String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
    }
    return CommandOutcome(status: process.terminationStatus, output: read(outputPath), errors: read(errorPath))
}

/// Runs the executable as `fusecheckOutcome` does; returns the exit status and standard output.
public func fusecheck(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let outcome = try fusecheckOutcome(arguments)
    return (outcome.status, outcome.output)
}
