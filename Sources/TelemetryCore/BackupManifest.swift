/// What a backup folder holds, as written in its `backup-manifest.json` (docs/storage-format.md,
/// "Backups"): enough to check every file and, by opening the copy, every key and value.
///
/// One type for every layer: the storage writes and reads it, the server and the client carry
/// it over the protocol, the CLI prints it.
public struct BackupManifest: Sendable, Hashable, Codable {
    /// One keyspace of the copy and how many keys it holds.
    public struct KeyspaceCount: Sendable, Hashable, Codable {
        /// The keyspace's name (`canonical`, `raw`, ...; `unknown-0xNN` for a prefix this build does not know).
        public var name: String
        public var entries: UInt64

        public init(name: String, entries: UInt64) {
            self.name = name
            self.entries = entries
        }
    }

    /// One file of the copy.
    public struct File: Sendable, Hashable, Codable {
        /// The name inside the backup folder (no subfolders).
        public var name: String
        public var bytes: UInt64
        /// SHA-256 of the file's bytes, lowercase hex.
        public var sha256: String

        public init(name: String, bytes: UInt64, sha256: String) {
            self.name = name
            self.bytes = bytes
            self.sha256 = sha256
        }
    }

    /// The version of this manifest layout (1).
    public var manifestVersion: Int
    /// The store's on-disk format version (`TelemetryStore.formatVersion` of the build that wrote it).
    public var storeFormatVersion: UInt32
    /// When the snapshot was taken, ms since 1970: the backup holds every write acknowledged before.
    public var snapshotTimeMs: Int64
    /// Keys per keyspace, in keyspace order.
    public var keyspaces: [KeyspaceCount]
    /// Every file of the folder except the manifest itself, by name.
    public var files: [File]
    /// SHA-256 over every key and value in key order, each preceded by its length (8 bytes,
    /// big-endian), lowercase hex: two stores with the same content have the same hash.
    public var contentHash: String
    /// The program that wrote the backup, e.g. `telemetryd 0.1.0`.
    public var createdBy: String

    public init(
        manifestVersion: Int = 1, storeFormatVersion: UInt32, snapshotTimeMs: Int64, keyspaces: [KeyspaceCount],
        files: [File], contentHash: String, createdBy: String
    ) {
        self.manifestVersion = manifestVersion
        self.storeFormatVersion = storeFormatVersion
        self.snapshotTimeMs = snapshotTimeMs
        self.keyspaces = keyspaces
        self.files = files
        self.contentHash = contentHash
        self.createdBy = createdBy
    }

    /// Keys in every keyspace together.
    public var totalEntries: UInt64 { keyspaces.reduce(0) { $0 + $1.entries } }
    /// Bytes of every file together.
    public var totalBytes: UInt64 { files.reduce(0) { $0 + $1.bytes } }

    enum CodingKeys: String, CodingKey {
        case manifestVersion = "manifest_version"
        case storeFormatVersion = "store_format_version"
        case snapshotTimeMs = "snapshot_time_ms"
        case keyspaces, files
        case contentHash = "content_hash"
        case createdBy = "created_by"
    }
}

/// What checking a backup found.
public struct BackupVerification: Sendable, Hashable {
    /// True when nothing is wrong.
    public var ok: Bool { problems.isEmpty }
    /// Every problem, each naming the file or keyspace: "file 000005.ldb: sha256 differs".
    public var problems: [String]
    /// The manifest, when it could be read.
    public var manifest: BackupManifest?
    /// Whether the copy was also opened and every key read (`--deep`).
    public var deep: Bool

    public init(problems: [String], manifest: BackupManifest?, deep: Bool) {
        self.problems = problems
        self.manifest = manifest
        self.deep = deep
    }
}

/// How far a long operation (backup, verify, restore) has come: what the storage reports
/// and what a client receives from the progress frames.
public struct ProgressUpdate: Sendable, Hashable {
    /// "copying", "compacting", "hashing", "verifying files", "reading the copy", "swapping the store", ...
    public var phase: String
    public var done: UInt64
    /// 0 when unknown.
    public var total: UInt64
    /// "keys", "bytes", ...
    public var unit: String

    public init(phase: String, done: UInt64, total: UInt64, unit: String) {
        self.phase = phase
        self.done = done
        self.total = total
        self.unit = unit
    }
}
