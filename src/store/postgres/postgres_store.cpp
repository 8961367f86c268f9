// Builds the shared SQL store on a pool of libpq connections.
#include "store/postgres/postgres_store.hpp"

#include "store/postgres/postgres_connection.hpp"
#include "store/postgres/postgres_migrations.hpp"
#include "store/sql_store.hpp"

#include <libpq-fe.h>

#include <stdexcept>

namespace parley::store::postgres {

std::unique_ptr<store> open(const std::string& url, int pool_size) {
    // Parse now so that a malformed URL is a startup error rather than a 503 on every request.
    // The message is libpq's and never echoes the URL, which may hold a password.
    char* err = nullptr;
    PQconninfoOption* options = PQconninfoParse(url.c_str(), &err);
    if (options == nullptr) {
        std::string msg = err ? err : "out of memory";
        PQfreemem(err);
        throw std::invalid_argument("invalid PostgreSQL URL: " + msg);
    }
    PQconninfoFree(options);
    return std::make_unique<sql::sql_store>(
        "postgres", [url] { return connect_pooled(url); }, pool_size, migrations());
}

}  // namespace parley::store::postgres
