// `parley backup` and `parley restore` (API.md §10.1) for the SQLite backend, and the data folder
// lock that `serve` holds. PostgreSQL databases are pg_dump's job (README, "Backup and restore").
#include "app/data_commands.hpp"

#include "core/utc_text.hpp"

#include <sqlite3.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace parley::app {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view sqlite_prefix = "sqlite:///";
constexpr const char* lock_name = "parley.lock";
constexpr const char* manifest_name = "parley-backup.json";
constexpr const char* db_name = "parley.sqlite3";  // the database's name inside a backup
constexpr const char* db_tmp_name = "parley.sqlite3.tmp";
constexpr const char* media_name = "media";
constexpr const char* key_name = "secret_key";
constexpr int busy_timeout_ms = 10'000;
constexpr auto backup_deadline = std::chrono::minutes(5);  // retries while the source is locked

// The database file of a sqlite:/// URL; nullopt for PostgreSQL.
std::optional<fs::path> sqlite_file(const config::settings& s) {
    if (!s.database_url.starts_with(sqlite_prefix)) return std::nullopt;
    return fs::path(s.database_url.substr(sqlite_prefix.size()));
}

int fail(const std::string& message) {
    std::fprintf(stderr, "Error: %s\n", message.c_str());
    return 1;
}

int postgres_refusal(const char* command) {
    return fail(std::string("DATABASE_URL is PostgreSQL: `parley ") + command +
                "` handles the SQLite backend only. Use pg_dump / pg_restore for the database and "
                "copy <data dir>/media/ (README, \"Backup and restore\").");
}

struct sqlite_handle {
    sqlite3* db = nullptr;
    sqlite_handle() = default;
    sqlite_handle(const sqlite_handle&) = delete;
    sqlite_handle& operator=(const sqlite_handle&) = delete;
    ~sqlite_handle() { sqlite3_close_v2(db); }
};

bool open_db(const fs::path& path, int flags, sqlite_handle& h, std::string& error) {
    if (sqlite3_open_v2(path.c_str(), &h.db, flags, nullptr) != SQLITE_OK) {
        error =
            "cannot open " + path.string() + ": " + (h.db ? sqlite3_errmsg(h.db) : "out of memory");
        return false;
    }
    sqlite3_busy_timeout(h.db, busy_timeout_ms);
    return true;
}

// The first column of the first row of `sql`, as text ("" when there is no row).
std::optional<std::string> scalar(sqlite3* db, const char* sql, std::string& error) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) {
        error = sqlite3_errmsg(db);
        return std::nullopt;
    }
    std::string out;
    const int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_text(st, 0))
        out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        error = sqlite3_errmsg(db);
        return std::nullopt;
    }
    return out;
}

// Copies the live database `from` into the new file `to` with the online backup API. One step
// copies every page inside one read transaction: in WAL mode the server's writers go on, and the
// copy is the database as of that transaction's start.
bool online_copy(const fs::path& from, const fs::path& to, std::string& error) {
    sqlite_handle src, dst;
    if (!fs::exists(from)) {
        error = "no database at " + from.string();
        return false;
    }
    if (!open_db(from, SQLITE_OPEN_READONLY, src, error)) return false;
    if (!open_db(to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, dst, error)) return false;
    sqlite3_backup* b = sqlite3_backup_init(dst.db, "main", src.db, "main");
    if (b == nullptr) {
        error = std::string("backup: ") + sqlite3_errmsg(dst.db);
        return false;
    }
    const auto deadline = std::chrono::steady_clock::now() + backup_deadline;
    int rc = SQLITE_OK;
    do {
        rc = sqlite3_backup_step(b, -1);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } while ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) &&
             std::chrono::steady_clock::now() < deadline);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) {
        error = std::string("backup: ") + sqlite3_errstr(rc);
        return false;
    }
    // A self-contained file: no -wal beside it (restore turns WAL back on at the first start).
    return scalar(dst.db, "PRAGMA journal_mode=DELETE", error).has_value();
}

struct tree_stats {
    std::uint64_t files = 0;
    std::uint64_t bytes = 0;
};

// Copies the regular files under `from` into `to`, keeping the tree (directories 0700). Skips
// uploads in progress (.upload-*.part) and files that vanish meanwhile (the orphan sweep).
// `made` receives every path created.
bool copy_tree(const fs::path& from, const fs::path& to, tree_stats& st,
               std::vector<fs::path>& made, std::string& error) {
    std::error_code ec;
    if (!fs::exists(from, ec)) return true;
    fs::recursive_directory_iterator it(from, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
        const fs::path rel = fs::relative(it->path(), from);
        const fs::path target = to / rel;
        if (it->is_directory(ec)) {
            if (fs::create_directories(target, ec)) made.push_back(target);
            continue;
        }
        if (!it->is_regular_file(ec)) continue;
        const std::string name = it->path().filename().string();
        if (name.starts_with(".upload-")) continue;
        fs::create_directories(target.parent_path(), ec);
        std::error_code copy_ec;
        if (!fs::copy_file(it->path(), target, fs::copy_options::none, copy_ec)) {
            if (copy_ec == std::errc::no_such_file_or_directory) continue;
            error = "cannot copy " + it->path().string() + ": " + copy_ec.message();
            return false;
        }
        made.push_back(target);
        ++st.files;
        st.bytes += fs::file_size(target, copy_ec);
    }
    if (ec) {
        error = "cannot read " + from.string() + ": " + ec.message();
        return false;
    }
    return true;
}

bool has_regular_files(const fs::path& dir) {
    std::error_code ec;
    if (!fs::exists(dir, ec)) return false;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file(ec)) return true;
    return false;
}

// Writes `data` to `path` with mode 0600 and fsyncs it.
bool write_private(const fs::path& path, const std::string& data, std::string& error) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        error = "cannot create " + path.string() + ": " + std::strerror(errno);
        return false;
    }
    const bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) &&
                    ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) error = "cannot write " + path.string();
    return ok;
}

bool fsync_file(const fs::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

// A read-only connection to a WAL database of a stopped server creates its -wal and -shm files;
// run as root, they would then be root's and the service user could not open the database.
void give_wal_files_to_db_owner(const fs::path& db) {
    struct stat st {};
    if (::geteuid() != 0 || ::stat(db.c_str(), &st) != 0) return;
    for (const char* suffix : {"-wal", "-shm"})
        (void)::lchown((db.string() + suffix).c_str(), st.st_uid, st.st_gid);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// `dir` exists and is empty, or can be created (mode 0700: a backup holds the key and e-mails).
bool prepare_backup_dir(const fs::path& dir, std::string& error) {
    std::error_code ec;
    if (fs::exists(dir, ec)) {
        if (!fs::is_directory(dir, ec) || !fs::is_empty(dir, ec)) {
            error = dir.string() + " exists and is not an empty folder: choose a new path";
            return false;
        }
    } else if (!fs::create_directories(dir, ec)) {
        error = "cannot create " + dir.string() + ": " + ec.message();
        return false;
    }
    fs::permissions(dir, fs::perms::owner_all, ec);
    return true;
}

}  // namespace

std::optional<data_dir_lock> data_dir_lock::acquire(const std::string& data_dir, mode m,
                                                    std::string& error) {
    std::error_code ec;
    fs::create_directories(data_dir, ec);
    const fs::path path = fs::path(data_dir) / lock_name;
    // Read-only and world-readable: flock needs no write access, so a lock file that root made
    // (a restore run as root) does not keep the service user's server from starting.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        error = "cannot open " + path.string() + ": " + std::strerror(errno);
        return std::nullopt;
    }
    const int op = (m == mode::shared ? LOCK_SH : LOCK_EX) | LOCK_NB;
    if (::flock(fd, op) != 0) {
        const int err = errno;
        ::close(fd);
        error = err == EWOULDBLOCK
                    ? (m == mode::shared ? "a restore is in progress in " + data_dir +
                                               " (it holds " + path.string() + ")"
                                         : "a parley server is running on " + data_dir +
                                               " (it holds " + path.string() + "): stop it first")
                    : "cannot lock " + path.string() + ": " + std::strerror(err);
        return std::nullopt;
    }
    return data_dir_lock(fd);
}

data_dir_lock::~data_dir_lock() {
    if (fd_ >= 0) ::close(fd_);  // releases the flock
}

int backup(const options& opts, const std::string& path) {
    const auto start = std::chrono::steady_clock::now();
    auto s = load_settings(opts);
    if (!s) return 1;
    const auto db = sqlite_file(*s);
    if (!db) return postgres_refusal("backup");
    const fs::path dir(path);
    std::string error;
    if (!prepare_backup_dir(dir, error)) return fail(error);

    // The database first, then the files: a row of the copy names a file that existed when the
    // copy's transaction began (uploads are written before their row, removed after it).
    const fs::path tmp = dir / db_tmp_name;
    const bool copied = online_copy(*db, tmp, error);
    give_wal_files_to_db_owner(*db);
    if (!copied) {
        fs::remove(tmp);
        return fail(error);
    }
    std::string messages = "?";
    {
        sqlite_handle copy;
        if (open_db(tmp, SQLITE_OPEN_READONLY, copy, error))
            messages = scalar(copy.db, "SELECT count(*) FROM messages", error).value_or("?");
    }
    ::chmod(tmp.c_str(), 0600);
    fs::rename(tmp, dir / db_name);
    const double db_seconds = seconds_since(start);

    tree_stats media;
    std::vector<fs::path> made;
    if (!copy_tree(fs::path(s->data_dir) / media_name, dir / media_name, media, made, error))
        return fail(error);
    std::error_code ec;
    const fs::path key = fs::path(s->data_dir) / key_name;
    if (fs::exists(key, ec)) {
        fs::copy_file(key, dir / key_name, ec);
        if (ec) return fail("cannot copy " + key.string() + ": " + ec.message());
        ::chmod((dir / key_name).c_str(), 0600);
    }
    std::ostringstream manifest;  // (not a chain of string +: GCC 12 warns falsely on those)
    manifest << "{\"format\": 1, \"parley_version\": \"" << PARLEY_VERSION
             << "\", \"created_at\": \"" << parley::core::utc_now_text()
             << "\", \"backend\": \"sqlite\", \"database\": \"" << db_name
             << "\", \"messages\": " << messages << "}\n";
    if (!write_private(dir / manifest_name, manifest.str(), error)) return fail(error);
    std::printf(
        "Backed up %s messages (database in %.1f s) and %llu files (%llu bytes) to %s in "
        "%.1f s.\n",
        messages.c_str(), db_seconds, static_cast<unsigned long long>(media.files),
        static_cast<unsigned long long>(media.bytes), dir.c_str(), seconds_since(start));
    return 0;
}

namespace {

// Refuses a data folder that has a database or uploads; returns the reason.
std::optional<std::string> occupied(const fs::path& db, const fs::path& data_dir) {
    std::error_code ec;
    const fs::path wal = db.string() + "-wal";
    if ((fs::exists(db, ec) && fs::file_size(db, ec) > 0) || fs::exists(wal, ec))
        return db.string() +
               " already exists: restore only into a data folder without a "
               "database (move it aside first)";
    if (has_regular_files(data_dir / media_name))
        return (data_dir / media_name).string() +
               " already holds files: restore only into a "
               "data folder without uploads";
    return std::nullopt;
}

// Copies the backup's database to `db` (through a temporary name, fsynced, then renamed).
bool install_database(const fs::path& from, const fs::path& db, std::string& error) {
    sqlite_handle check;
    if (!open_db(from, SQLITE_OPEN_READONLY, check, error)) return false;
    const auto verdict = scalar(check.db, "PRAGMA quick_check", error);
    if (!verdict || *verdict != "ok") {
        error = from.string() + " is damaged: " + (verdict ? *verdict : error);
        return false;
    }
    std::error_code ec;
    fs::create_directories(db.parent_path().empty() ? fs::path(".") : db.parent_path(), ec);
    fs::remove(db.string() + "-shm", ec);  // a stale index of a database that is gone
    const fs::path tmp = db.string() + ".restore-tmp";
    fs::copy_file(from, tmp, fs::copy_options::overwrite_existing, ec);
    if (ec || !fsync_file(tmp)) {
        error = "cannot write " + tmp.string() + (ec ? ": " + ec.message() : "");
        fs::remove(tmp, ec);
        return false;
    }
    ::chmod(tmp.c_str(), 0600);
    fs::rename(tmp, db, ec);
    if (ec) error = "cannot create " + db.string() + ": " + ec.message();
    return !ec;
}

// Run as root (an operator restoring a packaged server): the files get the folder's owner, so
// the service user can open them.
void adopt_owner(const fs::path& data_dir, const std::vector<fs::path>& paths) {
    struct stat st {};
    if (::geteuid() != 0 || ::stat(data_dir.c_str(), &st) != 0) return;
    for (const auto& p : paths) (void)::lchown(p.c_str(), st.st_uid, st.st_gid);
}

}  // namespace

int restore(const options& opts, const std::string& path) {
    const auto start = std::chrono::steady_clock::now();
    auto s = load_settings(opts);
    if (!s) return 1;
    const auto db = sqlite_file(*s);
    if (!db) return postgres_refusal("restore");
    const fs::path from(path);
    std::error_code ec;
    if (!fs::exists(from / manifest_name, ec) || !fs::exists(from / db_name, ec))
        return fail(from.string() + " is not a parley backup (no " + manifest_name + " and " +
                    db_name + ")");
    const fs::path data_dir(s->data_dir);
    std::string error;
    auto lock = data_dir_lock::acquire(s->data_dir, data_dir_lock::mode::exclusive, error);
    if (!lock) return fail(error + "; restore refuses to replace a running server's data");
    if (auto why = occupied(*db, data_dir)) return fail(*why);

    std::vector<fs::path> made{data_dir / lock_name};
    if (!install_database(from / db_name, *db, error)) return fail(error);
    made.push_back(*db);
    tree_stats media;
    if (!copy_tree(from / media_name, data_dir / media_name, media, made, error))
        return fail(error);
    if (fs::exists(data_dir / media_name, ec)) made.push_back(data_dir / media_name);
    const fs::path key = data_dir / key_name;
    if (fs::exists(from / key_name, ec)) {
        if (!fs::exists(key, ec)) {
            fs::copy_file(from / key_name, key, ec);
            ::chmod(key.c_str(), 0600);
            made.push_back(key);
        } else {
            std::fprintf(stderr, "Warning: %s exists and was kept; the backup's key is in %s\n",
                         key.c_str(), (from / key_name).c_str());
        }
    }
    adopt_owner(data_dir, made);
    std::printf("Restored %s and %llu files (%llu bytes) into %s in %.1f s.\n", db->c_str(),
                static_cast<unsigned long long>(media.files),
                static_cast<unsigned long long>(media.bytes), data_dir.c_str(),
                seconds_since(start));
    return 0;
}

}  // namespace parley::app
