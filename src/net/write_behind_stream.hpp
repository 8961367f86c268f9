// Internal to net/ (ws_session.cpp only): the layer under a server WebSocket that coalesces
// writes. Everything written to the socket goes through one buffer and at most one gathered
// write is in flight: bytes appended while a write is on the wire leave together with the next
// one, so a socket with many queued frames costs one send system call per wake-up instead of one
// per frame (docs/decisions/0005-performance.md).
//
// Two kinds of writers append whole frames, both on the connection's strand:
//  - Beast (handshake answer, pings, pongs, close frames) through async_write_some, which
//    accepts every byte at once (a frame is never split by another) and completes once those
//    bytes have reached the kernel, so a teardown after a close frame follows the frame;
//  - the session's outbox writer, which appends pre-framed data frames (append) and waits for
//    them with async_flush.
// Teardown flushes what is buffered first.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley::net::detail {

class write_behind_stream {
public:
    using next_layer_type = boost::beast::tcp_stream;
    using executor_type = next_layer_type::executor_type;

    // The socket is put in non-blocking mode for try_flush (asynchronous operations ignore it).
    explicit write_behind_stream(next_layer_type&& next) : next_(std::move(next)) {
        boost::system::error_code ignored;
        next_.socket().non_blocking(true, ignored);
    }

    executor_type get_executor() noexcept { return next_.get_executor(); }
    next_layer_type& next_layer() noexcept { return next_; }
    const next_layer_type& next_layer() const noexcept { return next_; }

    template <class MutableBuffers, class Token>
    auto async_read_some(const MutableBuffers& buffers, Token&& token) {
        return next_.async_read_some(buffers, std::forward<Token>(token));
    }

    // Accepts all of `buffers`; completes once they have been written (or the socket failed).
    template <class ConstBuffers, class Token>
    auto async_write_some(const ConstBuffers& buffers, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler, const ConstBuffers& b) {
                std::size_t n = 0;
                for (auto it = boost::asio::buffer_sequence_begin(b);
                     it != boost::asio::buffer_sequence_end(b); ++it) {
                    const boost::asio::const_buffer part(*it);
                    pending_.append(static_cast<const char*>(part.data()), part.size());
                    n += part.size();
                }
                wait(std::move(handler), n);
            },
            token, buffers);
    }

    // Strand only. Appends bytes (whole frames) to go out with the next write.
    void append(std::string_view bytes) { pending_.append(bytes); }
    [[nodiscard]] std::string& pending() noexcept { return pending_; }

    // Strand only. Writes what is pending now, without waiting: true when nothing is left
    // (everything went to the kernel, or the socket failed: `ec`); false when the socket's buffer
    // is full or a write is already in flight (then async_flush).
    bool try_flush(boost::system::error_code& ec) {
        ec = failed_;
        if (failed_) return true;
        if (flushing_) return false;
        if (pending_.empty()) return true;
        const std::size_t n = next_.socket().write_some(boost::asio::buffer(pending_), ec);
        if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
            ec = {};
            return false;
        }
        if (ec) {
            failed_ = ec;
            pending_.clear();
            return true;
        }
        pending_.erase(0, n);
        if (!pending_.empty()) return false;
        std::string().swap(pending_);  // all sent: an idle socket holds no write buffer
        return true;
    }

    // Completes once everything appended so far has been written.
    template <class Token>
    auto async_flush(Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [this](auto handler) { wait(std::move(handler), 0); }, token);
    }

    // Teardown (websocket close): flush the buffer, then the TCP teardown.
    template <class Handler>
    friend void async_teardown(boost::beast::role_type role, write_behind_stream& s,
                               Handler&& handler) {
        // The executor is read before the handler moves into the lambda.
        auto ex = boost::asio::get_associated_executor(handler, s.get_executor());
        s.async_flush(boost::asio::bind_executor(
            std::move(ex), [role, &s, h = std::forward<Handler>(handler)](
                               boost::system::error_code ec, std::size_t) mutable {
                if (ec) {
                    std::move(h)(ec);
                    return;
                }
                using boost::beast::websocket::async_teardown;
                async_teardown(role, s.next_, std::move(h));
            }));
    }

    friend void teardown(boost::beast::role_type role, write_behind_stream& s,
                         boost::system::error_code& ec) {
        if (!s.pending_.empty() && !s.flushing_) {
            boost::asio::write(s.next_, boost::asio::buffer(s.pending_), ec);
            s.pending_.clear();
            if (ec) return;
        }
        using boost::beast::websocket::teardown;
        teardown(role, s.next_, ec);
    }

private:
    using handler_type =
        boost::asio::any_completion_handler<void(boost::system::error_code, std::size_t)>;
    struct waiter {
        handler_type handler;
        std::size_t bytes;
    };

    void wait(handler_type handler, std::size_t bytes) {
        if (failed_ || (pending_.empty() && !flushing_)) {
            // Nothing to wait for (or nothing will ever be written): complete, never inline.
            // (On the stream's executor, the connection's strand, like every completion here.)
            boost::asio::post(get_executor(),
                              [h = std::move(handler), ec = failed_, bytes]() mutable {
                                  std::move(h)(ec, ec ? 0 : bytes);
                              });
            return;
        }
        waiters_.push_back(waiter{std::move(handler), bytes});
        if (!flushing_) start();
    }

    // One gathered write of everything pending; the waiters so far complete with it.
    void start() {
        flushing_ = true;
        sending_.clear();
        sending_.swap(pending_);
        in_flight_.clear();
        in_flight_.swap(waiters_);
        boost::asio::async_write(
            next_, boost::asio::buffer(sending_),
            boost::asio::bind_executor(
                get_executor(), [this](boost::system::error_code ec, std::size_t) { done(ec); }));
    }

    void done(boost::system::error_code ec) {
        flushing_ = false;
        if (ec) failed_ = ec;
        // Keep a modest buffer for the next batch while more is pending; give a burst's memory
        // back, and all of it once the socket goes idle.
        constexpr std::size_t keep = 64 * 1024;
        if (sending_.capacity() > keep || pending_.empty()) std::string().swap(sending_);
        auto finished = std::move(in_flight_);
        in_flight_.clear();
        if (failed_ || pending_.empty()) {
            // Failed: nothing more will be written. Empty: the waiters that came during this
            // write waited for nothing newer.
            for (auto& w : waiters_) finished.push_back(std::move(w));
            std::vector<waiter>().swap(waiters_);
            std::string().swap(pending_);
        } else if (!waiters_.empty()) {
            start();
        }
        for (auto& w : finished) std::move(w.handler)(failed_, failed_ ? 0 : w.bytes);
    }

    next_layer_type next_;
    std::string pending_;  // appended, not yet on the wire
    std::string sending_;  // the write in flight
    std::vector<waiter> waiters_;
    std::vector<waiter> in_flight_;
    bool flushing_ = false;
    boost::system::error_code failed_;
};

}  // namespace parley::net::detail
