// Steps shared by the message use cases (private to chat/message_*.cpp).
#pragma once

#include "core/error.hpp"
#include "media/signer.hpp"
#include "model/records.hpp"
#include "store/store.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace parley::chat::message_steps {

inline constexpr std::size_t max_files = 10;
inline constexpr std::size_t max_forward_targets = 10;
inline constexpr std::size_t max_edit_history = 100;

[[nodiscard]] model::user_ref ref_of(const model::user& u);

// The message when the caller can see it (§1.2), else 404 (field message_id for the WS door).
[[nodiscard]] core::result<model::message> visible_message(store::tx& tx, const model::user& caller,
                                                           model::id id);

// §1.5, §7.3: attachments carry a relative signed media URL made when the message is produced.
void sign_attachments(model::message& m, const media::url_signer* signer);

}  // namespace parley::chat::message_steps
