// The HTTP listener (API.md §0.1): I/O threads, limits, worker offload and graceful shutdown.
// No Boost.Asio/Beast here: everything network-shaped lives behind the pimpl in server.cpp.
#pragma once

#include "api/http.hpp"
#include "api/ws.hpp"
#include "config/settings.hpp"
#include "fanout/event_loop.hpp"

#include <cstdint>
#include <functional>
#include <memory>

namespace parley::net {

class server {
public:
    // Keeps references to `s`, `handler` and `ws`; they must outlive the server. With `ws`,
    // upgrades on /ws/chat/ become WebSocket sessions (API.md §8) configured by `ws_settings`;
    // without it they go to `handler` like any request.
    server(const config::http_settings& s, api::http_handler& handler,
           api::ws_handler* ws = nullptr, config::ws_settings ws_settings = {});
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Binds host:port and starts capturing SIGINT/SIGTERM. Throws std::runtime_error naming the
    // address when it cannot bind (port taken, bad host).
    void listen();

    // The bound port (the real one when settings asked for port 0). Valid after listen().
    [[nodiscard]] std::uint16_t port() const;

    // Runs the I/O threads (this thread is one of them) until shutdown completes. Calls listen()
    // first if needed. Call once. Shutdown starts on SIGINT/SIGTERM or stop() (API.md §10.1).
    void run();

    // Starts the shutdown sequence: on_shutdown hook, close the listener, close idle keep-alive
    // connections and WebSockets (1001), let in-flight requests finish for up to
    // shutdown_timeout, then cut the rest.
    // Callable from any thread, any number of times.
    void stop();

    // Called once, on an I/O thread, when shutdown starts (the app flags /readyz). Set before
    // run().
    void on_shutdown(std::function<void()> fn);

    // The size of the request worker pool: max(4, 2 × cores), since handler calls may block.
    // Other pools that make handlers wait (password hashing) are sized against it.
    [[nodiscard]] static unsigned worker_threads();

    // An event loop on the I/O threads for client libraries with their own sockets (the Redis
    // fan-out, docs/decisions/0002-redis.md). It runs once run() runs and stops when shutdown
    // completes (after the last connection closed); the server must outlive its users' activity.
    [[nodiscard]] fanout::event_loop& event_loop();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace parley::net
