// A SOCK_SEQPACKET Unix-domain protocol for asio. Boost 1.74 (Debian 12) predates
// asio::local::seq_packet_protocol, so we declare the Protocol concept ourselves: family,
// type, protocol, and the endpoint/socket/acceptor types built from asio's generic templates.
#pragma once

#include <sys/socket.h>

#include <boost/asio/basic_seq_packet_socket.hpp>
#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/local/basic_endpoint.hpp>

namespace tif {

class SeqPacketProtocol {
  public:
    int family() const noexcept { return AF_UNIX; }
    int type() const noexcept { return SOCK_SEQPACKET; }
    int protocol() const noexcept { return 0; }

    using endpoint = boost::asio::local::basic_endpoint<SeqPacketProtocol>;
    using socket = boost::asio::basic_seq_packet_socket<SeqPacketProtocol>;
    using acceptor = boost::asio::basic_socket_acceptor<SeqPacketProtocol>;
};

} // namespace tif
