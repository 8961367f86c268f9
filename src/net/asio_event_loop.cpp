// The Asio side of fanout::event_loop: a strand of the server's io_context, descriptor watches
// and timers that all die with stop().
#include "net/asio_event_loop.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <utility>

namespace parley::net::detail {

namespace asio = boost::asio;

namespace {

using strand_type = asio::strand<asio::io_context::executor_type>;

// Runs a callback of the client library; an exception escaping it is a bug, logged, never
// allowed to unwind into Asio (STYLE.md: exceptions are caught at the edge).
void guarded(const fanout::event_loop::job& fn, const char* what) {
    try {
        fn();
    } catch (const std::exception& e) {
        spdlog::error("event loop {} failed: {}", what, e.what());
    }
}

}  // namespace

class watch_state;

struct asio_event_loop::state {
    explicit state(asio::io_context& ioc) : strand(asio::make_strand(ioc)) {}

    strand_type strand;
    std::atomic<bool> stopped{false};
    // Loop-only registries, so stop() reaches everything still waiting.
    std::set<std::shared_ptr<watch_state>> watches;
    std::set<std::shared_ptr<asio::steady_timer>> timers;

    void stop_now();
};

// One watched descriptor. Lives while its io_watch or a pending wait holds it.
class watch_state : public std::enable_shared_from_this<watch_state> {
public:
    watch_state(std::shared_ptr<asio_event_loop::state> loop, int fd, fanout::event_loop::job r,
                fanout::event_loop::job w)
        : loop_(std::move(loop)),
          descriptor_(loop_->strand, fd),
          on_read_(std::move(r)),
          on_write_(std::move(w)) {}

    void want_read(bool on) {
        want_read_ = on;
        if (on) arm_read();
    }

    void want_write(bool on) {
        want_write_ = on;
        if (on) arm_write();
    }

    // Stops the waits and gives the descriptor back to its owner (the library closes it).
    void release() {
        if (dead_) return;
        dead_ = true;
        want_read_ = want_write_ = false;
        boost::system::error_code ec;
        descriptor_.cancel(ec);
        descriptor_.release();
        on_read_ = nullptr;
        on_write_ = nullptr;
    }

private:
    void arm_read() {
        if (dead_ || reading_) return;
        reading_ = true;
        descriptor_.async_wait(asio::posix::descriptor_base::wait_read,
                               [self = shared_from_this()](const boost::system::error_code& ec) {
                                   self->reading_ = false;
                                   if (ec || self->dead_ || !self->want_read_) return;
                                   // The callback may free the library's context, and with it this
                                   // watch: `self` keeps the state alive, dead_ tells.
                                   auto fn = self->on_read_;
                                   guarded(fn, "read callback");
                                   if (self->want_read_) self->arm_read();
                               });
    }

    void arm_write() {
        if (dead_ || writing_) return;
        writing_ = true;
        descriptor_.async_wait(asio::posix::descriptor_base::wait_write,
                               [self = shared_from_this()](const boost::system::error_code& ec) {
                                   self->writing_ = false;
                                   if (ec || self->dead_ || !self->want_write_) return;
                                   auto fn = self->on_write_;
                                   guarded(fn, "write callback");
                                   if (self->want_write_) self->arm_write();
                               });
    }

    std::shared_ptr<asio_event_loop::state> loop_;
    asio::posix::stream_descriptor descriptor_;
    fanout::event_loop::job on_read_;
    fanout::event_loop::job on_write_;
    bool want_read_ = false;
    bool want_write_ = false;
    bool reading_ = false;  // an async_wait for reading is pending
    bool writing_ = false;
    bool dead_ = false;
};

namespace {

// What the library holds: destroying it unregisters the descriptor.
class asio_watch final : public fanout::io_watch {
public:
    asio_watch(std::shared_ptr<asio_event_loop::state> loop, std::shared_ptr<watch_state> w)
        : loop_(std::move(loop)), watch_(std::move(w)) {}

    ~asio_watch() override {
        watch_->release();
        loop_->watches.erase(watch_);
    }

    void want_read(bool on) override {
        if (!loop_->stopped) watch_->want_read(on);
    }
    void want_write(bool on) override {
        if (!loop_->stopped) watch_->want_write(on);
    }

private:
    std::shared_ptr<asio_event_loop::state> loop_;
    std::shared_ptr<watch_state> watch_;
};

}  // namespace

void asio_event_loop::state::stop_now() {
    stopped = true;
    for (const auto& w : watches) w->release();
    watches.clear();
    for (const auto& t : timers) t->cancel();
    timers.clear();
}

asio_event_loop::asio_event_loop(asio::io_context& ioc) : state_(std::make_shared<state>(ioc)) {}

asio_event_loop::~asio_event_loop() {
    // The I/O threads have stopped: nothing else touches the state now.
    state_->stop_now();
}

void asio_event_loop::post(job fn) {
    if (state_->stopped) return;
    asio::post(state_->strand, [s = state_, fn = std::move(fn)] {
        if (!s->stopped) guarded(fn, "job");
    });
}

void asio_event_loop::after(std::chrono::milliseconds delay, job fn) {
    if (state_->stopped) return;
    asio::post(state_->strand, [s = state_, delay, fn = std::move(fn)]() mutable {
        if (s->stopped) return;
        auto timer = std::make_shared<asio::steady_timer>(s->strand, delay);
        s->timers.insert(timer);
        timer->async_wait([s, timer, fn = std::move(fn)](const boost::system::error_code& ec) {
            s->timers.erase(timer);
            if (!ec && !s->stopped) guarded(fn, "timer");
        });
    });
}

std::unique_ptr<fanout::io_watch> asio_event_loop::watch(int fd, job on_readable, job on_writable) {
    auto w =
        std::make_shared<watch_state>(state_, fd, std::move(on_readable), std::move(on_writable));
    if (state_->stopped) {
        w->release();
    } else {
        state_->watches.insert(w);
    }
    return std::make_unique<asio_watch>(state_, std::move(w));
}

bool asio_event_loop::in_loop() const {
    return state_->strand.running_in_this_thread();
}

void asio_event_loop::stop() {
    if (state_->stopped) return;
    asio::post(state_->strand, [s = state_] { s->stop_now(); });
}

}  // namespace parley::net::detail
