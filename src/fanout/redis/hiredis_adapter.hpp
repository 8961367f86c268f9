// Drives a hiredis async context from a fanout::event_loop (hiredis 0.14's ev hooks: addRead,
// delRead, addWrite, delWrite, cleanup), the way hiredis's own libevent/libuv adapters do.
#pragma once

#include "fanout/event_loop.hpp"

#include <string_view>

struct redisAsyncContext;
struct redisReply;

namespace parley::fanout::redis {

// Attaches `ac` to `loop` (loop thread only, before any command or connect callback is set).
// hiredis calls the cleanup hook when it frees the context; the watch goes with it. Returns
// false when the context already has hooks.
bool attach(redisAsyncContext* ac, event_loop& loop);

// The text of a string, status or error reply; empty for any other reply or none.
[[nodiscard]] std::string_view reply_text(const redisReply* r);

}  // namespace parley::fanout::redis
