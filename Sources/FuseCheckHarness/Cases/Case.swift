import FuseCheckCore
import FuseCheckOps

/// One test case: an operator call with its sizes and attributes, and how its inputs are drawn.
///
/// A case is a value with a stable, readable id in query-string form,
///
/// ```
/// agmm:a3:bf16:ws=8:m=16:k=512:n=64:x2T=1:data=uniform:seed=7
/// ```
///
/// operator, platform and dtype first, then the operator's parameters in its canonical order
/// (parameters at their default are left out), then the data mode and the seed. `Case(id:)`
/// parses it back; the JSON form carries the same fields.
public struct Case: Sendable, Hashable {
    /// The operator.
    public var op: OperatorID
    /// The hardware profile.
    public var platform: Platform
    /// The input dtype T.
    public var dtype: DType
    /// Operator parameters by key (sizes, flags, overrides), without the ones at their default.
    public var params: [String: String]
    /// How input values are drawn.
    public var data: DataMode
    /// The seed of the input generator.
    public var seed: UInt64

    /// A case; parameters are normalized (defaults dropped) by the operator's case record.
    public init(op: OperatorID, platform: Platform, dtype: DType, params: [String: String],
                data: DataMode, seed: UInt64) {
        self.op = op
        self.platform = platform
        self.dtype = dtype
        self.params = params
        self.data = data
        self.seed = seed
        if let record = OperatorRegistry.record(for: op) {
            self.params = record.normalized(params)
        }
    }

    /// The canonical id.
    public var id: String {
        var fields = [op.rawValue, platform.rawValue, dtype.shortName]
        let order = OperatorRegistry.record(for: op)?.parameters.map(\.key) ?? []
        let known = order.filter { params[$0] != nil }
        let extra = params.keys.filter { !order.contains($0) }.sorted()
        for key in known + extra {
            fields.append("\(key)=\(params[key]!)")
        }
        fields.append("data=\(data.rawValue)")
        fields.append("seed=\(seed)")
        return fields.joined(separator: ":")
    }

    /// An integer parameter, or its default.
    public func int(_ key: String, default fallback: Int) -> Int {
        params[key].flatMap { Int($0) } ?? fallback
    }
}

/// Why a case id or case JSON could not be read.
public struct CaseFormatError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, naming the offending field.
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Case {
    /// Parses a case id (see the type's documentation).
    public init(id text: String) throws {
        let fields = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard fields.count >= 3 else {
            throw CaseFormatError("case id \"\(text)\" needs at least operator:platform:dtype")
        }
        let op = OperatorID(rawValue: fields[0])
        guard let record = OperatorRegistry.record(for: op) else {
            throw CaseFormatError("unknown operator \"\(fields[0])\" in \"\(text)\" (known: "
                + OperatorRegistry.records.map(\.operatorID.rawValue).joined(separator: ", ") + ")")
        }
        guard let platform = Platform(rawValue: fields[1].lowercased()) else {
            throw CaseFormatError("unknown platform \"\(fields[1])\" in \"\(text)\" (a2 or a3)")
        }
        // The case's dtype is T, a floating type; int8 operands are the parameter q=int8.
        guard let dtype = DType(name: fields[2]), !dtype.isInteger else {
            throw CaseFormatError("unknown dtype \"\(fields[2])\" in \"\(text)\" (fp16, bf16 or fp32; "
                + "int8 operands are q=int8)")
        }
        var params: [String: String] = [:]
        var data = DataMode.uniform
        var seed: UInt64 = 1
        for field in fields.dropFirst(3) {
            let parts = field.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw CaseFormatError("field \"\(field)\" of \"\(text)\" is not key=value")
            }
            let (key, value) = (parts[0], parts[1])
            switch key {
            case "data":
                guard let mode = DataMode(rawValue: value) else {
                    throw CaseFormatError("unknown data mode \"\(value)\" (one of "
                        + DataMode.allCases.map(\.rawValue).joined(separator: ", ") + ")")
                }
                data = mode
            case "seed":
                guard let number = UInt64(value) else { throw CaseFormatError("seed \"\(value)\" is not a number") }
                seed = number
            default:
                guard params[key] == nil else { throw CaseFormatError("parameter \(key) given twice in \"\(text)\"") }
                params[key] = value
            }
        }
        try record.checkParameters(params)
        try Self.checkIntegers(params)
        self.init(op: op, platform: platform, dtype: dtype, params: params, data: data, seed: seed)
    }

    /// Throws if a value written as an integer, or as a shape like `4x256`, does not fit `Int`:
    /// such a value must not silently become a default or an "invalid shape" further on.
    static func checkIntegers(_ params: [String: String]) throws(CaseFormatError) {
        for key in params.keys.sorted() {
            let value = params[key]!
            for piece in value.split(separator: "x", omittingEmptySubsequences: false) {
                let digits = piece.hasPrefix("-") ? piece.dropFirst() : piece
                guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { continue }
                guard Int(piece) != nil else {
                    throw CaseFormatError("parameter \(key) = \"\(value)\" does not fit a 64-bit integer")
                }
            }
        }
    }

    /// The operator call this case describes, if its tensors fit in `MemoryBudget.current`.
    ///
    /// Every entry point (run, suites, exports, goldens, replay, show, the input generator) builds
    /// its call here, so a case too large to hold is a harness error before anything is allocated.
    public func makeCall() throws -> any HarnessCall {
        guard let record = OperatorRegistry.record(for: op) else {
            throw CaseFormatError("unknown operator \"\(op)\"")
        }
        let call = try record.makeCall(self)
        try MemoryBudget.current.check(call, caseID: id)
        return call
    }
}

extension Case: Codable {
    enum CodingKeys: String, CodingKey {
        case id, op, platform, dtype, params, data, seed
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let op = OperatorID(rawValue: try container.decode(String.self, forKey: .op))
        guard let record = OperatorRegistry.record(for: op) else {
            throw CaseFormatError("unknown operator \"\(op)\"")
        }
        let platformName = try container.decode(String.self, forKey: .platform)
        guard let platform = Platform(rawValue: platformName) else {
            throw CaseFormatError("unknown platform \"\(platformName)\"")
        }
        let dtypeName = try container.decode(String.self, forKey: .dtype)
        guard let dtype = DType(name: dtypeName), !dtype.isInteger else {
            throw CaseFormatError("unknown dtype \"\(dtypeName)\" (fp16, bf16 or fp32; int8 operands are q=int8)")
        }
        let raw = try container.decodeIfPresent([String: ParameterValue].self, forKey: .params) ?? [:]
        let params = raw.mapValues(\.text)
        try record.checkParameters(params)
        try Self.checkIntegers(params)
        let data = try container.decode(DataMode.self, forKey: .data)
        let seed = try container.decode(UInt64.self, forKey: .seed)
        self.init(op: op, platform: platform, dtype: dtype, params: params, data: data, seed: seed)
        if let id = try container.decodeIfPresent(String.self, forKey: .id), id != self.id {
            throw CaseFormatError("case JSON says id \"\(id)\" but its fields make \"\(self.id)\"")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(op.rawValue, forKey: .op)
        try container.encode(platform.rawValue, forKey: .platform)
        try container.encode(dtype.shortName, forKey: .dtype)
        try container.encode(params.mapValues(ParameterValue.init), forKey: .params)
        try container.encode(data, forKey: .data)
        try container.encode(seed, forKey: .seed)
    }
}

/// A parameter value in JSON: a number when it is an integer, else a string.
struct ParameterValue: Codable {
    let text: String
    init(_ text: String) { self.text = text }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int.self) {
            text = String(number)
        } else {
            text = try container.decode(String.self)
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let number = Int(text), String(number) == text {
            try container.encode(number)
        } else {
            try container.encode(text)
        }
    }
}
