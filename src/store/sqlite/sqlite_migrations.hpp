// The SQLite backend's numbered schema migrations.
#pragma once

#include "store/sql.hpp"

#include <vector>

namespace parley::store::sqlite {

// Ascending by version; the SQL strings have static storage.
std::vector<sql::migration> migrations();

}  // namespace parley::store::sqlite
