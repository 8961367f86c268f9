// One upload as it arrives (API.md §7.1): the multipart body is parsed as a stream and the `file`
// part is written to a temporary file in uploads/ while it arrives, never held in memory; the
// size limit is enforced on the file's bytes as they come; the file is renamed into place only
// when the part is complete. Any failure or an abort removes the partial file.
#pragma once

#include "core/error.hpp"
#include "media/file_store.hpp"
#include "media/multipart.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace parley::media {

// What the upload carried, once its file part is complete.
struct received_upload {
    std::string filename;      // sanitize_filename() of the part's filename
    std::string content_type;  // normalize_content_type() of the part's type
    std::uint64_t size = 0;    // bytes
    std::string extension;     // stored_extension(filename), may be empty
};

// §7.1 errors: 400 {"error": "No file provided", "code": "required"}, 413 (§0.8).
[[nodiscard]] core::error no_file_provided();
[[nodiscard]] core::error file_too_large(std::uint64_t max_file_bytes);

// Not thread-safe: one request feeds it, one call at a time (on any thread).
class upload_receiver final : private multipart_handler {
public:
    // `boundary` from form_data_boundary(); `max_file_bytes`: PARLEY_MAX_UPLOAD_BYTES.
    upload_receiver(const file_store& files, std::string boundary, std::uint64_t max_file_bytes);
    ~upload_receiver() override;  // abort() unless committed

    // The next bytes of the request body. Errors: file_too_large() as soon as the file passes
    // the limit, no_file_provided() for a body that is not valid multipart; a storage failure
    // throws std::system_error. After an error the partial file is gone.
    [[nodiscard]] core::result<void> write(std::string_view bytes);

    // The body is complete: the upload, or no_file_provided() when no `file` part with a
    // non-empty filename (§13.11) arrived whole.
    [[nodiscard]] core::result<received_upload> finish();

    // Moves the received file into place as `stored_name` ("uploads/<uuid4>.<ext>"). Throws
    // std::system_error (the partial file is then removed) or std::logic_error (bad name).
    void commit(std::string_view stored_name);

    // Drops the upload and removes the partial file. Never throws; idempotent.
    void abort() noexcept;

    // Bytes of the file part received so far.
    [[nodiscard]] std::uint64_t received_bytes() const noexcept { return got_.size; }

private:
    bool on_part(const part_head& head) override;
    bool on_data(std::string_view bytes) override;
    bool on_part_end() override;

    const file_store& files_;
    std::uint64_t max_file_bytes_;
    multipart_parser parser_;
    std::unique_ptr<temp_file> temp_;
    received_upload got_;
    bool receiving_ = false;  // inside the chosen file part
    bool complete_ = false;   // the chosen file part ended
    bool too_large_ = false;
};

}  // namespace parley::media
