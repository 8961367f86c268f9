// The one mapping of escaped exceptions to the contract's errors (api/failures, API.md §0.6).
#include "api/failures.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace parley::api {
namespace {

template <class E>
core::error error_of(E thrown) {
    try {
        throw thrown;
    } catch (...) {
        return error_of_current_exception("GET /api/test/");
    }
}

TEST(Failures, DependencyDownIs503WithTheContractText) {
    const auto e = error_of(core::unavailable("database connection refused"));
    EXPECT_EQ(e.code, core::errc::service_unavailable);
    EXPECT_EQ(e.message, "Service temporarily unavailable.");
    EXPECT_EQ(e.body, core::shape::detail);
    EXPECT_EQ(status_of_failure(e), 503);
}

TEST(Failures, StorageFailureIs503) {
    const auto e = error_of(
        std::system_error(std::make_error_code(std::errc::no_space_on_device), "write upload"));
    EXPECT_EQ(e.code, core::errc::service_unavailable);
    const auto fs = error_of(
        std::filesystem::filesystem_error("rename", std::make_error_code(std::errc::io_error)));
    EXPECT_EQ(fs.code, core::errc::service_unavailable);
}

TEST(Failures, AnythingElseIs500WithTheContractText) {
    for (const auto& e :
         {error_of(std::runtime_error("boom")), error_of(std::logic_error("bug")), error_of(42)}) {
        EXPECT_EQ(e.code, core::errc::server_error);
        EXPECT_EQ(e.message, "A server error occurred.");
        EXPECT_EQ(e.body, core::shape::detail);
        EXPECT_EQ(status_of_failure(e), 500);
    }
}

TEST(Failures, AnExceptionPointerMapsLikeTheCurrentException) {
    EXPECT_EQ(error_of_failure(std::make_exception_ptr(core::unavailable("redis")), "frame").code,
              core::errc::service_unavailable);
    EXPECT_EQ(error_of_failure(std::make_exception_ptr(std::runtime_error("x")), "frame").code,
              core::errc::server_error);
    EXPECT_EQ(error_of_failure(nullptr, "frame").code, core::errc::server_error);
}

TEST(Failures, BuildersCarryTheTwoTexts) {
    EXPECT_EQ(server_error().message, server_error_text);
    EXPECT_EQ(service_unavailable().message, service_unavailable_text);
    EXPECT_EQ(service_unavailable().code, core::errc::service_unavailable);
}

}  // namespace
}  // namespace parley::api
