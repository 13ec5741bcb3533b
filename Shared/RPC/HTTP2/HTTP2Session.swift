// This file is the only one in RPC that imports CNGHTTP2: it owns the `nghttp2_session` of one
// connection (server or client side) and turns every nghttp2 callback into an `HTTP2Event`.
import CNGHTTP2
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Header fields as received or to be sent, in order.
typealias HeaderFields = [(name: String, value: String)]

/// What nghttp2 saw on the wire, as input for the pure Swift state machines.
enum HTTP2Event {
    /// A complete header block (request headers, response headers or trailers).
    case headers(streamID: Int32, fields: HeaderFields, endStream: Bool)
    /// A header block larger than the local limit; its fields were dropped.
    case headerListTooLarge(streamID: Int32, endStream: Bool)
    /// DATA payload bytes; the receiver must eventually call `consume` for them.
    case data(streamID: Int32, bytes: ByteBuffer)
    /// END_STREAM arrived on a DATA frame.
    case endStream(streamID: Int32)
    /// The stream is closed; `errorCode` is nonzero when it was reset.
    case streamClosed(streamID: Int32, errorCode: UInt32)
    /// The peer sent GOAWAY.
    case goAway(lastStreamID: Int32, errorCode: UInt32)
    /// The peer acknowledged one of our PINGs.
    case pingAck
    /// A stream's queued outbound bytes fell below the low watermark.
    case outboundWritable(streamID: Int32)
}

/// HTTP/2 settings and protections of one session.
struct HTTP2SessionSettings: Sendable {
    var maxConcurrentStreams: UInt32 = 1000
    var initialStreamWindowSize: Int32 = 1 << 20
    var connectionWindowSize: Int32 = 8 << 20
    var maxFrameSize: UInt32 = 16384
    var maxHeaderListSize: Int = 16384
    /// RST_STREAM frames tolerated in a burst, and per second after it (rapid reset, CVE-2023-44487).
    var streamResetBurst: UInt64 = 1000
    var streamResetRate: UInt64 = 100
    /// Outbound bytes queued per stream below which a suspended writer resumes.
    var outboundLowWatermark: Int = 64 * 1024
}

/// A block of headers kept in C memory, built once: for the responses every call sends
/// (`:status 200`, `content-type`, `grpc-status: 0` …) and the constant request headers of a
/// client's methods, so that sending them allocates nothing per call.
final class PresetHeaders: @unchecked Sendable {
    fileprivate let nva: UnsafeMutablePointer<nghttp2_nv>
    fileprivate let count: Int
    let fields: HeaderFields
    private let storage: UnsafeMutablePointer<UInt8>

    /// `copiedBySession: false` (process-wide constants) lets nghttp2 point at these bytes until
    /// the frame is written, so such an instance must never be freed; with `true`, nghttp2
    /// copies the fields when they are submitted and the instance may go away at any time.
    init(_ fields: HeaderFields, copiedBySession: Bool = false) {
        self.fields = fields
        self.count = fields.count
        self.nva = .allocate(capacity: max(1, fields.count))
        let byteCount = fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count }
        self.storage = .allocate(capacity: max(1, byteCount))
        let flags = copiedBySession ? UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)
            : UInt8(NGHTTP2_NV_FLAG_NO_COPY_NAME.rawValue | NGHTTP2_NV_FLAG_NO_COPY_VALUE.rawValue)
        var offset = 0
        for (index, field) in fields.enumerated() {
            let name = Self.copy(field.name, to: self.storage + offset)
            offset += name.count
            let value = Self.copy(field.value, to: self.storage + offset)
            offset += value.count
            (self.nva + index).initialize(to: nghttp2_nv(
                name: name.base, value: value.base, namelen: name.count, valuelen: value.count, flags: flags))
        }
    }

    private static func copy(_ string: String, to base: UnsafeMutablePointer<UInt8>) -> (base: UnsafeMutablePointer<UInt8>, count: Int) {
        let bytes = UnsafeMutableBufferPointer(start: base, count: string.utf8.count)
        _ = bytes.initialize(from: string.utf8)
        return (base, bytes.count)
    }

    deinit {
        self.nva.deallocate()
        self.storage.deallocate()
    }
}

/// A header list to send: a preset prefix, then fields built for this call.
struct OutboundHeaders {
    var preset: PresetHeaders?
    var extra: HeaderFields

    init(preset: PresetHeaders?, extra: HeaderFields = []) {
        self.preset = preset
        self.extra = extra
    }
}

/// Why a session call failed.
struct HTTP2SessionError: Error, Hashable, Sendable {
    /// The nghttp2 error code.
    var code: Int32
    /// The nghttp2 text for it.
    var message: String
}

/// Outbound DATA waiting for nghttp2 to pull it for one stream (a class: mutated in place).
private final class OutboundQueue {
    var buffer: ByteBuffer?
    var trailers: OutboundHeaders?
    var endStream = false
    var deferred = false

    var pendingBytes: Int { self.buffer?.readableBytes ?? 0 }
}

/// The owner of one `nghttp2_session`. Not thread-safe: used only on its channel's event loop.
final class HTTP2Session {
    enum Role { case server, client }

    let role: Role
    let settings: HTTP2SessionSettings
    private var session: OpaquePointer?
    private let allocator: ByteBufferAllocator

    /// Events seen since the last `takeEvents()`.
    private(set) var events: [HTTP2Event] = []
    private var outbound: [Int32: OutboundQueue] = [:]

    // The header block being received (HTTP/2 never interleaves header blocks).
    private var blockFields: HeaderFields = []
    private var blockSize = 0
    private var blockTooLarge = false

    init(role: Role, settings: HTTP2SessionSettings, allocator: ByteBufferAllocator) throws(HTTP2SessionError) {
        self.role = role
        self.settings = settings
        self.allocator = allocator
        self.events.reserveCapacity(64)

        var callbacks: OpaquePointer?
        try Self.check(nghttp2_session_callbacks_new(&callbacks))
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, onBeginHeaders)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeader)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameRecv)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunkRecv)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamClose)

        var option: OpaquePointer?
        try Self.check(nghttp2_option_new(&option))
        defer { nghttp2_option_del(option) }
        // Window updates follow what the application has consumed: that is the backpressure.
        nghttp2_option_set_no_auto_window_update(option, 1)
        nghttp2_option_set_stream_reset_rate_limit(option, settings.streamResetBurst, settings.streamResetRate)
        nghttp2_option_set_max_continuations(option, 8)
        nghttp2_option_set_max_send_header_block_length(option, 64 * 1024)

        let userData = Unmanaged.passUnretained(self).toOpaque()
        var created: OpaquePointer?
        switch role {
        case .server:
            try Self.check(nghttp2_session_server_new2(&created, callbacks, userData, option))
        case .client:
            try Self.check(nghttp2_session_client_new2(&created, callbacks, userData, option))
        }
        self.session = created

        var iv = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: settings.maxConcurrentStreams),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: UInt32(settings.initialStreamWindowSize)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: UInt32(settings.maxHeaderListSize)),
        ]
        if role == .client {
            iv.append(nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0))
        }
        try Self.check(nghttp2_submit_settings(created, UInt8(NGHTTP2_FLAG_NONE.rawValue), iv, iv.count))
        let windowResult = nghttp2_session_set_local_window_size(created, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, settings.connectionWindowSize)
        try Self.check(windowResult)
    }

    deinit {
        nghttp2_session_del(self.session)
    }

    private static func check(_ code: Int32) throws(HTTP2SessionError) {
        switch code {
        case 0:
            return  // Success.
        default:
            // NGHTTP2_ERR_NOMEM, NGHTTP2_ERR_INVALID_ARGUMENT …: the session cannot be used.
            throw HTTP2SessionError(code: code, message: String(cString: nghttp2_strerror(code)))
        }
    }

    // MARK: Events

    /// Hands every event seen so far to `body`, in order, then forgets them. Events recorded
    /// while draining (none are, outside `receive`/`send`) would be delivered too.
    func drainEvents(_ body: (HTTP2Event) -> Void) {
        var index = 0
        while index < self.events.count {
            body(self.events[index])
            index += 1
        }
        self.events.removeAll(keepingCapacity: true)
    }

    fileprivate func record(_ event: HTTP2Event) {
        self.events.append(event)
    }

    fileprivate func beginHeaders() {
        self.blockFields.removeAll(keepingCapacity: true)
        self.blockSize = 0
        self.blockTooLarge = false
    }

    fileprivate func header(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) {
        // RFC 9113 §6.5.2: name + value + 32 octets per field.
        self.blockSize += name.count + value.count + 32
        if self.blockSize > self.settings.maxHeaderListSize {
            self.blockTooLarge = true
            self.blockFields.removeAll()
            return
        }
        self.blockFields.append((self.intern(name), self.intern(value)))
    }

    // A direct-mapped cache of recent header strings longer than Swift's inline small
    // strings (paths, content types, user agents): repeated requests allocate no Strings.
    private var internKeys = ContiguousArray<[UInt8]>(repeating: [], count: 256)
    private var internValues = ContiguousArray<String>(repeating: "", count: 256)

    private func intern(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        let count = bytes.count
        guard count > 15, count <= 128 else { return String(decoding: bytes, as: UTF8.self) }
        let hash = count &* 31 &+ Int(bytes[0]) &* 7 &+ Int(bytes[count - 1]) &* 13 &+ Int(bytes[count / 2]) &* 3 &+ Int(bytes[count / 3])
        let slot = hash & 255
        let hit = self.internKeys[slot].withUnsafeBytes { key in
            key.count == count && memcmp(key.baseAddress!, bytes.baseAddress!, count) == 0
        }
        if hit {
            return self.internValues[slot]
        }
        let string = String(decoding: bytes, as: UTF8.self)
        self.internKeys[slot] = Array(bytes)
        self.internValues[slot] = string
        return string
    }

    fileprivate func endHeaders(streamID: Int32, endStream: Bool) {
        if self.blockTooLarge {
            self.record(.headerListTooLarge(streamID: streamID, endStream: endStream))
        } else {
            self.record(.headers(streamID: streamID, fields: self.blockFields, endStream: endStream))
        }
        self.blockFields.removeAll(keepingCapacity: true)
        self.blockSize = 0
        self.blockTooLarge = false
    }

    fileprivate func dataChunk(streamID: Int32, bytes: UnsafeBufferPointer<UInt8>) {
        var buffer = self.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(UnsafeRawBufferPointer(bytes))
        self.record(.data(streamID: streamID, bytes: buffer))
    }

    fileprivate func streamClosed(streamID: Int32, errorCode: UInt32) {
        self.outbound.removeValue(forKey: streamID)
        self.record(.streamClosed(streamID: streamID, errorCode: errorCode))
    }

    /// Copies queued outbound bytes for nghttp2; returns the length and the DATA flags.
    fileprivate func readOutbound(streamID: Int32, into target: UnsafeMutableRawBufferPointer) -> (length: Int, flags: UInt32, deferred: Bool) {
        guard let queue = self.outbound[streamID] else {
            // Nothing was ever queued: end the stream rather than hang.
            return (0, NGHTTP2_DATA_FLAG_EOF.rawValue, false)
        }
        let before = queue.pendingBytes
        var length = 0
        if queue.buffer != nil {
            length = min(target.count, queue.buffer!.readableBytes)
            queue.buffer!.withUnsafeReadableBytes { source in
                target.baseAddress!.copyMemory(from: source.baseAddress!, byteCount: length)
            }
            queue.buffer!.moveReaderIndex(forwardBy: length)
            if queue.buffer!.readableBytes == 0 { queue.buffer = nil }
        }
        let after = queue.pendingBytes
        if before >= self.settings.outboundLowWatermark && after < self.settings.outboundLowWatermark {
            self.record(.outboundWritable(streamID: streamID))
        }
        guard after == 0 else { return (length, 0, false) }
        if let trailers = queue.trailers {
            var flags = NGHTTP2_DATA_FLAG_EOF.rawValue | NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
            let result = self.withNV(trailers) { nva, count in
                nghttp2_submit_trailer(self.session, streamID, nva, count)
            }
            switch result {
            case 0:
                break  // Trailers go out right after this DATA frame.
            default:
                // The stream is gone or out of memory: end it with the DATA frame instead.
                flags = NGHTTP2_DATA_FLAG_EOF.rawValue
            }
            self.outbound.removeValue(forKey: streamID)
            return (length, flags, false)
        }
        if queue.endStream {
            self.outbound.removeValue(forKey: streamID)
            return (length, NGHTTP2_DATA_FLAG_EOF.rawValue, false)
        }
        if length == 0 {
            queue.deferred = true
            return (0, 0, true)
        }
        return (length, 0, false)
    }

    // MARK: Input and output

    /// Feeds received bytes to nghttp2; events are recorded. Throws when the connection must
    /// close (bad preface, protocol violation, flood); output may still hold a GOAWAY.
    func receive(_ buffer: ByteBuffer) throws(HTTP2SessionError) {
        let result = buffer.withUnsafeReadableBytes { bytes -> Int in
            guard let base = bytes.baseAddress else { return 0 }
            return nghttp2_session_mem_recv(self.session, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        }
        switch result {
        case 0...:
            return  // All bytes processed.
        default:
            // NGHTTP2_ERR_BAD_CLIENT_MAGIC, NGHTTP2_ERR_FLOODED, NGHTTP2_ERR_CALLBACK_FAILURE,
            // NGHTTP2_ERR_NOMEM: fatal for the connection.
            let code = Int32(truncatingIfNeeded: result)
            throw HTTP2SessionError(code: code, message: String(cString: nghttp2_strerror(code)))
        }
    }

    /// Appends everything nghttp2 wants to send to `out`. Returns false on a fatal error.
    @discardableResult
    func send(into out: inout ByteBuffer) -> Bool {
        while true {
            var data: UnsafePointer<UInt8>?
            let count = nghttp2_session_mem_send(self.session, &data)
            switch count {
            case 0:
                return true  // Nothing more to send.
            case 1...:
                out.writeBytes(UnsafeRawBufferPointer(start: data, count: count))  // A chunk of frames.
            default:
                return false  // NGHTTP2_ERR_NOMEM or NGHTTP2_ERR_CALLBACK_FAILURE: close.
            }
        }
    }

    /// Whether nghttp2 still expects to read or write; both false means close the connection.
    var isAlive: Bool {
        nghttp2_session_want_read(self.session) != 0 || nghttp2_session_want_write(self.session) != 0
    }

    /// Whether nghttp2 has frames to send.
    var wantsWrite: Bool { nghttp2_session_want_write(self.session) != 0 }

    /// Returns received DATA bytes to the flow control windows (stream and connection).
    func consume(streamID: Int32, bytes: Int) {
        guard bytes > 0 else { return }
        let result = nghttp2_session_consume(self.session, streamID, bytes)
        switch result {
        case 0:
            break  // Windows updated; a WINDOW_UPDATE goes out when worthwhile.
        default:
            // NGHTTP2_ERR_INVALID_ARGUMENT: the stream is already closed; credit the connection.
            _ = nghttp2_session_consume_connection(self.session, bytes)
        }
    }

    private func withNV<R>(_ headers: OutboundHeaders, _ body: (UnsafePointer<nghttp2_nv>, Int) -> R) -> R {
        if headers.extra.isEmpty, let preset = headers.preset {
            return body(preset.nva, preset.count)
        }
        let presetCount = headers.preset?.count ?? 0
        let byteCount = headers.extra.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count }
        // nghttp2 copies the fields (no NO_COPY flags), so scratch memory is enough.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(1, byteCount)) { bytes in
            withUnsafeTemporaryAllocation(of: nghttp2_nv.self, capacity: presetCount + headers.extra.count) { nva in
                if let preset = headers.preset {
                    for index in 0..<preset.count { nva[index] = preset.nva[index] }
                }
                var offset = 0
                for (index, field) in headers.extra.enumerated() {
                    let name = UnsafeMutableBufferPointer(rebasing: bytes[offset...])
                    let nameCount = name.initialize(from: field.name.utf8).1
                    let value = UnsafeMutableBufferPointer(rebasing: bytes[(offset + nameCount)...])
                    let valueCount = value.initialize(from: field.value.utf8).1
                    nva[presetCount + index] = nghttp2_nv(
                        name: name.baseAddress!, value: value.baseAddress!, namelen: nameCount, valuelen: valueCount,
                        flags: Self.indexingFlags(name: field.name))
                    offset += nameCount + valueCount
                }
                return body(nva.baseAddress!, presetCount + headers.extra.count)
            }
        }
    }

    /// `grpc-timeout` differs on every call: indexed, each value would take a slot in the
    /// peer's HPACK table and push out the fields that do repeat (path, authority, user agent),
    /// so both sides would encode and decode those again on every call.
    private static func indexingFlags(name: String) -> UInt8 {
        name == "grpc-timeout" ? UInt8(NGHTTP2_NV_FLAG_NO_INDEX.rawValue) : UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)
    }

    private static func dataProvider() -> nghttp2_data_provider {
        nghttp2_data_provider(source: nghttp2_data_source(fd: 0), read_callback: readCallback)
    }

    // MARK: Server side

    /// Sends response headers. With `endStream` this is a Trailers-Only response; otherwise a
    /// DATA source is attached that pulls from `queueData`/`queueTrailers`.
    func submitResponse(streamID: Int32, headers: OutboundHeaders, endStream: Bool) {
        let result: Int32
        if endStream {
            result = self.withNV(headers) { nva, count in
                nghttp2_submit_response(self.session, streamID, nva, count, nil)
            }
        } else {
            if self.outbound[streamID] == nil { self.outbound[streamID] = OutboundQueue() }
            var provider = Self.dataProvider()
            result = self.withNV(headers) { nva, count in
                nghttp2_submit_response(self.session, streamID, nva, count, &provider)
            }
        }
        switch result {
        case 0:
            break  // Queued for the next send.
        default:
            // NGHTTP2_ERR_INVALID_ARGUMENT / NGHTTP2_ERR_PROTO: the stream is closed already
            // (the peer reset it); there is nobody to answer.
            self.outbound.removeValue(forKey: streamID)
        }
    }

    // MARK: Client side

    /// Opens a stream with request headers and a DATA source; returns the stream ID, or nil
    /// when no new stream can be opened (GOAWAY received, IDs exhausted).
    func submitRequest(headers: OutboundHeaders) -> Int32? {
        var provider = Self.dataProvider()
        let streamID = self.withNV(headers) { nva, count in
            nghttp2_submit_request(self.session, nil, nva, count, &provider, nil)
        }
        switch streamID {
        case 1...:
            self.outbound[streamID] = OutboundQueue()  // Accepted.
            return streamID
        default:
            // NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE, NGHTTP2_ERR_NOMEM …: the caller retries elsewhere.
            return nil
        }
    }

    // MARK: Both sides

    /// Queues DATA bytes (already framed gRPC messages) for a stream.
    func queueData(streamID: Int32, _ bytes: ByteBuffer) {
        guard let queue = self.outbound[streamID] else { return }
        if queue.buffer == nil {
            queue.buffer = bytes
        } else {
            queue.buffer!.writeImmutableBuffer(bytes)
        }
        self.resumeIfDeferred(queue, streamID: streamID)
    }

    /// Queues trailers (server) to follow the queued DATA.
    func queueTrailers(streamID: Int32, _ headers: OutboundHeaders) {
        guard let queue = self.outbound[streamID] else { return }
        queue.trailers = headers
        self.resumeIfDeferred(queue, streamID: streamID)
    }

    /// Ends the stream (client half-close) after the queued DATA.
    func queueEndStream(streamID: Int32) {
        guard let queue = self.outbound[streamID] else { return }
        queue.endStream = true
        self.resumeIfDeferred(queue, streamID: streamID)
    }

    /// Bytes queued and not yet taken by nghttp2 for a stream.
    func pendingOutboundBytes(streamID: Int32) -> Int {
        self.outbound[streamID]?.pendingBytes ?? 0
    }

    private func resumeIfDeferred(_ queue: OutboundQueue, streamID: Int32) {
        guard queue.deferred else { return }
        queue.deferred = false
        let result = nghttp2_session_resume_data(self.session, streamID)
        switch result {
        case 0:
            break  // nghttp2 will pull again on the next send.
        default:
            break  // NGHTTP2_ERR_INVALID_ARGUMENT: the stream has no deferred data (already closed).
        }
    }

    /// Resets a stream with an HTTP/2 error code (e.g. CANCEL = 8, NO_ERROR = 0).
    func resetStream(streamID: Int32, errorCode: UInt32) {
        self.outbound.removeValue(forKey: streamID)
        let result = nghttp2_submit_rst_stream(self.session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, errorCode)
        switch result {
        case 0:
            break  // RST_STREAM queued.
        default:
            break  // NGHTTP2_ERR_INVALID_ARGUMENT: stream 0, nothing to reset.
        }
    }

    /// Sends a PING.
    func ping() {
        let result = nghttp2_submit_ping(self.session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil)
        switch result {
        case 0:
            break  // PING queued.
        default:
            break  // NGHTTP2_ERR_NOMEM: skip this keepalive round.
        }
    }

    /// Server: announces shutdown with a GOAWAY carrying the largest stream ID so that no
    /// new stream is accepted while in-flight ones finish.
    func submitShutdownNotice() {
        let result = nghttp2_submit_shutdown_notice(self.session)
        switch result {
        case 0:
            break  // GOAWAY(2^31-1) queued; the final GOAWAY follows.
        default:
            break  // NGHTTP2_ERR_INVALID_STATE (client session): nothing to announce.
        }
    }

    /// Sends the final GOAWAY with the last processed stream.
    func submitGoAway(errorCode: UInt32) {
        let lastStreamID = nghttp2_session_get_last_proc_stream_id(self.session)
        let result = nghttp2_submit_goaway(self.session, UInt8(NGHTTP2_FLAG_NONE.rawValue), lastStreamID, errorCode, nil, 0)
        switch result {
        case 0:
            break  // GOAWAY queued.
        default:
            break  // NGHTTP2_ERR_NOMEM / NGHTTP2_ERR_INVALID_ARGUMENT: the connection closes anyway.
        }
    }

    /// Number of HTTP/2 error codes used by callers.
    static let noError: UInt32 = NGHTTP2_NO_ERROR.rawValue
    static let cancel: UInt32 = NGHTTP2_CANCEL.rawValue
    static let refusedStream: UInt32 = NGHTTP2_REFUSED_STREAM.rawValue
    static let enhanceYourCalm: UInt32 = NGHTTP2_ENHANCE_YOUR_CALM.rawValue
    static let internalError: UInt32 = NGHTTP2_INTERNAL_ERROR.rawValue
}

// MARK: C callbacks: each only translates the event for the session and returns a code.

private func sessionFrom(_ userData: UnsafeMutableRawPointer?) -> HTTP2Session {
    Unmanaged<HTTP2Session>.fromOpaque(userData!).takeUnretainedValue()
}

private let onBeginHeaders: nghttp2_on_begin_headers_callback = { _, _, userData in
    sessionFrom(userData).beginHeaders()
    return 0
}

private let onHeader: nghttp2_on_header_callback = { _, _, name, nameLength, value, valueLength, _, userData in
    sessionFrom(userData).header(
        name: UnsafeBufferPointer(start: name, count: nameLength),
        value: UnsafeBufferPointer(start: value, count: valueLength))
    return 0
}

private let onFrameRecv: nghttp2_on_frame_recv_callback = { _, frame, userData in
    guard let frame else { return 0 }
    let session = sessionFrom(userData)
    let header = frame.pointee.hd
    let endStream = header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
    switch UInt32(header.type) {
    case NGHTTP2_HEADERS.rawValue:
        session.endHeaders(streamID: header.stream_id, endStream: endStream)
    case NGHTTP2_DATA.rawValue:
        if endStream { session.record(.endStream(streamID: header.stream_id)) }
    case NGHTTP2_GOAWAY.rawValue:
        session.record(.goAway(lastStreamID: frame.pointee.goaway.last_stream_id, errorCode: frame.pointee.goaway.error_code))
    case NGHTTP2_PING.rawValue:
        if header.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0 { session.record(.pingAck) }
    default:
        break  // SETTINGS, WINDOW_UPDATE, RST_STREAM (seen as stream close), PRIORITY: nghttp2 handles them.
    }
    return 0
}

private let onDataChunkRecv: nghttp2_on_data_chunk_recv_callback = { _, _, streamID, data, length, userData in
    sessionFrom(userData).dataChunk(streamID: streamID, bytes: UnsafeBufferPointer(start: data, count: length))
    return 0
}

private let onStreamClose: nghttp2_on_stream_close_callback = { _, streamID, errorCode, userData in
    sessionFrom(userData).streamClosed(streamID: streamID, errorCode: errorCode)
    return 0
}

private let readCallback: nghttp2_data_source_read_callback = { _, streamID, buffer, length, dataFlags, _, userData in
    let (count, flags, deferred) = sessionFrom(userData).readOutbound(
        streamID: streamID, into: UnsafeMutableRawBufferPointer(start: buffer, count: length))
    if deferred { return Int(NGHTTP2_ERR_DEFERRED.rawValue) }
    dataFlags?.pointee |= flags
    return count
}
