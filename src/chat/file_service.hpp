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

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>

namespace parley::chat {

// A stored file opened for sending: its row and the open descriptor (unlinking the file later
// does not disturb a response in flight).
struct file_download {
    model::attachment file;
    media::open_file body;
};

// The refusals of the file use cases, as problems (api/problems.cpp words and shapes them).
// §7.2: the file is not the caller's to download, or is gone (REST: 404 `error` shape).
[[nodiscard]] core::error file_not_found();
// §7.1: the uploader's stored files would pass PARLEY_UPLOAD_QUOTA_BYTES (REST: 413 detail).
[[nodiscard]] core::error upload_quota_exceeded(std::uint64_t quota_bytes);
// §7.1: storing the upload would leave less than PARLEY_MIN_FREE_DISK_BYTES free (507 detail).
[[nodiscard]] core::error insufficient_storage();

class file_service;

// One upload's claim on its uploader's quota and on the disk (§7.1), from the head to the row.
// The bytes received so far count as the uploader's (with those of their other uploads in
// flight on this instance) until the upload ends; the destructor gives them back.
class upload_budget {
public:
    upload_budget(file_service& owner, model::id user, std::uint64_t stored_bytes)
        : owner_(owner), user_(user), stored_bytes_(stored_bytes) {}
    ~upload_budget();
    upload_budget(const upload_budget&) = delete;
    upload_budget& operator=(const upload_budget&) = delete;

    // The file has `received_bytes` so far: an error once the quota or the disk reserve is passed.
    [[nodiscard]] core::result<void> check(std::uint64_t received_bytes);

private:
    file_service& owner_;
    model::id user_;
    std::uint64_t stored_bytes_;  // the uploader's stored files when the upload began
    std::uint64_t counted_ = 0;   // this upload's bytes in the in-flight table
};

class file_service {
public:
    file_service(store::store& store, const media::file_store& files,
                 const config::media_settings& settings,
                 std::function<core::timestamp()> clock = core::now_us);

    // POST /api/chat/upload-file/ (§7.1), before the body: refuses an upload whose declared
    // body (Content-Length, when sent) would pass the uploader's quota or the disk reserve.
    [[nodiscard]] core::result<std::unique_ptr<upload_budget>> begin_upload(
        const model::user& uploader, std::optional<std::uint64_t> declared_bytes);

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
    // or not_found when it no longer exists.
    [[nodiscard]] core::result<file_download> open_media(std::string_view stored_name);

    // §1.4, PARLEY_ORPHAN_FILE_TTL: deletes the rows of attachments linked to no message for
    // longer than the TTL, then their files; also temporary files a crash left behind. Returns
    // the number of stored files removed. Safe to run from any one thread at a time.
    std::size_t sweep_orphans();

    // Where uploads are received (media::upload_receiver writes its temporary file there).
    [[nodiscard]] const media::file_store& storage() const noexcept { return files_; }

private:
    friend class upload_budget;
    // Free bytes on the uploads' file system (statvfs); max when it cannot be read.
    [[nodiscard]] std::uint64_t free_disk_bytes() const;
    // Adds `delta` bytes to `user`'s uploads in flight; returns the new total.
    std::uint64_t add_in_flight(model::id user, std::int64_t delta);

    store::store& store_;
    const media::file_store& files_;
    const config::media_settings& settings_;
    std::function<core::timestamp()> clock_;
    std::mutex in_flight_mutex_;
    std::unordered_map<model::id, std::uint64_t> in_flight_;  // bytes of uploads under way
};

}  // namespace parley::chat
