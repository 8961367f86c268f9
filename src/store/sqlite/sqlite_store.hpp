// The SQLite backend's factory: one database file, a small pool of connections.
#pragma once

#include "store/sqlite/sqlite_connection.hpp"
#include "store/store.hpp"

#include <memory>
#include <string>

namespace parley::store::sqlite {

// Opens (creating the file, mode 0600, and its parent directory, mode 0700, if missing) a store on
// `path` with up to `pool_size` connections; ":memory:" gives a private in-memory database with
// one connection. With `settings`, stores there what a new connection runs with, read back from
// one ("journal_mode=wal synchronous=FULL"). Does not migrate. Throws store::unavailable when
// the file cannot be opened.
std::unique_ptr<store> open(const std::string& path, int pool_size = 4,
                            synchronous sync = synchronous::full, std::string* settings = nullptr);

}  // namespace parley::store::sqlite
