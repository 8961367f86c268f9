// The message service's construction and the steps its use cases share.
#include "chat/message_service.hpp"

#include "chat/field_problems.hpp"
#include "chat/message_steps.hpp"

#include <utility>

namespace parley::chat {

void throw_exception_from_error(const forward_error& e, const boost::source_location& loc) {
    core::throw_exception_from_error(e.error, loc);
}

namespace message_steps {

model::user_ref ref_of(const model::user& u) {
    return {u.id, u.username, u.email};
}

// The message when the caller can see it (§1.2), else 404 (field message_id for the WS door).
core::result<model::message> visible_message(store::tx& tx, const model::user& caller,
                                             model::id id) {
    auto m = tx.message_by_id(id);
    if (!m) return not_found_at("message_id");
    if (!caller.staff() &&
        !(tx.is_team_member(m->team, caller.id) && tx.is_channel_member(m->channel, caller.id)))
        return not_found_at("message_id");
    return std::move(*m);
}

void sign_attachments(model::message& m, const media::url_signer* signer) {
    for (auto& a : m.attachments)
        a.url = signer ? signer->signed_url(a.stored_name) : "/media/" + a.stored_name;
}

}  // namespace message_steps

message_service::message_service(store::store& store, event_sink& events, rate_limiter& limiter,
                                 idempotency_store& dedupe, const config::limits_settings& limits,
                                 const media::url_signer* media_urls,
                                 std::function<core::timestamp()> clock)
    : store_(store),
      events_(events),
      limiter_(limiter),
      dedupe_(dedupe),
      limits_(limits),
      media_urls_(media_urls),
      clock_(std::move(clock)) {}

void message_service::sign(model::message& m) const {
    message_steps::sign_attachments(m, media_urls_);
}

void message_service::sign(std::vector<model::message>& ms) const {
    for (auto& m : ms) message_steps::sign_attachments(m, media_urls_);
}

}  // namespace parley::chat
