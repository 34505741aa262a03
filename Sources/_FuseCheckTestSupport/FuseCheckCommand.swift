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

/// Runs the executable in the package root (with `CI` set); returns the exit status and
/// standard output.
public func fusecheck(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: fusecheckExecutable!)
    process.arguments = arguments
    process.currentDirectoryURL = packageRoot
    var environment = ProcessInfo.processInfo.environment
    environment["CI"] = "true"
    process.environment = environment
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// What one run of the executable printed and how it ended.
public struct CommandOutcome {
    public var status: Int32
    public var output: String
    public var errors: String
}

/// Runs the executable in the package root, keeping standard output and standard error apart
/// (each through a file, so that neither pipe can fill up and stall the child).
public func fusecheckOutcome(_ arguments: [String]) throws -> CommandOutcome {
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
    var environment = ProcessInfo.processInfo.environment
    environment["CI"] = "true"
    process.environment = environment
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
