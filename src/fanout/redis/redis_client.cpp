// The synchronous Redis pool (docs/decisions/0002-redis.md).
#include "fanout/redis/redis_client.hpp"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <sys/time.h>

namespace parley::fanout::redis {

namespace {

std::int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

timeval to_timeval(std::chrono::milliseconds d) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(d.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
    return tv;
}

reply copy(const redisReply* r) {
    reply out;
    switch (r->type) {
        case REDIS_REPLY_INTEGER:
            out.type = reply::kind::integer;
            out.integer = r->integer;
            break;
        case REDIS_REPLY_STRING:
            out.type = reply::kind::string;
            out.str.assign(r->str, r->len);
            break;
        case REDIS_REPLY_STATUS:
            out.type = reply::kind::status;
            out.str.assign(r->str, r->len);
            break;
        case REDIS_REPLY_ERROR:
            out.type = reply::kind::error;
            out.str.assign(r->str, r->len);
            break;
        case REDIS_REPLY_ARRAY:
            out.type = reply::kind::array;
            out.elements.reserve(r->elements);
            for (std::size_t i = 0; i < r->elements; ++i)
                out.elements.push_back(copy(r->element[i]));
            break;
        default:
            break;  // nil
    }
    return out;
}

// One command on one context; nullopt on an I/O error or timeout (the context is then unusable).
std::optional<reply> run(redisContext* c, const std::vector<std::string>& argv) {
    std::vector<const char*> args;
    std::vector<std::size_t> lens;
    args.reserve(argv.size());
    lens.reserve(argv.size());
    for (const auto& a : argv) {
        args.push_back(a.data());
        lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(args.size()), args.data(), lens.data()));
    if (!r) return std::nullopt;
    reply out = copy(r);
    freeReplyObject(r);
    return out;
}

}  // namespace

std::string lua_script::sha() const {
    std::lock_guard lock(mutex_);
    return sha_;
}

void lua_script::set_sha(std::string sha) {
    std::lock_guard lock(mutex_);
    sha_ = std::move(sha);
}

void throttled_warning::warn(std::string_view what) {
    const std::int64_t now = steady_ms();
    std::int64_t next = next_ms_.load();
    if (now < next || !next_ms_.compare_exchange_strong(next, now + period_ms_)) return;
    spdlog::warn("{}", what);
}

redis_client::redis_client(redis_address address, std::chrono::milliseconds timeout,
                           std::size_t max_connections)
    : address_(std::move(address)),
      timeout_(timeout),
      max_connections_(max_connections == 0 ? 1 : max_connections) {}

redis_client::~redis_client() {
    std::lock_guard lock(mutex_);
    for (auto* c : idle_) redisFree(c);
    idle_.clear();
}

redisContext* redis_client::connect() {
    redisContext* c =
        redisConnectWithTimeout(address_.host.c_str(), address_.port, to_timeval(timeout_));
    if (!c || c->err) {
        spdlog::debug("redis: cannot connect to {}:{}: {}", address_.host, address_.port,
                      c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return nullptr;
    }
    redisSetTimeout(c, to_timeval(timeout_));
    const auto setup = [&](std::vector<std::string> argv) {
        const auto r = run(c, argv);
        if (!r) return false;
        if (r->is_error()) {
            spdlog::error("redis: {} refused: {}", argv[0], r->str);
            return false;
        }
        return true;
    };
    bool ok = true;
    if (!address_.password.empty()) {
        ok = address_.username.empty() ? setup({"AUTH", address_.password})
                                       : setup({"AUTH", address_.username, address_.password});
    }
    if (ok && address_.db != 0) ok = setup({"SELECT", std::to_string(address_.db)});
    if (!ok) {
        redisFree(c);
        return nullptr;
    }
    return c;
}

redisContext* redis_client::acquire() {
    if (steady_ms() < retry_at_ms_.load()) return nullptr;
    {
        std::unique_lock lock(mutex_);
        const bool got = freed_.wait_for(
            lock, timeout_, [&] { return !idle_.empty() || open_ < max_connections_; });
        if (!got) return nullptr;  // every connection busy for the whole timeout
        if (!idle_.empty()) {
            auto* c = idle_.back();
            idle_.pop_back();
            return c;
        }
        ++open_;  // reserve a slot; connect outside the lock
    }
    redisContext* c = connect();
    if (!c) {
        {
            std::lock_guard lock(mutex_);
            --open_;
        }
        freed_.notify_one();
        retry_at_ms_ = steady_ms() + retry_delay.count();
        up_ = false;
    }
    return c;
}

void redis_client::give_back(redisContext* c, bool healthy) {
    {
        std::lock_guard lock(mutex_);
        if (healthy) {
            idle_.push_back(c);
        } else {
            redisFree(c);
            --open_;
        }
    }
    freed_.notify_one();
    if (!healthy) {
        retry_at_ms_ = steady_ms() + retry_delay.count();
        up_ = false;
    }
}

std::optional<reply> redis_client::command(const std::vector<std::string>& argv) {
    redisContext* c = acquire();
    if (!c) return std::nullopt;
    auto r = run(c, argv);
    give_back(c, r.has_value());
    if (r) up_ = true;
    return r;
}

std::optional<reply> redis_client::eval(lua_script& script, const std::vector<std::string>& keys,
                                        const std::vector<std::string>& args) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        std::string sha = script.sha();
        if (sha.empty()) {
            auto loaded = command({"SCRIPT", "LOAD", script.source()});
            if (!loaded) return std::nullopt;
            if (loaded->type != reply::kind::string) return loaded;  // an error reply
            sha = loaded->str;
            script.set_sha(sha);
        }
        std::vector<std::string> argv;
        argv.reserve(3 + keys.size() + args.size());
        argv.emplace_back("EVALSHA");
        argv.push_back(sha);
        argv.push_back(std::to_string(keys.size()));
        argv.insert(argv.end(), keys.begin(), keys.end());
        argv.insert(argv.end(), args.begin(), args.end());
        auto r = command(argv);
        if (r && r->is_error() && r->str.starts_with("NOSCRIPT")) {
            script.set_sha({});  // Redis restarted or flushed its scripts: load again
            continue;
        }
        return r;
    }
    return std::nullopt;
}

bool redis_client::ping() {
    const auto r = command({"PING"});
    return r && r->type == reply::kind::status && r->str == "PONG";
}

}  // namespace parley::fanout::redis
