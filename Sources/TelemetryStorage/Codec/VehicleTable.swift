/// The state of every vehicle, indexed by vehicle code.
///
/// Codes are dense (assigned from 1 and never reused), so an array serves where a dictionary
/// would hash a code on every record the writer takes in; and an element can be changed in
/// place, without copying its arrays out and back.
struct VehicleTable {
    private var states: [VehicleState?] = []

    init() {}

    init(_ states: [UInt32: VehicleState]) {
        for (code, state) in states { self[code] = state }
    }

    subscript(code: UInt32) -> VehicleState? {
        get { Int(code) < states.count ? states[Int(code)] : nil }
        set {
            let i = Int(code)
            if i >= states.count {
                guard newValue != nil else { return }
                states.append(contentsOf: repeatElement(nil, count: i + 1 - states.count))
            }
            states[i] = newValue
        }
    }

    func contains(_ code: UInt32) -> Bool {
        Int(code) < states.count && states[Int(code)] != nil
    }

    /// Changes the state of `code` in place; a vehicle without one starts from `initial`.
    @inline(__always) mutating func update<T, E: Error>(
        _ code: UInt32, initial: @autoclosure () -> VehicleState, _ body: (inout VehicleState) throws(E) -> T
    ) throws(E) -> T {
        let i = Int(code)
        if i >= states.count || states[i] == nil { self[code] = initial() }
        // Our own invariant, not input: the slot was filled just above.
        return try body(&states[i]!)
    }

    /// Changes the state of `code` in place, if there is one.
    @inline(__always) mutating func updateExisting(_ code: UInt32, _ body: (inout VehicleState) -> Void) {
        let i = Int(code)
        guard i < states.count, states[i] != nil else { return }
        body(&states[i]!)
    }

    /// Every state, in code order.
    var values: some Sequence<VehicleState> { states.lazy.compactMap { $0 } }
}

extension VehicleTable: Sequence {
    func makeIterator() -> some IteratorProtocol<(code: UInt32, state: VehicleState)> {
        states.lazy.enumerated().compactMap { i, s in s.map { (UInt32(i), $0) } }.makeIterator()
    }
}
