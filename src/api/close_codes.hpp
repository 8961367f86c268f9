// The WebSocket close codes of API.md §8.2, for api/ (the hub, stream gates) and net/ (the
// session, its metrics). Plain constants: no Beast here; net/ casts to Beast's close_code.
#pragma once

#include <cstdint>

namespace parley::api::close_code {

inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;  // server shutting down (§10.1)
// Beast closes with these itself: a protocol violation, invalid UTF-8, an incoming message over
// PARLEY_MAX_WS_FRAME_BYTES.
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t invalid_text = 1007;
inline constexpr std::uint16_t message_too_big = 1009;
inline constexpr std::uint16_t server_error = 1011;  // unexpected server failure
// Access token expired without `reauth`, revoked, or the user deactivated (§2.3).
inline constexpr std::uint16_t token_revoked = 4001;
// Slow consumer: the socket's send queue, the instance's total, or the write deadline (§8.2).
inline constexpr std::uint16_t slow_consumer = 4008;

// Never sent; reported in parley_ws_disconnects_total (§10.3): the peer's close frame had no
// code, or the socket ended without a close frame.
inline constexpr std::uint16_t no_status = 1005;
inline constexpr std::uint16_t abnormal = 1006;

}  // namespace parley::api::close_code
