/// Provider field name -> slot, looked up once per field of every record.
///
/// `Dictionary<String, Int>` hashes with SipHash and a per-process seed; a record's dozen (or
/// hundreds of) field names made that the largest fixed cost of mapping. This table hashes
/// ASCII names with FNV-1a and probes linearly, and is exact: `String ==` decides every match,
/// and when a name or a key is not ASCII (where Unicode canonical equivalence could make two
/// different byte sequences equal) the lookup goes to the dictionary.
struct FieldNameTable: Sendable {
    private let dictionary: [String: Int]
    /// Open addressing: index into `names`/`slots`, or -1 for an empty bucket.
    private let buckets: [Int32]
    private let names: [String]
    private let slots: [Int]
    private let mask: Int
    /// False when a key is not ASCII: every lookup then uses the dictionary.
    private let allASCII: Bool

    init(_ dictionary: [String: Int]) {
        self.dictionary = dictionary
        var capacity = 16
        while capacity < dictionary.count * 2 { capacity <<= 1 }
        var buckets = [Int32](repeating: -1, count: capacity)
        var names: [String] = []
        var slots: [Int] = []
        var allASCII = true
        for (name, slot) in dictionary {
            guard let h = Self.asciiHash(name) else {
                allASCII = false
                continue
            }
            var i = h & (capacity - 1)
            while buckets[i] >= 0 { i = (i + 1) & (capacity - 1) }
            buckets[i] = Int32(names.count)
            names.append(name)
            slots.append(slot)
        }
        self.buckets = buckets
        self.names = names
        self.slots = slots
        self.mask = capacity - 1
        self.allASCII = allASCII
    }

    /// How many names the table holds.
    var count: Int { dictionary.count }

    /// The slot of a field name, nil when no source reads it.
    func slot(_ name: String) -> Int? {
        guard allASCII, let h = Self.asciiHash(name) else { return dictionary[name] }
        var i = h & mask
        while true {
            let entry = buckets[i]
            if entry < 0 { return nil }
            if names[Int(entry)] == name { return slots[Int(entry)] }
            i = (i + 1) & mask
        }
    }

    /// FNV-1a of the UTF-8 bytes, or nil when a byte is not ASCII.
    static func asciiHash(_ name: String) -> Int? {
        func hash<S: Sequence<UInt8>>(_ bytes: S) -> Int? {
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            var any: UInt8 = 0
            for b in bytes {
                h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3
                any |= b
            }
            return any < 0x80 ? Int(truncatingIfNeeded: h ^ (h >> 32)) : nil
        }
        if let h = name.utf8.withContiguousStorageIfAvailable({ hash($0) }) { return h }
        return hash(name.utf8)
    }
}
