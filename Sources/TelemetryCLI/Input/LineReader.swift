import Foundation

/// Reads a file line by line through one reusable buffer, so a file of any size
/// costs one chunk of memory plus its longest line.
///
/// Lines end at `\n`; a `\r` before it is dropped, so CRLF files read like LF files.
/// A last line without a newline is still returned. A UTF-8 byte order mark at the
/// start of the file is dropped, as spreadsheet exports often begin with one.
struct LineReader {
    enum Failure: Error {
        /// The handle failed; the text is the system's description.
        case readFailed(String)
        /// No newline within `maxLineBytes`: most likely not a text file.
        case lineTooLong(Int)
    }

    private let handle: FileHandle
    private let chunkSize: Int
    private let maxLineBytes: Int
    private var buffer: [UInt8] = []
    /// Where the next line starts in `buffer`.
    private var position = 0
    private var reachedEndOfFile = false
    /// The 1-based number of the line last returned.
    private(set) var lineNumber = 0
    /// Bytes of the file returned as lines so far, line ends included.
    private(set) var bytesConsumed: Int64 = 0

    init(handle: FileHandle, chunkSize: Int, maxLineBytes: Int) {
        precondition(chunkSize > 0 && maxLineBytes > 0)
        self.handle = handle
        self.chunkSize = chunkSize
        self.maxLineBytes = maxLineBytes
        buffer.reserveCapacity(chunkSize * 2)
    }

    /// The next line without its line end, or nil at the end of the file.
    ///
    /// The slice shares the reader's buffer: let it go before the next call, or the
    /// buffer is copied when it is refilled.
    mutating func nextLine() throws(Failure) -> ArraySlice<UInt8>? {
        var searchFrom = position
        while true {
            if let newline = Self.indexOfNewline(in: buffer, from: searchFrom) {
                return takeLine(upTo: newline, lineEndLength: 1)
            }
            if reachedEndOfFile {
                guard position < buffer.count else { return nil }
                return takeLine(upTo: buffer.count, lineEndLength: 0)
            }
            if buffer.count - position > maxLineBytes { throw .lineTooLong(maxLineBytes) }
            // Keep the unfinished line, drop what was consumed, and read on; the
            // search resumes where it stopped so a long line is scanned once.
            let scanned = buffer.count - position
            buffer.removeSubrange(0..<position)
            position = 0
            searchFrom = scanned
            try fill()
        }
    }

    private mutating func fill() throws(Failure) {
        let data: Data?
        do {
            data = try handle.read(upToCount: chunkSize)
        } catch {
            throw .readFailed(Self.describe(error))
        }
        guard let data, !data.isEmpty else {
            reachedEndOfFile = true
            return
        }
        buffer.append(contentsOf: data)
    }

    private mutating func takeLine(upTo end: Int, lineEndLength: Int) -> ArraySlice<UInt8> {
        var start = position
        var lineEnd = end
        if lineEnd > start && buffer[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
        if lineNumber == 0 && lineEnd - start >= 3 && buffer[start] == 0xEF && buffer[start + 1] == 0xBB
            && buffer[start + 2] == 0xBF
        {
            start += 3
        }
        bytesConsumed += Int64(end + lineEndLength - position)
        position = end + lineEndLength
        lineNumber += 1
        return buffer[start..<lineEnd]
    }

    private static func indexOfNewline(in buffer: [UInt8], from start: Int) -> Int? {
        guard start < buffer.count else { return nil }
        // memchr, not `firstIndex(of:)`: it is vectorised even in debug builds, and the
        // benchmark file is 463 MB.
        return buffer.withUnsafeBufferPointer { bytes -> Int? in
            guard let base = bytes.baseAddress,
                let found = memchr(base + start, Int32(UInt8(ascii: "\n")), bytes.count - start)
            else { return nil }
            return UnsafeRawPointer(found) - UnsafeRawPointer(base)
        }
    }

    /// The system's message for a read error.
    static func describe(_ error: any Error) -> String {
        (error as NSError).localizedDescription
    }
}
