// The one mapping of failures at the edges: exception → core::error, logged once.
#include "api/failures.hpp"

#include <spdlog/spdlog.h>

#include <system_error>

namespace parley::api {

core::error server_error() {
    return core::detail(core::errc::server_error, std::string(server_error_text));
}

core::error service_unavailable() {
    return core::detail(core::errc::service_unavailable, std::string(service_unavailable_text));
}

core::error error_of_failure(std::exception_ptr failure, std::string_view where) noexcept {
    try {
        try {
            if (!failure) {
                spdlog::error("failure without an exception on {}", where);
                return server_error();
            }
            std::rethrow_exception(failure);
        } catch (const core::unavailable& e) {
            spdlog::warn("dependency unavailable on {}: {}", where, e.what());
            return service_unavailable();
        } catch (const std::system_error& e) {
            spdlog::error("storage failure on {}: {}", where, e.what());
            return service_unavailable();
        } catch (const std::exception& e) {
            spdlog::error("unhandled exception on {}: {}", where, e.what());
            return server_error();
        } catch (...) {
            spdlog::error("unhandled exception on {}", where);
            return server_error();
        }
    } catch (...) {
        // Logging or building the error failed (out of memory): the bare code still answers.
        core::error e;
        e.code = core::errc::server_error;
        return e;
    }
}

core::error error_of_current_exception(std::string_view where) noexcept {
    return error_of_failure(std::current_exception(), where);
}

int status_of_failure(const core::error& e) noexcept {
    return e.code == core::errc::service_unavailable ? 503 : 500;
}

}  // namespace parley::api
