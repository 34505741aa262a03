import Foundation
import FuseCheckOps
@testable import FuseCheckHarness

/// The constraints of the catalogue's operators that the harness has cases for. An operator listed
/// in `OperatorCatalogue` before its `OperatorCaseRecord` exists (MatmulReduceScatter, for now)
/// has no invalid cases and reaches no backend, so the suites cannot cover its constraints yet;
/// once its record is in `OperatorRegistry` this is the whole catalogue again.
let harnessConstraints: [Constraint] = OperatorCatalogue.operators
    .filter { OperatorRegistry.record(for: $0.operatorID) != nil }
    .flatMap { $0.constraints }

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
