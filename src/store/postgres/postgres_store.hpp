// The PostgreSQL backend's factory: a lazily filled pool of libpq connections.
#pragma once

#include "store/store.hpp"

#include <memory>
#include <string>

namespace parley::store::postgres {

// A store on `url` (postgres:// or postgresql://) with up to `pool_size` connections
// (PARLEY_DB_POOL_SIZE, API.md §10.2), opened on first use, so the server may come up later.
// Does not migrate. Throws std::invalid_argument when the URL cannot be parsed.
std::unique_ptr<store> open(const std::string& url, int pool_size = 10);

}  // namespace parley::store::postgres
