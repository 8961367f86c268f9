// The SQLite driver behind sql::connection (WAL, foreign keys on, writers serialized in-process).
#pragma once

#include "store/sql.hpp"

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

namespace parley::store::sqlite {

// Lets one write transaction at a time into a database file, within this process. Waiters are
// woken in turn instead of polling the file lock with SQLite's sleeping busy handler. (A mutex
// and condition variable rather than std::timed_mutex, whose timed lock ThreadSanitizer cannot
// follow.)
class writer_gate {
public:
    // False when the gate stayed closed for the whole timeout.
    bool enter(std::chrono::milliseconds timeout);
    void leave() noexcept;

private:
    std::mutex mutex_;
    std::condition_variable opened_;
    bool held_ = false;
};

// PRAGMA synchronous of every connection (API.md §10.2 PARLEY_SQLITE_SYNCHRONOUS): `full` fsyncs
// the WAL at every commit, so a commit survives power loss; `normal` survives a process crash
// only (an OS crash or power loss may undo the last commits).
enum class synchronous { full, normal };

// Opens one connection to the database file, creating it (mode 0600) if missing. Write transactions
// of all connections sharing `writer` queue on it (BEGIN IMMEDIATE still guards other processes); a
// null `writer` gives the connection its own. Throws store::unavailable when the file cannot be
// opened.
std::unique_ptr<sql::connection> connect(const std::string& path,
                                         std::shared_ptr<writer_gate> writer = nullptr,
                                         synchronous sync = synchronous::full);

}  // namespace parley::store::sqlite
