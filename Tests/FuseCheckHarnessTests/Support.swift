import Foundation
import FuseCheckOps
@testable import FuseCheckHarness
import _FuseCheckTestSupport

/// The package root, so that tests read the checked-in corpora.
let projectLayout = ProjectLayout(root: packageRoot.path)

/// The checked-in smoke suite.
let smokeSuite: Suite = {
    do {
        return try projectLayout.suite("smoke")
    } catch {
        fatalError("cannot read the smoke corpus: \(error)")
    }
}()

/// A fresh temporary folder (`_FuseCheckTestSupport`'s, for every file of this bundle).
func temporaryFolder() throws -> String { try _FuseCheckTestSupport.temporaryFolder() }
