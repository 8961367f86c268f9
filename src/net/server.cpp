// The listener, the I/O threads, the worker pool and the shutdown sequence (API.md §10.1).
// Threading: one io_context run by N threads, a strand per connection (docs/decisions/0001).
#include "net/server.hpp"

#include "api/failures.hpp"
#include "net/asio_event_loop.hpp"
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

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <csignal>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
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

// A connection past the caps gets this, written without reading its request (API.md §0.8): the
// contract's 503 body (api/failures), with Retry-After: 5. Built once.
const std::string& over_capacity_answer() {
    static const std::string answer = [] {
        const std::string body = R"({"detail": ")" + std::string(api::service_unavailable_text) +
                                 R"(", "code": "service_unavailable"})";
        return "HTTP/1.1 503 Service Unavailable\r\n"
               "Content-Type: application/json\r\n"
               "Retry-After: 5\r\n"
               "Cache-Control: no-store\r\n"
               "Content-Length: " +
               std::to_string(body.size()) +
               "\r\n"
               "Connection: close\r\n"
               "\r\n" +
               body;
    }();
    return answer;
}
// Refused connections are logged at most this often (an attack must not flood the log).
constexpr auto refusal_log_interval = 10s;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

unsigned hardware_threads() {
    return std::max(1u, std::thread::hardware_concurrency());
}

unsigned io_thread_count(int configured) {
    return configured > 0 ? static_cast<unsigned>(configured) : hardware_threads();
}

// Raises the soft descriptor limit to the hard one (logged) and returns the soft limit in force.
std::uint64_t raise_fd_limit() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
        spdlog::warn("cannot read the open-file limit; assuming 1024");
        return 1024;
    }
    const rlim_t before = lim.rlim_cur;
    if (lim.rlim_cur != lim.rlim_max) {
        rlimit raised = lim;
        raised.rlim_cur = lim.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
    }
    auto show = [](rlim_t v) {
        return v == RLIM_INFINITY ? std::string("unlimited") : std::to_string(v);
    };
    spdlog::info("open-file limit: soft {} (was {}), hard {}", show(lim.rlim_cur), show(before),
                 show(lim.rlim_max));
    // "unlimited" still meets the kernel's per-process ceiling (fs.nr_open, 1M by default).
    return lim.rlim_cur == RLIM_INFINITY ? std::uint64_t{1} << 20 : lim.rlim_cur;
}

// The total cap in force: the setting, or derived from the descriptor limit (API.md §0.8).
std::size_t total_connection_cap(const config::http_settings& s) {
    const std::uint64_t fds = raise_fd_limit();
    const std::size_t cap =
        s.max_connections != 0 ? s.max_connections : default_max_connections(fds);
    spdlog::info("connection caps: {} in total, {} per client address", cap,
                 s.max_connections_per_ip == 0 ? std::string("no cap")
                                               : std::to_string(s.max_connections_per_ip));
    return cap;
}

// The address group of a connected socket's peer (admission.hpp), or empty when it is unknown.
std::string peer_group(const tcp::socket& socket) {
    boost::system::error_code ec;
    const auto peer = socket.remote_endpoint(ec);
    if (ec) return {};
    const auto address = peer.address();
    if (address.is_v4()) {
        const auto bytes = address.to_v4().to_bytes();
        return address_group(bytes);
    }
    const auto bytes = address.to_v6().to_bytes();
    return address_group(bytes);
}

// Answers a connection past the caps without waiting on it: whatever it already sent is read
// (so the close does not reset our answer away), the fixed 503 goes out if the socket takes it
// at once, then the socket closes. Never blocks.
void turn_away(tcp::socket& socket) {
    boost::system::error_code ec;
    socket.non_blocking(true, ec);
    std::array<char, 4096> scratch;
    [[maybe_unused]] const auto read = socket.read_some(asio::buffer(scratch), ec);
    const std::string& answer = over_capacity_answer();
    [[maybe_unused]] const auto sent = socket.write_some(asio::buffer(answer), ec);
    socket.shutdown(tcp::socket::shutdown_send, ec);
    socket.close(ec);
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
          limiter(total_connection_cap(s), s.max_connections_per_ip),
          response_budget(s.response_buffer_total_bytes),
          io_threads(io_thread_count(s.threads)),
          ioc(static_cast<int>(io_threads)),
          strand(asio::make_strand(ioc)),
          loop(ioc),
          workers(server::worker_threads()),
          context{settings, handler, workers, registry, w, ws_settings, outbox, response_budget},
          acceptor(strand),
          drain_timer(strand) {}

    const config::http_settings& settings;
    api::http_handler& handler;
    config::ws_settings ws_settings;
    detail::outbox_total outbox;  // before the sessions that count in it
    std::function<void()> shutdown_hook;
    detail::session_registry registry;
    connection_limiter limiter;  // the caps of API.md §0.8; outlives every session's slot
    byte_budget response_budget;
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
    std::chrono::steady_clock::time_point refusal_logged;         // on `strand`
    std::size_t refused_since_log = 0;                            // on `strand`
    std::chrono::steady_clock::time_point accept_failure_logged;  // on `strand`
    std::size_t accept_failures = 0;                              // on `strand`

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
                // EMFILE/ENFILE/ENOBUFS: wait and accept again (the connection waits in the
                // backlog); logged at most every refusal_log_interval, as it repeats 10 times a
                // second while it lasts.
                ++self->accept_failures;
                const auto now = std::chrono::steady_clock::now();
                if (now - self->accept_failure_logged >= refusal_log_interval) {
                    spdlog::warn("accept failed: {} ({} times since the last report)", ec.message(),
                                 self->accept_failures);
                    self->accept_failure_logged = now;
                    self->accept_failures = 0;
                }
                backoff.expires_after(accept_backoff);
                [[maybe_unused]] auto [waited] = co_await backoff.async_wait(use_tuple);
                continue;
            }
            connection_slot slot = self->admit(socket);
            if (!slot) continue;
            socket.set_option(tcp::no_delay(true), ec);
            detail::start_http_session(std::move(socket), self->context, std::move(slot));
        }
    }

    // On `strand`: the accepted socket's place under the caps, or it is turned away (503).
    connection_slot admit(tcp::socket& socket) {
        connection_limiter::refusal why{};
        connection_slot slot = limiter.admit(peer_group(socket), why);
        if (slot) return slot;
        turn_away(socket);
        ++refused_since_log;
        const auto now = std::chrono::steady_clock::now();
        if (now - refusal_logged >= refusal_log_interval) {
            spdlog::warn("connections refused with 503 ({} since the last report): {} ({} open)",
                         refused_since_log,
                         why == connection_limiter::refusal::total
                             ? "PARLEY_MAX_CONNECTIONS reached"
                             : "PARLEY_MAX_CONNECTIONS_PER_IP reached for an address",
                         limiter.total());
            refusal_logged = now;
            refused_since_log = 0;
        }
        return slot;
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
