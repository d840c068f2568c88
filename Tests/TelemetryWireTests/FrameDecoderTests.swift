import NIOCore
import NIOTestUtils
import Testing
import TelemetryWire

@Suite("Frame decoding")
struct FrameDecoderTests {
    let allocator = ByteBufferAllocator()

    func frame(_ payload: [UInt8], flags: UInt8 = 0) -> ByteBuffer {
        var b = allocator.buffer(capacity: 5 + payload.count)
        b.writeInteger(flags)
        b.writeInteger(UInt32(payload.count))
        b.writeBytes(payload)
        return b
    }

    /// Decodes everything in `bytes` fed in the given pieces.
    func decodeAll(_ pieces: [ByteBuffer], max: Int = 1024) throws -> [Frame] {
        let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder(maxFrameBytes: max))
        var out = [Frame]()
        for piece in pieces {
            try processor.process(buffer: piece) { out.append($0) }
        }
        return out
    }

    @Test("whole frames, drip-fed, coalesced and split: the verifier agrees")
    func verifier() throws {
        let inputs: [(ByteBuffer, [Frame])] = [
            (frame([1, 2, 3]), [Frame(flags: 0, payload: allocator.buffer(bytes: [1, 2, 3]))]),
            (frame([]), [Frame(flags: 0, payload: allocator.buffer(bytes: []))]),
            (frame(Array(repeating: 7, count: 300), flags: 1), [Frame(flags: 1, payload: allocator.buffer(bytes: Array(repeating: 7, count: 300)))]),
        ]
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: inputs) { FrameDecoder(maxFrameBytes: 1024) }
    }

    @Test("a frame split at every byte comes out once, whole")
    func splitAtEveryByte() throws {
        var two = frame([10, 20, 30, 40])
        var second = frame([50])
        two.writeBuffer(&second)
        let bytes = Array(two.readableBytesView)
        for cut in 0...bytes.count {
            let frames = try decodeAll([allocator.buffer(bytes: bytes[..<cut]), allocator.buffer(bytes: bytes[cut...])])
            #expect(frames.map { Array($0.payload.readableBytesView) } == [[10, 20, 30, 40], [50]], "cut at \(cut)")
        }
    }

    @Test("a partial header or payload waits for more bytes")
    func partial() throws {
        #expect(try decodeAll([allocator.buffer(bytes: [0, 0, 0])]).isEmpty)
        #expect(try decodeAll([allocator.buffer(bytes: [0, 0, 0, 0, 9, 1, 2])]).isEmpty)
    }

    @Test("a length over the limit is refused at the header, before any payload arrives")
    func oversized() throws {
        // Only the 5 header bytes: the decoder must not wait for 2 GiB to refuse it.
        let header = allocator.buffer(bytes: [0, 0x7F, 0xFF, 0xFF, 0xFF])
        #expect(throws: FrameError.frameTooLarge(length: 0x7FFF_FFFF, limit: 1024)) { try decodeAll([header]) }
        let justOver = allocator.buffer(bytes: [0, 0, 0, 4, 1])
        #expect(throws: FrameError.frameTooLarge(length: 1025, limit: 1024)) { try decodeAll([justOver]) }
        // Exactly the limit is fine.
        #expect(try decodeAll([frame(Array(repeating: 0, count: 1024))]).count == 1)
    }

    @Test("the maximum UInt32 length is refused, not overflowed")
    func maxLength() throws {
        let header = allocator.buffer(bytes: [0, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: FrameError.frameTooLarge(length: UInt32.max, limit: 4 << 20)) { try decodeAll([header], max: 4 << 20) }
    }
}
