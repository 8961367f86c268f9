// The PostgreSQL (libpq) driver behind sql::connection.
#pragma once

#include "store/sql.hpp"

#include <memory>
#include <string>

namespace parley::store::postgres {

// Connects with a ~2 s timeout (the URL may override connect_timeout). Accepts postgres:// and
// postgresql:// URLs and key=value strings. Throws store::unavailable when the server cannot be
// reached or refuses the login.
std::unique_ptr<sql::connection> connect(const std::string& url);

// The same for the store's pool: the session defaults to read-only, so that read transactions
// run without BEGIN/COMMIT under READ COMMITTED (a write there is still refused), and write
// transactions send their BEGIN with their first statement (one round trip fewer each).
std::unique_ptr<sql::connection> connect_pooled(const std::string& url);

}  // namespace parley::store::postgres
