// The listener, the I/O threads, the worker pool and the shutdown sequence (API.md §10.1).
// Threading: one io_context run by N threads, a strand per connection (docs/decisions/0001).
#include "net/server.hpp"

#include "net/event_loop.hpp"
#include "net/session.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <optional>
#include <stdexcept>
#include <thread>

namespace parley::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

// Handler calls may block on the database, so the pool is larger than the core count; it bounds
// how many requests run at once (each connection has at most one in flight).
constexpr unsigned min_worker_threads = 4;
constexpr unsigned worker_threads_per_core = 2;
// After a failed accept (EMFILE, ENFILE, ENOBUFS) wait this long rather than spin.
constexpr auto accept_backoff = 100ms;
// After the shutdown timeout: time for the forced socket closes to run before the I/O stops.
constexpr auto forced_close_grace = 200ms;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

unsigned hardware_threads() {
    return std::max(1u, std::thread::hardware_concurrency());
}

unsigned io_thread_count(int configured) {
    return configured > 0 ? static_cast<unsigned>(configured) : hardware_threads();
}

}  // namespace

namespace detail {

std::uint64_t session_registry::add(std::weak_ptr<session> s) {
    std::lock_guard lock(mutex_);
    const auto id = next_id_++;
    sessions_.emplace(id, std::move(s));
    return id;
}

void session_registry::remove(std::uint64_t id) {
    bool now_empty = false;
    {
        std::lock_guard lock(mutex_);
        now_empty = sessions_.erase(id) > 0 && sessions_.empty();
    }
    if (now_empty && on_empty_) on_empty_();
}

std::vector<std::shared_ptr<session>> session_registry::snapshot() const {
    std::vector<std::shared_ptr<session>> out;
    std::lock_guard lock(mutex_);
    out.reserve(sessions_.size());
    for (const auto& [id, weak] : sessions_)
        if (auto s = weak.lock()) out.push_back(std::move(s));
    return out;
}

std::size_t session_registry::size() const {
    std::lock_guard lock(mutex_);
    return sessions_.size();
}

void log_failure::operator()(std::exception_ptr e) const {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        spdlog::error("{} failed: {}", what, ex.what());
    } catch (...) {
        spdlog::error("{} failed with an unknown exception", what);
    }
}

}  // namespace detail

// Member order is destruction order reversed: the worker pool goes before the io_context (its
// abandoned completions post to it), and both before the registry the sessions point to.
struct server::impl {
    impl(const config::http_settings& s, api::http_handler& h, api::ws_handler* w,
         config::ws_settings ws)
        : settings(s),
          handler(h),
          ws_settings(std::move(ws)),
          outbox(ws_settings.outbox_total_bytes),
          registry([this] { on_sessions_empty(); }),
          io_threads(io_thread_count(s.threads)),
          ioc(static_cast<int>(io_threads)),
          strand(asio::make_strand(ioc)),
          loop(ioc),
          workers(server::worker_threads()),
          context{settings, handler, workers, registry, w, ws_settings, outbox},
          acceptor(strand),
          drain_timer(strand) {}

    const config::http_settings& settings;
    api::http_handler& handler;
    config::ws_settings ws_settings;
    detail::outbox_total outbox;  // before the sessions that count in it
    std::function<void()> shutdown_hook;
    detail::session_registry registry;
    std::atomic<bool> shutting_down{false};
    bool stopped = false;  // the sequence finished; on `strand`
    unsigned io_threads;
    asio::io_context ioc;
    // Server-level work (accept, signals, the shutdown sequence) runs on this strand.
    asio::strand<asio::io_context::executor_type> strand;
    // Client libraries' sockets (Redis): on the I/O threads, stopped by finish().
    detail::asio_event_loop loop;
    asio::thread_pool workers;
    detail::session_context context;
    tcp::acceptor acceptor;
    std::optional<asio::signal_set> signals;
    asio::steady_timer drain_timer;
    std::uint16_t bound_port = 0;

    void listen() {
        if (acceptor.is_open()) return;
        const auto where = settings.host + ":" + std::to_string(settings.port);
        boost::system::error_code ec;
        tcp::resolver resolver(ioc);
        const auto results = resolver.resolve(settings.host, std::to_string(settings.port),
                                              tcp::resolver::passive, ec);
        if (ec || results.empty())
            throw std::runtime_error("cannot listen on " + where + ": " + ec.message());
        const tcp::endpoint endpoint = results.begin()->endpoint();
        auto fail = [&](const char* step) {
            boost::system::error_code ignored;
            acceptor.close(ignored);
            throw std::runtime_error("cannot listen on " + where + ": " + step + ": " +
                                     ec.message());
        };
        acceptor.open(endpoint.protocol(), ec);
        if (ec) fail("open");
        // Lets a restart bind while old connections sit in TIME_WAIT; a live listener on the
        // same port still makes bind fail (Linux), which is the error we want to report.
        acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
        acceptor.bind(endpoint, ec);
        if (ec) fail("bind");
        acceptor.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) fail("listen");
        bound_port = acceptor.local_endpoint(ec).port();
        // Captured from here on: a signal before run() is queued, not fatal.
        signals.emplace(strand, SIGINT, SIGTERM);
        spdlog::info("listening on http://{}:{} ({} I/O threads)", settings.host, bound_port,
                     io_threads);
    }

    void run() {
        listen();
        asio::co_spawn(strand, accept_loop(this), detail::log_failure{"http acceptor"});
        asio::co_spawn(strand, signal_loop(this), detail::log_failure{"signal handler"});
        std::vector<std::thread> threads;
        threads.reserve(io_threads - 1);
        for (unsigned i = 1; i < io_threads; ++i) threads.emplace_back([this] { run_io(); });
        run_io();
        for (auto& t : threads) t.join();
        // Graceful: nothing is left. Forced: waits for handlers still running (they cannot be
        // interrupted), with queued ones dropped by workers.stop().
        workers.join();
        spdlog::info("http server stopped");
    }

    void run_io() {
        for (;;) {
            try {
                ioc.run();
                return;
            } catch (const std::exception& e) {
                spdlog::error("I/O thread: unexpected exception: {}", e.what());
            }
        }
    }

    static asio::awaitable<void> accept_loop(impl* self) {
        asio::steady_timer backoff(self->strand);
        while (!self->shutting_down) {
            tcp::socket socket(asio::make_strand(self->ioc));
            auto [ec] = co_await self->acceptor.async_accept(socket, use_tuple);
            if (self->shutting_down) co_return;  // the accepted socket, if any, just closes
            if (ec == asio::error::operation_aborted) co_return;
            if (ec) {
                spdlog::warn("accept failed: {}", ec.message());
                backoff.expires_after(accept_backoff);
                [[maybe_unused]] auto [waited] = co_await backoff.async_wait(use_tuple);
                continue;
            }
            socket.set_option(tcp::no_delay(true), ec);
            detail::start_http_session(std::move(socket), self->context);
        }
    }

    // First signal: graceful shutdown. Second one during the drain: stop now.
    static asio::awaitable<void> signal_loop(impl* self) {
        while (!self->stopped) {
            auto [ec, signo] = co_await self->signals->async_wait(use_tuple);
            if (ec) co_return;
            spdlog::info("received signal {}", signo);
            if (!self->shutting_down)
                self->begin_shutdown();
            else
                self->force_stop();
        }
    }

    // On `strand`. The sequence of STYLE.md "Shut down as a sequence".
    void begin_shutdown() {
        if (shutting_down.exchange(true)) return;
        spdlog::info("shutting down: closing the listener, draining {} connections",
                     registry.size());
        if (shutdown_hook) {
            try {
                shutdown_hook();
            } catch (const std::exception& e) {
                spdlog::error("shutdown hook failed: {}", e.what());
            }
        }
        boost::system::error_code ec;
        acceptor.close(ec);
        for (const auto& s : registry.snapshot()) s->begin_shutdown();
        asio::co_spawn(strand, drain(this), detail::log_failure{"shutdown"});
    }

    // Waits for the sessions to finish (each ends after its in-flight response) until
    // shutdown_timeout, then cuts the rest. When it returns, nothing keeps the I/O threads busy.
    static asio::awaitable<void> drain(impl* self) {
        const auto deadline = std::chrono::steady_clock::now() + self->settings.shutdown_timeout;
        // Check and wait run in one strand step, so a wake-up from on_sessions_empty is not lost.
        while (self->registry.size() > 0 && std::chrono::steady_clock::now() < deadline) {
            self->drain_timer.expires_at(deadline);
            [[maybe_unused]] auto [ec] = co_await self->drain_timer.async_wait(use_tuple);
        }
        if (self->registry.size() > 0) {
            self->force_stop();
            co_return;
        }
        spdlog::info("all connections closed");
        self->finish();
    }

    // The timeout passed (or a second signal): close every socket, drop queued handler calls,
    // and stop the I/O threads shortly after. Running handler calls are joined in run().
    void force_stop() {
        spdlog::warn("shutdown: closing {} connections with requests still running",
                     registry.size());
        for (const auto& s : registry.snapshot()) s->force_close();
        workers.stop();
        asio::co_spawn(strand, stop_after_grace(this), detail::log_failure{"shutdown"});
    }

    static asio::awaitable<void> stop_after_grace(impl* self) {
        asio::steady_timer grace(self->strand, forced_close_grace);
        [[maybe_unused]] auto [ec] = co_await grace.async_wait(use_tuple);
        self->finish();
        self->ioc.stop();
    }

    // On `strand`: the last server-level waits end so io_context::run() can return.
    void finish() {
        stopped = true;
        loop.stop();
        boost::system::error_code ec;
        if (signals) signals->cancel(ec);
        drain_timer.cancel();
    }

    // Any thread: the last session ended; wake the drain if shutdown is under way.
    void on_sessions_empty() {
        if (!shutting_down) return;
        asio::post(strand, [this] { drain_timer.cancel(); });
    }
};

server::server(const config::http_settings& s, api::http_handler& handler, api::ws_handler* ws,
               config::ws_settings ws_settings)
    : impl_(std::make_unique<impl>(s, handler, ws, std::move(ws_settings))) {}

server::~server() = default;

void server::listen() {
    impl_->listen();
}

unsigned server::worker_threads() {
    return std::max(min_worker_threads, worker_threads_per_core * hardware_threads());
}

std::uint16_t server::port() const {
    return impl_->bound_port;
}

void server::run() {
    impl_->run();
}

void server::stop() {
    asio::post(impl_->strand, [i = impl_.get()] { i->begin_shutdown(); });
}

void server::on_shutdown(std::function<void()> fn) {
    impl_->shutdown_hook = std::move(fn);
}

fanout::event_loop& server::event_loop() {
    return impl_->loop;
}

}  // namespace parley::net
