package import NIOCore

/// Socket options both ends set on a protocol connection.
package enum SocketOptions {
    /// TCP_NODELAY: small answers (an ack, a latest state) go out at once instead of waiting
    /// for Nagle's algorithm. At the TCP level: `.socketOption(.tcp_nodelay)` would be level
    /// SOL_SOCKET, where option 1 is SO_DEBUG, which needs CAP_NET_ADMIN: as a non-root user
    /// the client could not connect and the server stopped accepting after its first client.
    package static let noDelay = ChannelOptions.tcpOption(.tcp_nodelay)
}
