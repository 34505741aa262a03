import FuseCheckCore
import FuseCheckEngines
import FuseCheckMutants
import FuseCheckOps

/// One parameter of an operator's cases.
public struct CaseParameter: Sendable {
    /// The key in case ids (`ws`, `k`, `x2T`).
    public let key: String
    /// The value when the key is absent; nil for a required key or an override that is absent by default.
    public let defaultValue: String?
    /// Whether every case must give the key.
    public let isRequired: Bool
    /// One line for `--help` and docs.
    public let summary: String

    /// A required parameter.
    public static func required(_ key: String, _ summary: String) -> CaseParameter {
        CaseParameter(key: key, defaultValue: nil, isRequired: true, summary: summary)
    }

    /// A parameter with a default value, left out of ids when at the default.
    public static func optional(_ key: String, default value: String, _ summary: String) -> CaseParameter {
        CaseParameter(key: key, defaultValue: value, isRequired: false, summary: summary)
    }

    /// The dtype and shape overrides of a two-operand matmul operator's x1, x2, bias and output
    /// (read by `OperatorCaseRecord.matmulOperands`).
    public static let matmulOperandOverrides: [CaseParameter] = [
        .override("x1.dtype", "x1 dtype, if not the case's dtype"),
        .override("x2.dtype", "x2 dtype, if not the case's dtype"),
        .override("bias.dtype", "bias dtype, if not the case's dtype"),
        .override("out.dtype", "output dtype, if not the case's dtype"),
        .override("x1.shape", "x1 shape as stored, e.g. 4x256x1"),
        .override("x2.shape", "x2 shape as stored"),
        .override("bias.shape", "bias shape"),
    ]

    /// The communicator parameters of an expert-parallel operator (an EP and a TP group).
    public static let expertGroupParameters: [CaseParameter] = [
        .optional("groupEp", default: "8", "length in bytes of the EP group name"),
        .optional("groupTp", default: "8", "length in bytes of the TP group name"),
        .optional("sameGroups", default: "0", "1: the TP group name equals the EP group name"),
    ]

    /// The dtype and shape overrides of an expert-parallel operator's x, weight, bias and output.
    public static let expertOperandOverrides: [CaseParameter] = [
        .override("x.dtype", "x dtype, if not the case's dtype"),
        .override("weight.dtype", "weight dtype, if not the case's dtype"),
        .override("bias.dtype", "bias dtype, if not the operator's rule"),
        .override("out.dtype", "output dtype, if not the case's dtype"),
        .override("x.shape", "x shape as stored"),
        .override("weight.shape", "weight shape as stored"),
        .override("bias.shape", "bias shape"),
    ]

    /// An override that is absent by default (used by constraint-violation cases).
    public static func override(_ key: String, _ summary: String) -> CaseParameter {
        CaseParameter(key: key, defaultValue: nil, isRequired: false, summary: summary)
    }
}

/// Everything the harness needs to know about one operator's cases: how a case becomes a call,
/// what each input is, and which cases the suites hold.
///
/// Adding an operator means writing one of these (beside the operator's spec in FuseCheckOps, its
/// reference in FuseCheckEngines and its mutants in FuseCheckMutants) and listing it in
/// `OperatorRegistry.records`.
public protocol OperatorCaseRecord: Sendable {
    /// The operator's id.
    var operatorID: OperatorID { get }
    /// The operator's parameters in canonical id order.
    var parameters: [CaseParameter] { get }
    /// The operator's call type: everything the engines and the harness need of it.
    associatedtype Call: HarnessCall
    /// The call a case describes (any shape, also invalid ones).
    func makeCall(_ testCase: Case) throws -> Call
    /// The deterministic smoke suite's cases of this operator.
    func smokeCases() -> [Case]
    /// A random valid case, weighted toward edges, whose multiply-add count stays within `budget`.
    func randomCase(using generator: inout SeededGenerator, budget: Int) -> Case
    /// Per constraint of the operator, a case that violates exactly that constraint, and its id.
    func invalidCases() -> [(Case, String)]
    /// Cases one step simpler than `testCase` (smaller world or sizes, simpler data, fewer options),
    /// for shrinking a failure; they may be invalid (the shrinker drops those).
    func shrinkCandidates(_ testCase: Case) -> [Case]
    /// `testCase` with one random parameter broken so that exactly one constraint is violated,
    /// with that constraint's id; nil if the drawn violation breaks more than one.
    func randomViolation(of testCase: Case, using generator: inout SeededGenerator) -> (Case, String)?
}

extension OperatorCaseRecord {
    /// The operator's own mutants (`MutantTarget.operatorMutants`).
    public var operatorMutants: [OperatorMutant] { Call.operatorMutants }

    /// Parameters with every default value removed.
    public func normalized(_ params: [String: String]) -> [String: String] {
        var result = params
        for parameter in parameters {
            if let fallback = parameter.defaultValue, result[parameter.key] == fallback {
                result[parameter.key] = nil
            }
        }
        return result
    }

    /// Throws on unknown keys, missing required keys, or values that cannot appear in an id.
    public func checkParameters(_ params: [String: String]) throws {
        let known = Set(parameters.map(\.key))
        for (key, value) in params {
            guard known.contains(key) else {
                throw CaseFormatError("unknown parameter \"\(key)\" for \(operatorID) (known: "
                    + parameters.map(\.key).joined(separator: ", ") + ")")
            }
            guard !value.isEmpty, value.utf8.allSatisfy(isIDCharacter) else {
                throw CaseFormatError("parameter \(key) has value \"\(value)\"; use letters, digits, '.', '-', '_'")
            }
        }
        for parameter in parameters where parameter.isRequired && params[parameter.key] == nil {
            throw CaseFormatError("\(operatorID) case is missing the required parameter \"\(parameter.key)\"")
        }
    }

    /// The operands of a two-operand matmul operator (AllGatherMatmul, MatmulReduceScatter) as a
    /// case gives them: x1 (m, k), x2 (k, n) or (n, k) with `x2T=1`, an optional bias (n), each
    /// with its dtype and shape overrides, and the output dtype. x1 and x2 have `operandDType`
    /// (int8 in a quantized case) when given, else the case's dtype.
    func matmulOperands(_ testCase: Case, rows m: Int, operandDType: DType? = nil) throws
        -> (x1: TensorSpec, x2: TensorSpec, x2Transposed: Bool, bias: TensorSpec?, output: DType) {
        let (k, n) = (try integer(testCase, "k"), try integer(testCase, "n"))
        guard m >= 0, k >= 0, n >= 0 else { throw CaseFormatError("negative size in \(testCase.id)") }
        let dtype = testCase.dtype
        let operand = operandDType ?? dtype
        let x2Transposed = try integer(testCase, "x2T") != 0
        let hasBias = try integer(testCase, "bias") != 0 || testCase.params["bias.shape"] != nil
            || testCase.params["bias.dtype"] != nil
        return (x1: TensorSpec(try dtypeOverride(testCase, "x1.dtype") ?? operand,
                               try shapeOverride(testCase, "x1.shape") ?? [m, k]),
                x2: TensorSpec(try dtypeOverride(testCase, "x2.dtype") ?? operand,
                               try shapeOverride(testCase, "x2.shape") ?? (x2Transposed ? [n, k] : [k, n])),
                x2Transposed: x2Transposed,
                bias: hasBias ? TensorSpec(try dtypeOverride(testCase, "bias.dtype") ?? dtype,
                                           try shapeOverride(testCase, "bias.shape") ?? [n]) : nil,
                output: try dtypeOverride(testCase, "out.dtype") ?? dtype)
    }

    /// A required or defaulted integer parameter.
    func integer(_ testCase: Case, _ key: String) throws -> Int {
        let text = testCase.params[key] ?? parameters.first { $0.key == key }?.defaultValue
        guard let text, let value = Int(text) else {
            throw CaseFormatError("parameter \(key) = \"\(testCase.params[key] ?? "")\" is not an integer")
        }
        return value
    }

    /// An optional dtype override (`x2.dtype=fp32`).
    func dtypeOverride(_ testCase: Case, _ key: String) throws -> DType? {
        guard let text = testCase.params[key] else { return nil }
        guard let dtype = DType(name: text) else { throw CaseFormatError("\(key) = \"\(text)\" is not a dtype") }
        return dtype
    }

    /// An optional shape override (`x1.shape=4x256x1`; `scalar` for 0-D).
    func shapeOverride(_ testCase: Case, _ key: String) throws -> [Int]? {
        guard let text = testCase.params[key] else { return nil }
        if text == "scalar" { return [] }
        let dims = text.split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard !dims.isEmpty, dims.allSatisfy({ ($0 ?? -1) >= 0 }) else {
            throw CaseFormatError("\(key) = \"\(text)\" is not a shape like 4x256")
        }
        return dims.map { $0! }
    }

    /// A group name of the length given by a parameter (`hcom=128` gives 128 bytes), or the default.
    func groupName(_ testCase: Case, _ key: String, prefix: String, fallback: String) throws -> String {
        guard testCase.params[key] != nil else { return fallback }
        let length = try integer(testCase, key)
        guard length >= 0, length <= 4096 else { throw CaseFormatError("\(key) = \(length) is no group-name length") }
        return String((prefix + String(repeating: "x", count: length)).prefix(length))
    }
}

private func isIDCharacter(_ byte: UInt8) -> Bool {
    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
        || byte == 0x2E || byte == 0x2D || byte == 0x5F
}

/// The operators the harness knows, in report order.
public enum OperatorRegistry {
    /// Every operator's case record.
    public static let records: [any OperatorCaseRecord] = [
        AllGatherMatmulCases(),
        AlltoAllAllGatherBatchMatMulCases(),
        MatmulReduceScatterCases(),
        BatchMatMulReduceScatterAlltoAllCases(),
    ]

    /// The record of an operator.
    public static func record(for id: OperatorID) -> (any OperatorCaseRecord)? {
        records.first { $0.operatorID == id }
    }
}
