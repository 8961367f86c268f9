// The data folder's operator commands (API.md §10.1): `backup`, `restore`, `export`, and the lock
// that tells `restore` a server is using the folder.
#pragma once

#include "app/bootstrap.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace parley::app {

// An flock(2) on <data dir>/parley.lock, released when the object goes (or the process dies).
// `serve` holds it shared for its lifetime (several instances may share a folder); `restore`
// takes it exclusive, so it fails while any server runs and no server starts during a restore.
class data_dir_lock {
public:
    enum class mode { shared, exclusive };
    // nullopt when another process holds the lock in a conflicting mode; `error` says why.
    [[nodiscard]] static std::optional<data_dir_lock> acquire(const std::string& data_dir, mode m,
                                                              std::string& error);
    data_dir_lock(data_dir_lock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    data_dir_lock& operator=(data_dir_lock&& other) noexcept {
        std::swap(fd_, other.fd_);
        return *this;
    }
    data_dir_lock(const data_dir_lock&) = delete;
    ~data_dir_lock();

private:
    explicit data_dir_lock(int fd) noexcept : fd_(fd) {}
    int fd_ = -1;
};

// `parley backup PATH`: a consistent copy of the live SQLite database (the online backup API,
// one read transaction: writers go on), then of the uploads under <data dir>/media, the
// development key if there is one, and a manifest, into PATH (new or empty). PostgreSQL: exit 1
// with the pg_dump advice. Exit status of §10.1.
[[nodiscard]] int backup(const options& opts, const std::string& path);

// `parley restore PATH`: a backup into a data folder that has no database and no uploads, while
// no server holds its lock. Files get the data folder's owner when run as root.
[[nodiscard]] int restore(const options& opts, const std::string& path);

// `parley export --team ID [--out FILE]`: the team, its members, its channels and every message
// of those channels as JSON lines, read in one transaction through the store interface.
[[nodiscard]] int export_team(const options& opts, std::int64_t team, const std::string& out);

}  // namespace parley::app
