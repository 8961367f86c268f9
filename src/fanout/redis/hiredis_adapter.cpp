// hiredis ev hooks over fanout::event_loop.
#include "fanout/redis/hiredis_adapter.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <memory>

namespace parley::fanout::redis {

namespace {

struct adapter {
    std::unique_ptr<io_watch> watch;
};

adapter* of(void* privdata) {
    return static_cast<adapter*>(privdata);
}

void add_read(void* p) {
    of(p)->watch->want_read(true);
}
void del_read(void* p) {
    of(p)->watch->want_read(false);
}
void add_write(void* p) {
    of(p)->watch->want_write(true);
}
void del_write(void* p) {
    of(p)->watch->want_write(false);
}
// Called by hiredis while it frees the context, before it closes the descriptor.
void cleanup(void* p) {
    delete of(p);
}

}  // namespace

bool attach(redisAsyncContext* ac, event_loop& loop) {
    if (ac->ev.data != nullptr) return false;
    auto a = std::make_unique<adapter>();
    // The callbacks run on the loop and may free `ac` (a disconnect): the watch survives its own
    // callback (asio_event_loop keeps it alive until the callback returns).
    a->watch = loop.watch(
        ac->c.fd, [ac] { redisAsyncHandleRead(ac); }, [ac] { redisAsyncHandleWrite(ac); });
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    ac->ev.data = a.release();
    return true;
}

std::string_view reply_text(const redisReply* r) {
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS &&
               r->type != REDIS_REPLY_ERROR))
        return {};
    return {r->str, r->len};
}

}  // namespace parley::fanout::redis
