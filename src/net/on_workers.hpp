// Internal to net/: the one way both session kinds run api work on the worker pool (API.md
// §0.9). Handler calls may block (the store), so they never run on an I/O thread; the session's
// coroutine waits for the call and resumes on its own strand. Includes Asio: net/ only.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <type_traits>
#include <utility>

namespace parley::net::detail {

// The coroutine that runs on a worker thread. `work` is taken by value: the frame owns it, and
// with it everything the call uses (STYLE.md, g++ 12).
template <class Work>
boost::asio::awaitable<std::invoke_result_t<Work&>> worker_call(Work work) {
    co_return work();
}

// Runs `work()` on `workers`; co_await the result from a session's coroutine, which then
// resumes on its own executor with std::tuple<std::exception_ptr, R> (R: what `work` returned,
// default-constructed when it threw) or, for a `work` returning void, std::tuple<exception_ptr>.
// `work` must own what it uses, or point only to what outlives the server's worker pool.
template <class Work>
auto on_workers(boost::asio::thread_pool& workers, Work work) {
    return boost::asio::co_spawn(workers, worker_call(std::move(work)),
                                 boost::asio::as_tuple(boost::asio::use_awaitable));
}

}  // namespace parley::net::detail
