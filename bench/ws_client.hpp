// WebSocket client sockets of parley-bench: open (connect, upgrade with ?token=, wait for hello),
// a read loop that hands every frame to the scenario's sink, a bounded send queue, and the
// completion handler that turns an escaping exception into a failed run.
#pragma once

#include "client_io.hpp"

#include <deque>
#include <exception>
#include <memory>
#include <vector>

namespace parley::bench {

struct ws_conn;

// An exception escaping a coroutine is a bug (or std::bad_alloc): the run fails with its message
// and the io_context stops, so that nothing resumes into a half-finished scenario.
struct failure_log {
    asio::io_context* io = nullptr;
    std::vector<std::string> messages;
};

// The completion handler of every co_spawn.
class spawn_done {
public:
    explicit spawn_done(std::shared_ptr<failure_log> log) : log_(std::move(log)) {}
    void operator()(const std::exception_ptr& e) const;

private:
    std::shared_ptr<failure_log> log_;
};

// Receives the frames and the end of every socket of a scenario (same thread).
class frame_sink {
public:
    virtual void on_frame(ws_conn& c, std::string_view text, std::int64_t at_ns) = 0;
    virtual void on_closed(ws_conn& c, const error_code& ec) = 0;

protected:
    ~frame_sink() = default;
};

struct ws_conn {
    explicit ws_conn(asio::any_io_executor ex) : ws(ex) {}
    websocket::stream<beast::tcp_stream> ws;
    beast::flat_buffer buffer;
    std::deque<std::string> outbox;  // bounded by the senders' windows
    bool writing = false;
    bool open = false;
    int index = 0;     // member index in the scenario
    int instance = 0;  // 0: --url, 1: --second-url
    frame_sink* sink = nullptr;
    std::shared_ptr<failure_log> failures;  // for the completion of the write loop
};
using ws_ptr = std::shared_ptr<ws_conn>;

struct ws_open_result {
    error_code ec;
    std::string detail;   // what failed, for the report
    unsigned status = 0;  // HTTP status of a refused handshake
};

// Connect, upgrade with ?token=, and wait for the hello frame (§8.1; presence frames may come
// first, §13.2). Timeouts: 10 s for the TCP connect, the upgrade and the hello each.
task<ws_open_result> ws_open(ws_conn& c, const target& t, const std::string& token,
                             const asio::ip::address_v4* source);

// Reads until the socket ends; every frame goes to the sink.
task<void> read_loop(ws_ptr c);

// Queues one text frame; a write loop sends the queue in order.
void ws_send(const ws_ptr& c, std::string text);

// Ends the socket at once (no close handshake).
void ws_abort(ws_conn& c);

}  // namespace parley::bench
