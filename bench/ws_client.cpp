// WebSocket client sockets of parley-bench (ws_client.hpp).
#include "ws_client.hpp"

namespace parley::bench {

void spawn_done::operator()(const std::exception_ptr& e) const {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        log_->messages.emplace_back(x.what());
    } catch (...) {
        log_->messages.emplace_back("unknown exception");
    }
    if (log_->io != nullptr) log_->io->stop();
}

namespace {

// Reads frames until hello (at most 64); then the socket has no idle timeout. Sets r.ec otherwise.
task<void> await_hello(ws_conn& c, ws_open_result& r, websocket::stream_base::timeout to) {
    for (int frames = 0; frames < 64; ++frames) {
        c.buffer.clear();
        auto [rec, n] = co_await c.ws.async_read(c.buffer, use_tuple);
        if (rec) {
            r.ec = rec;
            r.detail = "waiting for hello: " + rec.message();
            co_return;
        }
        const std::string text = beast::buffers_to_string(c.buffer.data());
        c.buffer.clear();
        const auto frame = parse_object(text);
        if (!frame) {
            r.ec = make_error_code(boost::system::errc::protocol_error);
            r.detail = "unparsable frame before hello: " + excerpt(text);
            co_return;
        }
        if (string_field(*frame, "type") == "hello") {
            to.idle_timeout = websocket::stream_base::none();
            c.ws.set_option(to);
            c.open = true;
            co_return;
        }
    }
    r.ec = make_error_code(boost::system::errc::protocol_error);
    r.detail = "no hello frame among the first 64 frames";
    co_return;
}

}  // namespace

task<ws_open_result> ws_open(ws_conn& c, const target& t, const std::string& token,
                             const asio::ip::address_v4* source) {
    ws_open_result r;
    auto& lowest = beast::get_lowest_layer(c.ws);
    r.ec = prepare_socket(lowest.socket(), source);
    if (r.ec) {
        r.detail = "socket: " + r.ec.message();
        co_return r;
    }
    lowest.expires_after(10s);
    auto [cec] = co_await lowest.async_connect(tcp::endpoint(t.addr, t.port), use_tuple);
    if (cec) {
        r.ec = cec;
        r.detail = "connect: " + cec.message();
        co_return r;
    }
    lowest.expires_never();
    websocket::stream_base::timeout to{};
    to.handshake_timeout = 10s;
    to.idle_timeout = 10s;
    to.keep_alive_pings = false;
    c.ws.set_option(to);
    c.ws.text(true);
    c.ws.read_message_max(16 * 1024 * 1024);
    websocket::response_type res;
    auto [hec] = co_await c.ws.async_handshake(res, t.host, "/ws/chat/?token=" + token, use_tuple);
    if (hec) {
        r.ec = hec;
        r.status = res.result_int();
        r.detail =
            r.status != 0 && r.status != 101
                ? "handshake refused: HTTP " + std::to_string(r.status) + " " + excerpt(res.body())
                : "handshake: " + hec.message();
        co_return r;
    }
    co_await await_hello(c, r, to);
    co_return r;
}

task<void> read_loop(ws_ptr c) {
    for (;;) {  // ends with the socket: every scenario closes all sockets at its end
        auto [ec, n] = co_await c->ws.async_read(c->buffer, use_tuple);
        if (ec) {
            c->open = false;
            if (c->sink != nullptr) c->sink->on_closed(*c, ec);
            co_return;
        }
        const auto data = c->buffer.cdata();
        if (c->sink == nullptr) co_return;  // the scenario is over
        c->sink->on_frame(*c, std::string_view(static_cast<const char*>(data.data()), data.size()),
                          now_ns());
        c->buffer.consume(c->buffer.size());
    }
}

namespace {

task<void> write_loop(ws_ptr c) {
    while (!c->outbox.empty() && c->open) {  // ends when the outbox is empty or the socket closed
        auto [ec, n] = co_await c->ws.async_write(asio::buffer(c->outbox.front()), use_tuple);
        if (ec) break;
        c->outbox.pop_front();
    }
    c->outbox.clear();
    c->writing = false;
}

}  // namespace

void ws_send(const ws_ptr& c, std::string text) {
    if (!c->open) return;
    c->outbox.push_back(std::move(text));
    if (!c->writing) {
        c->writing = true;
        asio::co_spawn(c->ws.get_executor(), write_loop(c), spawn_done(c->failures));
    }
}

void ws_abort(ws_conn& c) {
    c.open = false;
    error_code ec;
    beast::get_lowest_layer(c.ws).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(c.ws).close();
}

}  // namespace parley::bench
