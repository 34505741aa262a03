import ArgumentParser
import Foundation
import FuseCheckHarness
import FuseCheckOps

struct ConstraintsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "constraints",
        abstract: "Print the constraint catalogue: every input constraint of every operator, with its stable id."
    )

    @Flag(name: .long, help: "Print a JSON array of {id, operator, description, source}.")
    var json = false

    func run() throws {
        let constraints = OperatorCatalogue.constraints
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(constraints), as: UTF8.self))
            return
        }
        let width = constraints.map(\.id.count).max() ?? 0
        var currentOperator = ""
        for constraint in constraints {
            if constraint.operatorName != currentOperator {
                currentOperator = constraint.operatorName
                print("\n\(currentOperator)")
            }
            let padded = constraint.id.padding(toLength: width, withPad: " ", startingAt: 0)
            print("  \(padded)  \(constraint.description)  [\(constraint.source)]")
        }
        print("\n\(constraints.count) constraints")
    }
}
