import FuseCheckCore
import FuseCheckHarness
import FuseCheckOps

extension CaseManifest {
    /// The manifest of a case.
    public init(_ testCase: Case, call: any HarnessCall) throws {
        self.init(format: Self.currentFormat, caseID: testCase.id, op: type(of: call).operatorID.rawValue,
                  operatorName: type(of: call).operatorName, platform: call.platform.rawValue,
                  dtype: testCase.dtype.rawValue, world: call.manifestWorld,
                  attributes: call.manifestAttributes,
                  inputs: Dictionary(uniqueKeysWithValues: call.inputSlots.map {
                      ($0.name, InputFile(file: "\($0.name).npy", spec: $0.spec))
                  }),
                  outputs: call.requestedOutputs)
    }
}

extension CaseManifest.InputFile {
    /// The file `file` holding a tensor of `spec`, stored as its `.npy` element type.
    public init(file: String, spec: TensorSpec) {
        self.init(file: file, dtype: spec.dtype.rawValue, npyDType: NpyElementType.storage(of: spec.dtype).descr,
                  shape: spec.shape)
    }
}
