import ArgumentParser
import Foundation
import FuseCheckCore
import FuseCheckEngines
import FuseCheckHarness
import FuseCheckOps

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Run one case by id and print its call, inputs and outputs (digests and leading values)."
    )

    @Argument(help: "A case id, e.g. agmm:a3:bf16:ws=2:m=4:k=256:n=8:data=uniform:seed=1")
    var caseID: String

    @Option(name: .long, help: "The engine: \(BackendCatalog.builtInNames.joined(separator: ", ")).")
    var engine = "reference"

    @Option(name: .long, help: "How many leading values of each tensor to print.")
    var values = 8

    @OptionGroup var budgetOptions: BudgetOptions

    func run() throws {
        try budgetOptions.apply()
        let testCase: Case
        do {
            testCase = try Case(id: caseID)
        } catch {
            throw HarnessError("\(error)")
        }
        let engine = try BackendCatalog.builtInEngine(named: engine)
        let call = try testCase.makeCall()
        print("case     \(testCase.id)")
        print("operator \(type(of: call).operatorName) on \(call.platform.rawValue.uppercased()), \(call.rankCount) ranks")
        let inputs = try InputGenerator.inputs(for: testCase)
        print("inputs (rank 0 of \(inputs.rankCount)):")
        for slot in call.inputSlots {
            describe(slot.name, inputs[0, slot.name])
        }
        switch try engine.run(call, inputs: inputs) {
        case .rejected(let violations):
            print("rejected by \(engine.name):")
            for violation in violations { print("  \(violation)") }
        case .completed(let outputs):
            print("outputs of \(engine.name) (rank 0):")
            for slot in call.outputSlots {
                describe(slot.name, outputs[0, slot.name])
            }
        }
    }

    private func describe(_ name: String, _ tensor: Tensor?) {
        guard let tensor else {
            print("  \(name.padding(toLength: 10, withPad: " ", startingAt: 0)) absent")
            return
        }
        let leading = tensor.values.prefix(values).map { "\($0)" }.joined(separator: ", ")
        let more = tensor.count > values ? ", ..." : ""
        print("  \(name.padding(toLength: 10, withPad: " ", startingAt: 0)) \(tensor.spec)  \(Digest(tensor: tensor).hex)  [\(leading)\(more)]")
    }
}
