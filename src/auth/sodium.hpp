// Internal to auth/: one-time libsodium initialization, called by every entry point that needs it.
#pragma once

namespace parley::auth::detail {

// Runs sodium_init() once per process (thread-safe); throws std::runtime_error if it fails.
void ensure_sodium();

}  // namespace parley::auth::detail
