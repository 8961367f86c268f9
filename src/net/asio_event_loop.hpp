// fanout::event_loop on the server's io_context (docs/decisions/0002-redis.md): one strand runs
// every job, timer and readiness callback, so the hiredis async contexts driven from it need no
// lock; descriptors are watched with posix::stream_descriptor::async_wait and released (never
// closed) when the library lets go of them. Internal to net/: includes Asio.
#pragma once

#include "fanout/event_loop.hpp"

#include <boost/asio/io_context.hpp>

#include <memory>

namespace parley::net::detail {

class asio_event_loop final : public fanout::event_loop {
public:
    explicit asio_event_loop(boost::asio::io_context& ioc);
    ~asio_event_loop() override;  // stops what is left (no I/O thread runs by then)

    void post(job fn) override;
    void after(std::chrono::milliseconds delay, job fn) override;
    [[nodiscard]] std::unique_ptr<fanout::io_watch> watch(int fd, job on_readable,
                                                          job on_writable) override;
    [[nodiscard]] bool in_loop() const override;

    // Releases every watched descriptor and cancels every timer, on the loop; afterwards the loop
    // keeps no work on the io_context (so run() can return) and every call is a no-op. Any thread.
    void stop();

    struct state;  // shared with watches and pending handlers

private:
    std::shared_ptr<state> state_;
};

}  // namespace parley::net::detail
