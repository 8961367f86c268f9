// Internal to net/: starting a WebSocket session on a connection whose upgrade the api layer
// accepted. Includes Beast, so only http_session.cpp and ws_session.cpp include it.
#pragma once

#include "api/ws.hpp"
#include "net/session.hpp"

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string>

namespace parley::net::detail {

// Completes the handshake of `upgrade` on `stream` (whose executor is the connection's strand,
// with its timeouts off), answering `who.subprotocol` when set, then serves the socket until it
// closes: on_open, the read loop, the outbox, pings, and on_close exactly once. `slot` (the
// connection's place under the caps) is given back when the socket closes.
void start_ws_session(boost::beast::tcp_stream stream,
                      boost::beast::http::request<boost::beast::http::string_body> upgrade,
                      api::ws_accept who, std::string peer_addr, session_context& ctx,
                      connection_slot slot);

}  // namespace parley::net::detail
