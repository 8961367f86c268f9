// Builds the shared SQL store on a pool of SQLite connections to one file.
#include "store/sqlite/sqlite_store.hpp"

#include "store/sql_store.hpp"
#include "store/sqlite/sqlite_migrations.hpp"

#include <array>
#include <filesystem>
#include <system_error>

namespace parley::store::sqlite {

namespace {

namespace fs = std::filesystem;

// Creates the database's folder if missing, private to its owner (mode 0700).
void create_parent(const std::string& path) {
    const auto parent = fs::path(path).parent_path();
    if (parent.empty()) return;
    std::error_code ec;
    const bool existed = fs::exists(parent, ec);
    if (!existed) {
        fs::create_directories(parent, ec);
        if (!ec) fs::permissions(parent, fs::perms::owner_all, fs::perm_options::replace, ec);
    }
    if (ec) throw unavailable("cannot create " + parent.string() + ": " + ec.message());
}

// What a connection runs with: the settings are per connection, so they are read back rather
// than assumed.
std::string describe(sql::connection& c) {
    static constexpr std::array<const char*, 4> levels = {"OFF", "NORMAL", "FULL", "EXTRA"};
    const auto mode = c.query("PRAGMA journal_mode", {});
    const auto sync = c.query("PRAGMA synchronous", {});
    const auto level = sync.empty() ? -1 : sync[0].get_int(0);
    return "journal_mode=" + (mode.empty() ? std::string("?") : mode[0].get_text(0)) +
           " synchronous=" +
           (level >= 0 && level < 4 ? levels[static_cast<std::size_t>(level)] : "?");
}

}  // namespace

std::unique_ptr<store> open(const std::string& path, int pool_size, synchronous sync,
                            std::string* settings) {
    const bool in_memory = path == ":memory:";
    if (!in_memory) create_parent(path);
    // Each ":memory:" connection would be a separate database, so it gets exactly one.
    if (in_memory) pool_size = 1;
    auto writer = std::make_shared<writer_gate>();
    auto factory = [path, writer, sync] { return connect(path, writer, sync); };
    if (settings != nullptr) *settings = describe(*factory());
    auto s = std::make_unique<sql::sql_store>("sqlite", factory, pool_size, migrations());
    // Open one connection now so that a bad path fails at startup, with its reason.
    static_cast<void>(s->pending_migrations());
    return s;
}

}  // namespace parley::store::sqlite
