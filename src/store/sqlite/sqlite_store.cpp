// Builds the shared SQL store on a pool of SQLite connections to one file.
#include "store/sqlite/sqlite_store.hpp"

#include "store/sql_store.hpp"
#include "store/sqlite/sqlite_connection.hpp"
#include "store/sqlite/sqlite_migrations.hpp"

#include <filesystem>
#include <system_error>

namespace parley::store::sqlite {

std::unique_ptr<store> open(const std::string& path, int pool_size) {
    const bool in_memory = path == ":memory:";
    if (!in_memory) {
        const auto parent = std::filesystem::path(path).parent_path();
        std::error_code ec;
        if (!parent.empty()) std::filesystem::create_directories(parent, ec);
        if (ec) throw unavailable("cannot create " + parent.string() + ": " + ec.message());
    }
    // Each ":memory:" connection would be a separate database, so it gets exactly one.
    if (in_memory) pool_size = 1;
    auto writer = std::make_shared<writer_gate>();
    auto s = std::make_unique<sql::sql_store>(
        "sqlite", [path, writer] { return connect(path, writer); }, pool_size, migrations());
    // Open one connection now so that a bad path fails at startup, with its reason.
    static_cast<void>(s->pending_migrations());
    return s;
}

}  // namespace parley::store::sqlite
