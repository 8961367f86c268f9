// The upload receiver: multipart events → one temporary file, with the §0.8 size limit.
#include "media/upload.hpp"

#include "media/filenames.hpp"

#include <stdexcept>

namespace parley::media {

core::error no_file_provided() {
    return core::error_shape(core::errc::required, "No file provided");
}

core::error file_too_large(std::uint64_t max_file_bytes) {
    return core::detail(
        core::errc::payload_too_large,
        "File too large. The limit is " + std::to_string(max_file_bytes) + " bytes.");
}

upload_receiver::upload_receiver(const file_store& files, std::string boundary,
                                 std::uint64_t max_file_bytes)
    : files_(files), max_file_bytes_(max_file_bytes), parser_(std::move(boundary), *this) {}

upload_receiver::~upload_receiver() {
    abort();
}

core::result<void> upload_receiver::write(std::string_view bytes) {
    if (too_large_) return file_too_large(max_file_bytes_);
    const auto status = parser_.feed(bytes);
    if (too_large_) {
        abort();
        return file_too_large(max_file_bytes_);
    }
    if (status == multipart_parser::status::malformed) {
        abort();
        return no_file_provided();
    }
    return {};
}

core::result<received_upload> upload_receiver::finish() {
    if (too_large_) return file_too_large(max_file_bytes_);
    parser_.finish();  // a body cut short is malformed; a finished file part is enough
    if (!complete_ || !temp_) {
        abort();
        return no_file_provided();
    }
    return got_;
}

void upload_receiver::commit(std::string_view stored_name) {
    if (!complete_ || !temp_) throw std::logic_error("commit without a complete upload");
    const auto path = files_.path_of(stored_name);
    if (!path) throw std::logic_error("invalid stored name");
    temp_->commit(*path);
    temp_.reset();
}

void upload_receiver::abort() noexcept {
    if (temp_) temp_->discard();
    temp_.reset();
    receiving_ = false;
    complete_ = false;
}

bool upload_receiver::on_part(const part_head& head) {
    // The first `file` part that is a file (§7.1, §13.11: a non-empty filename); other parts
    // are read past and dropped.
    if (temp_ || head.name != "file" || !head.filename || head.filename->empty()) return true;
    temp_ = files_.create_temp();  // throws std::system_error through feed()
    got_.filename = sanitize_filename(*head.filename);
    got_.content_type = normalize_content_type(head.content_type);
    got_.extension = stored_extension(got_.filename);
    got_.size = 0;
    receiving_ = true;
    return true;
}

bool upload_receiver::on_data(std::string_view bytes) {
    if (!receiving_) return true;
    if (bytes.size() > max_file_bytes_ - got_.size) {
        too_large_ = true;
        return false;
    }
    got_.size += bytes.size();
    temp_->write(bytes);
    return true;
}

bool upload_receiver::on_part_end() {
    if (!receiving_) return true;
    receiving_ = false;
    complete_ = true;
    return false;  // the file is all we need: the rest of the body is read and ignored
}

}  // namespace parley::media
