# The headers most translation units parse (PARLEY_PCH, docs/ARCHITECTURE.md "Build"): spdlog
# with fmt, Boost.JSON and Boost.System take about as long to parse as a small module's own code.
set(PARLEY_PCH_HEADERS
  <algorithm> <chrono> <functional> <map> <memory> <mutex> <optional> <string> <string_view>
  <unordered_map> <vector>
  <boost/system/result.hpp> <boost/json/value.hpp> <boost/json/parse.hpp>
  <boost/json/serialize.hpp> <spdlog/spdlog.h>)

# Modules compiled with other flags than core's, which therefore precompile their own copy: net
# (BOOST_ASIO_NO_DEPRECATED, and the Beast headers below) and fanout_redis (hiredis brings
# -D_FILE_OFFSET_BITS=64, which changes the system headers). GCC refuses a precompiled header made
# with other macros (a -Winvalid-pch warning, then plain parsing): correct, only slower.
set(PARLEY_PCH_OWN net fanout_redis)

# parley_pch(TARGET [HEADERS...]): with PARLEY_PCH, precompile the common headers (and these).
function(parley_pch target)
  if(PARLEY_PCH)
    target_precompile_headers(${target} PRIVATE ${PARLEY_PCH_HEADERS} ${ARGN})
  endif()
endfunction()

# parley_module(NAME SOURCES ... DEPS ...): one static library per module (docs/ARCHITECTURE.md).
function(parley_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS" ${ARGN})
  add_library(parley_${name} STATIC ${M_SOURCES})
  target_include_directories(parley_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(parley_${name} PUBLIC ${M_DEPS})
  # core precompiles the common headers once; the modules with the same flags reuse that file.
  if(name STREQUAL "core" OR name IN_LIST PARLEY_PCH_OWN)
    parley_pch(parley_${name})
  elseif(PARLEY_PCH)
    target_precompile_headers(parley_${name} REUSE_FROM parley_core)
  endif()
endfunction()

# parley_test(NAME SOURCES ... DEPS ...): one GoogleTest executable per module, run by ctest.
function(parley_test name)
  if(NOT PARLEY_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name}_test ${T_SOURCES})
  target_link_libraries(${name}_test PRIVATE ${T_DEPS} GTest::gtest_main)
  gtest_discover_tests(${name}_test DISCOVERY_TIMEOUT 60)
endfunction()

# With PARLEY_PCH, net/ also precompiles the Boost.Asio and Beast headers its files include: each
# of its translation units otherwise parses them again (called from the top-level CMakeLists.txt
# after the modules, so src/net/CMakeLists.txt stays about net/ only).
function(parley_pch_net)
  if(PARLEY_PCH AND TARGET parley_net)
    target_precompile_headers(parley_net PRIVATE  # after the common ones of parley_module
      <boost/asio/any_completion_handler.hpp> <boost/asio/as_tuple.hpp>
      <boost/asio/associated_executor.hpp> <boost/asio/async_result.hpp>
      <boost/asio/bind_executor.hpp> <boost/asio/buffer.hpp> <boost/asio/co_spawn.hpp>
      <boost/asio/executor_work_guard.hpp> <boost/asio/io_context.hpp> <boost/asio/ip/tcp.hpp>
      <boost/asio/posix/stream_descriptor.hpp> <boost/asio/post.hpp> <boost/asio/signal_set.hpp>
      <boost/asio/ssl.hpp> <boost/asio/steady_timer.hpp> <boost/asio/strand.hpp>
      <boost/asio/this_coro.hpp> <boost/asio/thread_pool.hpp> <boost/asio/use_awaitable.hpp>
      <boost/asio/write.hpp> <boost/beast/core/buffers_to_string.hpp> <boost/beast/core/file.hpp>
      <boost/beast/core/flat_buffer.hpp> <boost/beast/core/role.hpp> <boost/beast/core/tcp_stream.hpp>
      <boost/beast/http/buffer_body.hpp> <boost/beast/http/empty_body.hpp>
      <boost/beast/http/error.hpp> <boost/beast/http/file_body.hpp> <boost/beast/http/message.hpp>
      <boost/beast/http/read.hpp> <boost/beast/http/string_body.hpp> <boost/beast/http/write.hpp>
      <boost/beast/ssl/ssl_stream.hpp> <boost/beast/websocket/stream.hpp>
      <boost/beast/websocket/teardown.hpp>
    )
  endif()
endfunction()
