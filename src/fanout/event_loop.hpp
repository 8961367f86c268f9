// A single-threaded event loop for client libraries with their own non-blocking sockets (the
// hiredis async API of fanout/redis). net/ implements it on the server's io_context; fanout/
// sees no Asio type (STYLE.md layers), net/ sees no hiredis type.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

namespace parley::fanout {

// Readiness notifications for one file descriptor, delivered on the loop. Destroying the watch
// stops them; the descriptor is never closed by the watch (its library owns it).
class io_watch {
public:
    virtual ~io_watch() = default;
    // Loop thread only. Idempotent: asking twice for what is already wanted changes nothing.
    virtual void want_read(bool on) = 0;
    virtual void want_write(bool on) = 0;
};

// Everything the loop runs (posted jobs, timers, readiness callbacks) is serialized: a library
// driven from it needs no lock of its own. After stop() nothing runs any more and every call is
// a no-op, so owners may outlive the loop's activity (shutdown order, docs/decisions/0002).
class event_loop {
public:
    using job = std::function<void()>;
    virtual ~event_loop() = default;

    // Runs fn on the loop, never inline. Any thread.
    virtual void post(job fn) = 0;
    // Runs fn on the loop once `delay` has passed. Any thread.
    virtual void after(std::chrono::milliseconds delay, job fn) = 0;
    // Watches `fd`; the callbacks run on the loop while read/write are wanted. Loop thread only.
    [[nodiscard]] virtual std::unique_ptr<io_watch> watch(int fd, job on_readable,
                                                          job on_writable) = 0;
    // True when called from a job, timer or callback of this loop.
    [[nodiscard]] virtual bool in_loop() const = 0;
};

}  // namespace parley::fanout
