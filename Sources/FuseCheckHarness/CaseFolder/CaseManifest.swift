import FuseCheckCore
import FuseCheckOps

/// The contents of a case folder's `case.json`: everything a backend needs to run one case,
/// and nothing about what the harness expects (docs/backend-protocol.md, "case.json").
///
/// ```json
/// {"attributes": {...}, "case_id": "agmm:a3:fp16:ws=2:m=3:k=256:n=5:data=uniform:seed=1",
///  "dtype": "float16", "format": 1, "inputs": {"x1": {"dtype": "float16", "file": "x1.npy",
///  "npy_dtype": "<f2", "shape": [3, 256]}, ...}, "op": "agmm", "operator": "AllGatherMatmul",
///  "outputs": ["output", "gather_out"], "platform": "a3", "world": {"size": 2, "ws": 2, ...}}
/// ```
public struct CaseManifest: Codable, Sendable, Equatable {
    /// The `format` this build writes and reads. Bump it on any change a backend could notice.
    public static let currentFormat = 1

    /// The version of this format.
    public var format: Int
    /// The case id (`Case.id`).
    public var caseID: String
    /// The operator's short id (`agmm`, `aagbmm`).
    public var op: String
    /// The operator's vendor name (`AllGatherMatmul`).
    public var operatorName: String
    /// The hardware profile (`a2`, `a3`).
    public var platform: String
    /// The case's input dtype T (`float16`, `bfloat16`).
    public var dtype: String
    /// The ranks taking part.
    public var world: World
    /// Every attribute of the call, by the operator's own parameter names.
    public var attributes: [String: ManifestValue]
    /// Every input each rank holds, by name (the same dtype and shape on every rank).
    public var inputs: [String: InputFile]
    /// The outputs the caller requests, in the operator's output order.
    public var outputs: [String]

    /// A manifest of these fields (FuseCheckExternal's `init(_:call:)` writes a case's).
    package init(format: Int, caseID: String, op: String, operatorName: String, platform: String, dtype: String,
                 world: World, attributes: [String: ManifestValue], inputs: [String: InputFile], outputs: [String]) {
        self.format = format
        self.caseID = caseID
        self.op = op
        self.operatorName = operatorName
        self.platform = platform
        self.dtype = dtype
        self.world = world
        self.attributes = attributes
        self.inputs = inputs
        self.outputs = outputs
    }

    /// The ranks of a call. AllGatherMatmul has `ws` ranks; AlltoAllAllGatherBatchMatMul has
    /// `ep * tp` ranks, rank `r = e * tp + t`.
    public struct World: Codable, Sendable, Equatable {
        /// Number of ranks; rank folders are `rank0` ... `rank{size-1}`.
        public var size: Int
        /// AllGatherMatmul's world size.
        public var ws: Int?
        /// Expert-parallel group size.
        public var ep: Int?
        /// Tensor-parallel group size.
        public var tp: Int?
        /// Every rank with its coordinates (`e`, `t` for AlltoAllAllGatherBatchMatMul).
        public var ranks: [Rank]

        public init(size: Int, ws: Int? = nil, ep: Int? = nil, tp: Int? = nil, ranks: [Rank]) {
            self.size = size
            self.ws = ws
            self.ep = ep
            self.tp = tp
            self.ranks = ranks
        }
    }

    /// One rank and its coordinates.
    public struct Rank: Codable, Sendable, Equatable {
        public var rank: Int
        public var e: Int?
        public var t: Int?

        public init(rank: Int, e: Int? = nil, t: Int? = nil) {
            self.rank = rank
            self.e = e
            self.t = t
        }
    }

    /// One input file, `rank{r}/{file}`.
    public struct InputFile: Codable, Sendable, Equatable {
        /// The file name inside each rank folder (`x1.npy`).
        public var file: String
        /// The tensor's dtype (`float16`, `bfloat16`, `float32`).
        public var dtype: String
        /// The `.npy` element type it is stored as (`<f2`, `<u2` for bfloat16, `<f4`).
        public var npyDType: String
        /// The shape as stored in memory (a transposed x2 or weight keeps its stored shape).
        public var shape: [Int]

        /// An input file of these fields (FuseCheckExternal's `init(file:spec:)` names a tensor's).
        package init(file: String, dtype: String, npyDType: String, shape: [Int]) {
            self.file = file
            self.dtype = dtype
            self.npyDType = npyDType
            self.shape = shape
        }

        enum CodingKeys: String, CodingKey {
            case file, dtype, shape
            case npyDType = "npy_dtype"
        }
    }

    enum CodingKeys: String, CodingKey {
        case format, op, platform, dtype, world, attributes, inputs, outputs
        case caseID = "case_id"
        case operatorName = "operator"
    }
}

/// An attribute value in `case.json`: an integer, a boolean or a string.
public enum ManifestValue: Codable, Sendable, Equatable, CustomStringConvertible {
    case int(Int)
    case bool(Bool)
    case string(String)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .int(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        }
    }

    public var description: String {
        switch self {
        case .int(let value): String(value)
        case .bool(let value): String(value)
        case .string(let value): "\"\(value)\""
        }
    }
}

/// An operator call that can describe itself in a case folder's `case.json`.
///
/// Each operator supplies its attributes under the names its vendor API uses, its world, and
/// which outputs the caller requests; the output files a backend writes are those names.
public protocol CaseFolderDescribable: FusedOperatorCall {
    /// Every attribute of the call (sizes, flags, group names, dtypes).
    var manifestAttributes: [String: ManifestValue] { get }
    /// The ranks and their coordinates.
    var manifestWorld: CaseManifest.World { get }
    /// The output names the caller requests, in `outputSlots` order.
    var requestedOutputs: [String] { get }
}
