// Files (API.md §7.1–§7.3, §1.4): recording uploads, the download access rule, opening files
// for media URLs, and the orphan sweep. The bytes live in media::file_store; rows in the store.
#pragma once

#include "config/settings.hpp"
#include "core/error.hpp"
#include "core/time.hpp"
#include "media/file_store.hpp"
#include "media/upload.hpp"
#include "model/records.hpp"
#include "store/store.hpp"

#include <functional>
#include <string_view>

namespace parley::chat {

// A stored file opened for sending: its row and the open descriptor (unlinking the file later
// does not disturb a response in flight).
struct file_download {
    model::attachment file;
    media::open_file body;
};

// §7.2: 404 {"error": "File not found", "code": "not_found"}.
[[nodiscard]] core::error file_not_found();

class file_service {
public:
    file_service(store::store& store, const media::file_store& files,
                 const config::media_settings& settings,
                 std::function<core::timestamp()> clock = core::now_us);

    // POST /api/chat/upload-file/ (§7.1), after the body arrived whole: moves the upload into
    // place as uploads/<uuid4>.<ext> and records it as the uploader's. If the row cannot be
    // written the file is removed again and the exception propagates (503).
    [[nodiscard]] model::attachment save(const model::user& uploader,
                                         media::upload_receiver& upload,
                                         const media::received_upload& got);

    // GET /api/chat/{file_id}/download/ (§7.2, §9): the uploader, staff, and anyone who can see
    // a message carrying the file; file_not_found() otherwise, and when the file is missing.
    [[nodiscard]] core::result<file_download> open_download(const model::user& caller,
                                                            model::id file);

    // GET /media/uploads/<name> (§7.3) once the signature is checked: the file of a stored name,
    // or 404 detail ("Not found.") when it no longer exists.
    [[nodiscard]] core::result<file_download> open_media(std::string_view stored_name);

    // §1.4, PARLEY_ORPHAN_FILE_TTL: deletes the rows of attachments linked to no message for
    // longer than the TTL, then their files; also temporary files a crash left behind. Returns
    // the number of stored files removed. Safe to run from any one thread at a time.
    std::size_t sweep_orphans();

    // Where uploads are received (media::upload_receiver writes its temporary file there).
    [[nodiscard]] const media::file_store& storage() const noexcept { return files_; }

private:
    store::store& store_;
    const media::file_store& files_;
    const config::media_settings& settings_;
    std::function<core::timestamp()> clock_;
};

}  // namespace parley::chat
