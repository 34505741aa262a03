import FuseCheckHarness

extension BackendCatalog {
    /// The backend with this name. With a `workerCommand` the engine runs in a worker process
    /// (`IsolatedEngineBackend`), so that a trap in it is a verdict; without, in this process.
    public static func backend(named name: String, workerCommand: String?,
                               timeout: Duration = SubprocessBackend.defaultTimeout) throws -> any Backend {
        guard let workerCommand else { return try backend(named: name) }
        _ = try engine(named: name)  // an unknown name fails here, not in the worker
        return IsolatedEngineBackend(name: name, workerCommand: workerCommand, timeout: timeout)
    }
}
