import Foundation
import FuseCheckOps
@testable import FuseCheckHarness

/// The package root, found from this file's path, so that tests read the checked-in corpora.
let projectLayout: ProjectLayout = {
    let here = URL(fileURLWithPath: #filePath)
    return ProjectLayout(root: here.deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path)
}()

/// The checked-in smoke suite.
let smokeSuite: Suite = {
    do {
        return try projectLayout.suite("smoke")
    } catch {
        fatalError("cannot read the smoke corpus: \(error)")
    }
}()

/// A fresh temporary folder.
func temporaryFolder() throws -> String {
    let path = NSTemporaryDirectory() + "fusecheck-tests-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
