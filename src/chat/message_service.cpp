// Message use cases (API.md §6, §8.4): each runs in one transaction; events are emitted only
// after it committed. Checks follow DRF's order: object lookup (404), permission (403),
// validation (400), then the PARLEY_RATE_MESSAGES bucket (429), then the write.
#include "chat/message_service.hpp"

#include "chat/content_rules.hpp"
#include "chat/history_pages.hpp"
#include "chat/permissions.hpp"
#include "core/text.hpp"

#include <algorithm>
#include <chrono>
#include <set>
#include <stdexcept>
#include <utility>

namespace parley::chat {

using core::errc;

// ---- forward_error

void throw_exception_from_error(const forward_error& e, const boost::source_location& loc) {
    core::throw_exception_from_error(e.error, loc);
}

// ---- idempotency

std::optional<std::vector<model::id>> local_idempotency_store::claim(model::id user,
                                                                     std::string_view key,
                                                                     core::timestamp now) {
    std::unique_lock lock(mutex_);
    sweep(now);
    const auto k = std::make_pair(user, std::string(key));
    for (;;) {
        auto it = entries_.find(k);
        if (it == entries_.end() || (!it->second.pending && it->second.expires_at <= now)) {
            entries_[k] = entry{};
            return std::nullopt;
        }
        if (!it->second.pending) return it->second.ids;
        // Another request holds the key: its outcome decides ours. The wait holds a request
        // worker, so it is short and few wait at once; past either bound the repeat is answered
        // 503 with Retry-After (never a second message: the holder may still commit).
        if (waiters_ >= max_waiters_) throw core::unavailable("idempotency key in use");
        ++waiters_;
        const bool released = released_.wait_for(lock, max_wait_, [&] {
            auto again = entries_.find(k);
            return again == entries_.end() || !again->second.pending;
        });
        --waiters_;
        if (!released) throw core::unavailable("idempotency key still held");
    }
}

void local_idempotency_store::complete(model::id user, std::string_view key,
                                       std::vector<model::id> ids, core::timestamp now) {
    {
        std::lock_guard lock(mutex_);
        auto& e = entries_[std::make_pair(user, std::string(key))];
        e.pending = false;
        e.expires_at = now + ttl_us_;
        e.ids = std::move(ids);
    }
    released_.notify_all();
}

void local_idempotency_store::release(model::id user, std::string_view key) {
    {
        std::lock_guard lock(mutex_);
        entries_.erase(std::make_pair(user, std::string(key)));
    }
    released_.notify_all();
}

void local_idempotency_store::sweep(core::timestamp now) {
    if (now < next_sweep_) return;
    next_sweep_ = now + 60'000'000;
    std::erase_if(entries_, [&](const auto& kv) {
        return !kv.second.pending && kv.second.expires_at <= now;
    });
}

// ---- pure rules

bool is_http_url(std::string_view url) noexcept {
    if (url.empty() || core::code_points(url) > 2048) return false;
    std::size_t scheme_len = 0;
    const auto lower = core::ascii_lower(url.substr(0, 8));
    if (lower.starts_with("http://")) {
        scheme_len = 7;
    } else if (lower.starts_with("https://")) {
        scheme_len = 8;
    } else {
        return false;
    }
    for (const char ch : url) {
        const auto c = static_cast<unsigned char>(ch);
        if (c <= 0x20 || c == 0x7F) return false;  // no whitespace or control characters
    }
    const auto rest = url.substr(scheme_len);
    const auto host = rest.substr(0, rest.find_first_of("/?#"));
    return !host.empty() && host.front() != ':' && host.front() != '@';
}

std::optional<std::string> check_link_preview(const model::link_preview& p) {
    constexpr std::string_view nul("\0", 1);
    const auto has_nul = [&](const std::optional<std::string>& s) {
        return s && s->find(nul) != std::string::npos;
    };
    if (!is_http_url(p.url)) return "Enter a valid http or https URL.";
    if (p.image && !is_http_url(*p.image)) return "Enter a valid http or https URL.";
    if (p.title && core::code_points(*p.title) > 300)
        return "Ensure title has no more than 300 characters.";
    if (p.description && core::code_points(*p.description) > 1000)
        return "Ensure description has no more than 1000 characters.";
    if (p.site_name && core::code_points(*p.site_name) > 200)
        return "Ensure site_name has no more than 200 characters.";
    if (has_nul(p.title) || has_nul(p.description) || has_nul(p.site_name))
        return "Null characters are not allowed.";
    return std::nullopt;
}

bool valid_reaction(std::string_view r) noexcept {
    return !r.empty() && core::code_points(r) <= 64 && !core::has_control_chars(r);
}

void append_edit(std::vector<model::edit_entry>& history, std::string replaced,
                 core::timestamp written_at, std::size_t keep) {
    history.push_back({std::move(replaced), written_at});
    if (history.size() > keep) {
        history.erase(history.begin(),
                      history.begin() + static_cast<std::ptrdiff_t>(history.size() - keep));
    }
}

bool typing_throttle::admit(model::id user, model::id channel, bool is_typing,
                            core::timestamp now) {
    if (!is_typing) return true;  // "stopped typing" is always forwarded (§8.10)
    std::lock_guard lock(mutex_);
    if (now >= next_sweep_) {
        next_sweep_ = now + 60'000'000;
        std::erase_if(last_, [&](const auto& kv) { return now - kv.second >= window_us_; });
    }
    auto [it, inserted] = last_.try_emplace({user, channel}, now);
    if (inserted) return true;
    if (now - it->second < window_us_) return false;
    it->second = now;
    return true;
}

// ---- the service

namespace {

constexpr std::size_t max_files = 10;
constexpr std::size_t max_forward_targets = 10;
constexpr std::size_t max_edit_history = 100;
constexpr std::string_view required_text = "This field is required.";
constexpr std::string_view blank_text = "This field may not be blank.";
constexpr std::string_view null_text = "This field may not be null.";
constexpr std::string_view not_member_text = "You are not a member of this channel.";
constexpr std::string_view partner_left_text =
    "The other participant is no longer a member of this team.";

bool has_nul(std::string_view s) {
    return s.find('\0') != std::string_view::npos;
}

std::string invalid_pk(model::id v) {
    return "Invalid pk \"" + std::to_string(v) + "\" - object does not exist.";
}

std::string too_long(std::size_t n) {
    return "Ensure this field has no more than " + std::to_string(n) + " characters.";
}

// Field errors, merged per key and ordered as `order` lists the keys (the order of §8.4, so
// the WebSocket `field` is the first offending key, §13.6). Unlisted keys go last.
class field_errors {
public:
    explicit field_errors(std::vector<std::string_view> order) : order_(std::move(order)) {}

    void add(std::string_view field, std::string message) {
        for (auto& f : fields_) {
            if (f.field == field) {
                f.messages.push_back(std::move(message));
                return;
            }
        }
        fields_.push_back({std::string(field), {std::move(message)}});
    }
    void add_all(const std::vector<core::field_error>& from) {
        for (const auto& f : from) {
            for (const auto& m : f.messages) add(f.field, m);
        }
    }
    [[nodiscard]] bool has(std::string_view field) const {
        return std::any_of(fields_.begin(), fields_.end(),
                           [&](const core::field_error& f) { return f.field == field; });
    }
    [[nodiscard]] bool empty() const noexcept { return fields_.empty(); }

    // The field-shape error; code `required` when the first problem is a missing value.
    [[nodiscard]] core::error error() const {
        auto sorted = fields_;
        const auto rank = [&](const core::field_error& f) {
            const auto it = std::find(order_.begin(), order_.end(), f.field);
            return static_cast<std::size_t>(it - order_.begin());
        };
        std::stable_sort(sorted.begin(), sorted.end(),
                         [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
        auto e = core::field_shape(std::move(sorted));
        if (e.message == required_text || e.message == blank_text || e.message == null_text)
            e.code = errc::required;
        return e;
    }

private:
    std::vector<std::string_view> order_;
    std::vector<core::field_error> fields_;
};

core::error with_field(core::error e, std::string field) {
    e.field = std::move(field);
    return e;
}

core::error not_found_at(std::string field) {
    return with_field(core::not_found(), field);
}

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

// Claims an idempotency key for one use case and gives it back unless completed.
class key_claim {
public:
    key_claim(idempotency_store& store, model::id user, std::optional<std::string_view> key)
        : store_(store), user_(user), key_(key) {}
    key_claim(const key_claim&) = delete;
    key_claim& operator=(const key_claim&) = delete;
    ~key_claim() {
        if (held_) store_.release(user_, *key_);
    }

    // The ids of an earlier request with this key, or nullopt (the key is now held).
    std::optional<std::vector<model::id>> begin(core::timestamp now) {
        if (!key_) return std::nullopt;
        auto earlier = store_.claim(user_, *key_, now);
        held_ = !earlier;
        return earlier;
    }
    void complete(const std::vector<model::message>& made, core::timestamp now) {
        if (!held_) return;
        std::vector<model::id> ids;
        for (const auto& m : made) ids.push_back(m.id);
        store_.complete(user_, *key_, std::move(ids), now);
        held_ = false;
    }

private:
    idempotency_store& store_;
    model::id user_;
    std::optional<std::string_view> key_;
    bool held_ = false;
};

}  // namespace

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

namespace {

// §1.5, §7.3: attachments carry a relative signed media URL made when the message is produced.
void sign_attachments(model::message& m, const media::url_signer* signer) {
    for (auto& a : m.attachments)
        a.url = signer ? signer->signed_url(a.stored_name) : "/media/" + a.stored_name;
}

}  // namespace

void message_service::sign(model::message& m) const {
    sign_attachments(m, media_urls_);
}

void message_service::sign(std::vector<model::message>& ms) const {
    for (auto& m : ms) sign_attachments(m, media_urls_);
}

namespace {

// What a validated draft becomes.
struct checked_draft {
    std::string content;
    std::vector<model::attachment> attachments;
};

// The §6.1 rules over a draft, adding to `errors`. `channel` is nullopt when the channel is not
// known yet (reply_to cannot be checked then).
checked_draft check_draft(store::tx& tx, const model::user& caller, const message_draft& d,
                          std::optional<model::id> channel, std::size_t max_chars,
                          field_errors& errors) {
    checked_draft out;
    const bool has_files = !d.file_ids.empty();
    if (!errors.has("content")) {
        if (!d.content) {
            if (!has_files) errors.add("content", std::string(required_text));
        } else if (!has_files && core::is_blank(*d.content)) {
            errors.add("content", std::string(blank_text));
        } else if (core::code_points(*d.content) > max_chars) {
            errors.add("content", too_long(max_chars));
        } else if (const auto problem = content_problem(*d.content)) {
            errors.add("content", std::string(*problem));
        } else {
            out.content = *d.content;
        }
    }
    if (channel && d.reply_to && !errors.has("reply_to") &&
        !tx.message_in_channel(*d.reply_to, *channel)) {
        errors.add("reply_to", invalid_pk(*d.reply_to));
    }
    if (d.link_preview && !errors.has("link_preview")) {
        if (auto problem = check_link_preview(*d.link_preview))
            errors.add("link_preview", std::move(*problem));
    }
    if (has_files && !errors.has(d.file_ids_key)) {
        if (d.file_ids.size() > max_files) {
            errors.add(d.file_ids_key, "Ensure this field has no more than " +
                                           std::to_string(max_files) + " elements.");
        } else {
            auto uploads = tx.uploads_of(caller.id, d.file_ids);
            std::set<model::id> seen;
            for (const auto f : d.file_ids) {
                const auto it = std::find_if(uploads.begin(), uploads.end(),
                                             [&](const model::attachment& a) { return a.id == f; });
                if (!seen.insert(f).second || it == uploads.end()) {
                    errors.add(d.file_ids_key, "Invalid file id " + std::to_string(f) + ".");
                    break;
                }
                out.attachments.push_back(*it);
            }
        }
    }
    return out;
}

const std::vector<std::string_view> post_order{"channel", "channel_id", "recipient", "recipient_id",
                                               "team_id", "content",    "reply_to",  "link_preview",
                                               "fileIds", "file_ids"};

// Staff see every channel but post only where they are team members (§13.13).
core::error not_team_member_error(std::string field) {
    return core::error_shape(errc::not_team_member, "You are not a member of this team.",
                             std::move(field));
}

// The §6.1 checks, the rate bucket and the insert of one message into a channel the caller may
// post in. Adds the message_created event.
core::result<posted> create_message(store::tx& tx, const model::user& caller,
                                    const model::channel& c, const message_draft& draft,
                                    field_errors& errors, std::vector<event>& out_events,
                                    rate_limiter& limiter, const config::limits_settings& limits,
                                    const std::function<core::timestamp()>& clock_,
                                    const media::url_signer* signer) {
    auto checked = check_draft(tx, caller, draft, c.id, limits.max_message_chars, errors);
    if (!errors.empty()) return errors.error();
    if (const auto wait =
            limiter.hit("messages", std::to_string(caller.id), limits.rate_messages, clock_()))
        return throttled(wait);
    model::message m;
    m.channel = c.id;
    m.sender = ref_of(caller);
    m.content = std::move(checked.content);
    m.reply_to = draft.reply_to;
    m.link_preview = draft.link_preview;
    m.created_at = clock_();
    m.attachments = std::move(checked.attachments);
    const auto id = tx.insert_message(m);
    auto stored = tx.message_by_id(id);
    if (!stored) throw store::unavailable("inserted message not found");
    sign_attachments(*stored, signer);
    out_events.emplace_back(events::message_created{*stored});
    posted p;
    p.messages.push_back(std::move(*stored));
    return p;
}

}  // namespace

// ---- posting

core::result<posted> message_service::post(const model::user& caller,
                                           std::optional<model::id> channel,
                                           const message_draft& draft, door d,
                                           std::optional<std::string_view> idempotency_key) {
    key_claim claim(dedupe_, caller.id, idempotency_key);
    if (auto earlier = claim.begin(clock_())) return repeat(caller, *earlier);

    std::vector<event> out_events;
    std::optional<core::result<posted>> made;
    const auto body = [&](store::tx& tx) -> core::result<posted> {
        field_errors errors(post_order);
        errors.add_all(draft.errors);
        std::optional<model::channel> c;
        if (!channel) {
            if (!errors.has("channel") && !errors.has("channel_id"))
                errors.add("channel", std::string(required_text));
        } else {
            c = tx.channel_by_id(*channel, false);
            if (!c) {
                if (d == door::ws) return not_found_at("channel");
                errors.add("channel", invalid_pk(*channel));
            }
        }
        if (!c) {
            check_draft(tx, caller, draft, std::nullopt, limits_.max_message_chars, errors);
            return errors.error();
        }
        if (!permissions::can_see_channel(tx, caller, *c)) {
            if (d == door::ws) return not_found_at("channel");
            return core::error_shape(errc::invalid, std::string(not_member_text), "channel");
        }
        if (!tx.is_team_member(c->team, caller.id)) return not_team_member_error("channel");
        if (!permissions::can_post(tx, caller, *c))
            return core::error_shape(errc::permission_denied, std::string(partner_left_text),
                                     "channel");
        return create_message(tx, caller, *c, draft, errors, out_events, limiter_, limits_, clock_,
                              media_urls_);
    };
    // Group commit (docs/decisions/0005): concurrent posters share one transaction; each returns
    // (and is acknowledged) only after that commit, and the events are emitted in commit order.
    store_.run_grouped(
        [&](store::tx& tx) {
            made.emplace(body(tx));
            return made->has_value();
        },
        [&] {
            claim.complete((*made)->messages, clock_());
            for (auto& e : out_events) events_.emit(std::move(e));
        });
    if (!*made) return made->error();
    return std::move(*made);
}

core::result<posted> message_service::post_direct(const model::user& caller,
                                                  const direct_target& target,
                                                  const message_draft& draft, door d,
                                                  std::optional<std::string_view> idempotency_key) {
    key_claim claim(dedupe_, caller.id, idempotency_key);
    if (auto earlier = claim.begin(clock_())) return repeat(caller, *earlier);

    const std::string recipient_key = d == door::ws ? "recipient_id" : "recipient";
    std::vector<event> out_events;
    // A lost race for a new DM pair (PostgreSQL) rolls back and runs again to find the winner.
    for (int attempt = 0;; ++attempt) {
        bool lost_race = false;
        out_events.clear();
        auto made = store_.write([&](store::tx& tx) -> core::result<posted> {
            field_errors errors(post_order);
            errors.add_all(draft.errors);
            const auto field_failure = [&]() {
                check_draft(tx, caller, draft, std::nullopt, limits_.max_message_chars, errors);
                return errors.error();
            };
            if (errors.has("channel_id") || errors.has(recipient_key) || errors.has("team_id"))
                return field_failure();

            std::optional<model::channel> c;
            std::optional<model::user_ref> partner;
            if (target.channel) {  // WS direct_message with channel_id
                c = tx.channel_by_id(*target.channel, true);
                if (!c || !permissions::can_see_channel(tx, caller, *c))
                    return not_found_at("channel_id");
                if (!c->is_direct)
                    return core::error_shape(errc::invalid, "Not a direct message channel.",
                                             "channel_id");
                for (const auto& m : c->members) {
                    if (m.id != caller.id) partner = m;
                }
                if (target.recipient && (!partner || partner->id != *target.recipient))
                    return core::error_shape(errc::invalid,
                                             "The recipient is not the other participant of "
                                             "this channel.",
                                             recipient_key);
                if (!tx.is_team_member(c->team, caller.id))
                    return not_team_member_error("channel_id");
                if (!permissions::can_post(tx, caller, *c))
                    return core::error_shape(errc::permission_denied,
                                             std::string(partner_left_text), "channel_id");
            } else {
                if (!target.recipient) {
                    errors.add(recipient_key, std::string(required_text));
                    return field_failure();
                }
                const model::id other = *target.recipient;
                if (other == caller.id) {
                    if (d == door::ws)
                        return core::error_shape(
                            errc::self_dm, "You cannot send a message to yourself.", recipient_key);
                    errors.add(recipient_key, "You cannot send a message to yourself.");
                    return field_failure();
                }
                const auto u = tx.user_by_id(other);
                const auto bad_recipient = [&]() -> core::error {
                    if (d == door::ws)
                        return core::error_shape(errc::invalid, invalid_pk(other), recipient_key);
                    errors.add(recipient_key, invalid_pk(other));
                    return field_failure();
                };
                if (!u || !u->is_active) return bad_recipient();
                partner = ref_of(*u);
                const auto lo = std::min(caller.id, other);
                const auto hi = std::max(caller.id, other);
                std::optional<model::id> team;
                std::optional<model::id> existing;
                if (target.team) {
                    if (!tx.team_by_id(*target.team, false) ||
                        !tx.is_team_member(*target.team, caller.id)) {
                        if (d == door::ws) return not_found_at("team_id");
                        errors.add("team_id", invalid_pk(*target.team));
                        return field_failure();
                    }
                    if (!tx.is_team_member(*target.team, other)) return bad_recipient();
                    team = *target.team;
                    existing = tx.dm_channel(*team, lo, hi);
                } else {
                    const auto shared = tx.shared_teams(caller.id, other);
                    if (shared.empty()) return bad_recipient();
                    for (const auto t : shared) {
                        if ((existing = tx.dm_channel(t, lo, hi))) {
                            team = t;
                            break;
                        }
                    }
                    if (!team) team = shared.front();
                }
                if (existing) {
                    c = tx.channel_by_id(*existing, true);
                    if (!c) throw store::unavailable("DM pair without its channel");
                } else {
                    // As create_or_get_dm_channel (§5): name, members, creator, the pair.
                    model::channel nc;
                    nc.name = "DM: " + caller.username + " and " + u->username;
                    nc.team = *team;
                    nc.is_direct = true;
                    nc.created_by = caller.id;
                    nc.created_at = clock_();
                    const auto cid = tx.insert_channel(nc);
                    tx.add_channel_member(cid, caller.id);
                    tx.add_channel_member(cid, other);
                    if (!tx.insert_dm_pair(*team, lo, hi, cid)) {
                        lost_race = true;
                        return core::detail(errc::server_error, "DM pair taken concurrently");
                    }
                    c = tx.channel_by_id(cid, true);
                    out_events.emplace_back(events::channel_created{*c, caller.id});
                }
            }
            auto p = create_message(tx, caller, *c, draft, errors, out_events, limiter_, limits_,
                                    clock_, media_urls_);
            if (p) p->recipient = partner;
            return p;
        });
        if (!made && lost_race && attempt < 3) continue;
        if (!made) return made.error();
        claim.complete(made->messages, clock_());
        for (auto& e : out_events) events_.emit(std::move(e));
        return made;
    }
}

// A repeat of an idempotency key: the messages it created that still exist.
core::result<posted> message_service::repeat(const model::user& caller,
                                             const std::vector<model::id>& ids) {
    return store_.read([&](store::tx& tx) -> core::result<posted> {
        posted p;
        p.duplicate = true;
        for (const auto id : ids) {
            if (auto m = tx.message_by_id(id)) p.messages.push_back(std::move(*m));
        }
        if (p.messages.empty()) return core::not_found();
        sign(p.messages);
        const auto& first = p.messages.front();
        if (first.recipient_id) {
            if (const auto u = tx.user_by_id(*first.recipient_id)) p.recipient = ref_of(*u);
        }
        (void)caller;
        return p;
    });
}

forward_result<posted> message_service::forward(const model::user& caller,
                                                const std::vector<model::id>& channels,
                                                const std::optional<std::string>& content,
                                                std::optional<std::string_view> idempotency_key) {
    const auto fail = [](core::error e, std::optional<model::id> channel = {}) {
        return forward_error{std::move(e), channel};
    };
    if (channels.empty())
        return fail(core::error_shape(errc::invalid, "This list may not be empty.", "channels"));
    if (channels.size() > max_forward_targets)
        return fail(core::error_shape(
            errc::invalid, "Ensure this field has no more than 10 elements.", "channels"));
    for (std::size_t i = 0; i < channels.size(); ++i) {
        if (std::find(channels.begin(), channels.begin() + static_cast<std::ptrdiff_t>(i),
                      channels[i]) != channels.begin() + static_cast<std::ptrdiff_t>(i))
            return fail(
                core::error_shape(errc::invalid,
                                  "Duplicate channel id " + std::to_string(channels[i]) + ".",
                                  "channels"),
                channels[i]);
    }
    if (!content || core::is_blank(*content))
        return fail(core::error_shape(
            errc::required, std::string(content ? blank_text : required_text), "content"));
    if (core::code_points(*content) > limits_.max_message_chars)
        return fail(
            core::error_shape(errc::invalid, too_long(limits_.max_message_chars), "content"));
    if (const auto problem = content_problem(*content))
        return fail(core::error_shape(errc::invalid, std::string(*problem), "content"));

    key_claim claim(dedupe_, caller.id, idempotency_key);
    if (auto earlier = claim.begin(clock_())) {
        auto r = repeat(caller, *earlier);
        if (!r) return fail(r.error());
        return std::move(*r);
    }

    std::optional<model::id> failed_channel;
    std::vector<event> out_events;
    auto made = store_.write([&](store::tx& tx) -> core::result<posted> {
        // Every target first: nothing is written unless all pass (§8.4).
        std::vector<model::channel> targets;
        for (const auto id : channels) {
            failed_channel = id;
            auto c = tx.channel_by_id(id, false);
            if (!c || !permissions::can_see_channel(tx, caller, *c))
                return not_found_at("channels");
            if (!tx.is_team_member(c->team, caller.id)) return not_team_member_error("channels");
            if (!permissions::can_post(tx, caller, *c))
                return core::error_shape(errc::permission_denied, std::string(partner_left_text),
                                         "channels");
            targets.push_back(std::move(*c));
        }
        failed_channel.reset();
        if (const auto wait =
                limiter_.hit("messages", std::to_string(caller.id), limits_.rate_messages, clock_(),
                             static_cast<std::int64_t>(targets.size())))
            return throttled(wait);
        posted p;
        const auto now = clock_();
        for (const auto& c : targets) {
            model::message m;
            m.channel = c.id;
            m.sender = ref_of(caller);
            m.content = *content;
            m.is_forwarded = true;
            m.created_at = now;
            auto stored = tx.message_by_id(tx.insert_message(m));
            if (!stored) throw store::unavailable("inserted message not found");
            sign(*stored);
            out_events.emplace_back(events::message_created{*stored});
            p.messages.push_back(std::move(*stored));
        }
        return p;
    });
    if (!made) return fail(made.error(), failed_channel);
    claim.complete(made->messages, clock_());
    for (auto& e : out_events) events_.emit(std::move(e));
    return std::move(*made);
}

// ---- reading

core::result<message_page> message_service::page_of(store::tx& tx, store::message_query q,
                                                    const page_query& page) {
    field_errors errors({"limit", "before", "after"});
    errors.add_all(page.errors);
    std::int64_t limit = limits_.message_page_default;
    if (page.limit && !errors.has("limit")) {
        if (*page.limit < 1) {
            errors.add("limit", "Ensure this value is greater than or equal to 1.");
        } else if (*page.limit > limits_.message_page_max) {
            errors.add("limit", "Ensure this value is less than or equal to " +
                                    std::to_string(limits_.message_page_max) + ".");
        } else {
            limit = *page.limit;
        }
    }
    for (const auto& [key, v] :
         {std::pair{"before", page.before}, std::pair{"after", page.after}}) {
        if (v && *v < 1 && !errors.has(key))
            errors.add(key, "Ensure this value is greater than or equal to 1.");
    }
    if (!errors.empty()) return errors.error();

    q.before = page.before;
    q.after = page.after;
    auto slot = full_size_pages_.try_take();
    auto max_bytes = page.max_bytes ? page.max_bytes : limits_.max_response_bytes;
    if (!slot) max_bytes = std::min(max_bytes, busy_page_bytes);
    auto rows = read_capped_page(tx, q, limit, max_bytes, [this](auto& ms) { sign(ms); });
    return message_page{std::move(rows.messages), rows.has_more, limit, std::move(slot)};
}

core::result<message_page> message_service::list_channel(const model::user& caller,
                                                         model::id channel,
                                                         const page_query& page) {
    return store_.read([&](store::tx& tx) -> core::result<message_page> {
        const auto c = tx.channel_by_id(channel, false);
        if (!c || !permissions::can_see_channel(tx, caller, *c)) return not_found_at("channel_id");
        store::message_query q;
        q.scope = store::message_query::kind::channel;
        q.channel = channel;
        return page_of(tx, q, page);
    });
}

core::result<message_page> message_service::list_all(const model::user& caller,
                                                     const page_query& page) {
    return store_.read([&](store::tx& tx) {
        store::message_query q;
        q.scope = store::message_query::kind::visible;
        q.viewer = caller.id;
        return page_of(tx, q, page);
    });
}

core::result<message_page> message_service::list_direct(const model::user& caller, model::id other,
                                                        std::optional<model::id> team,
                                                        const page_query& page) {
    return store_.read([&](store::tx& tx) -> core::result<message_page> {
        if (!tx.user_by_id(other)) return not_found_at("user_id");
        store::message_query q;
        q.scope = store::message_query::kind::direct;
        q.viewer = caller.id;
        q.other = other;
        q.team = team;
        return page_of(tx, q, page);
    });
}

std::optional<model::id> message_service::find_direct_channel(const model::user& caller,
                                                              model::id other,
                                                              std::optional<model::id> team) {
    if (other == caller.id) return std::nullopt;
    return store_.read([&](store::tx& tx) -> std::optional<model::id> {
        const auto lo = std::min(caller.id, other);
        const auto hi = std::max(caller.id, other);
        if (team) {
            if (!tx.is_team_member(*team, caller.id)) return std::nullopt;
            return tx.dm_channel(*team, lo, hi);
        }
        // §6.3: the lowest-id shared team that has one; then (a partner who left) any team of
        // the caller's, so the remaining participant can still read the history (§1.3).
        for (const auto t : tx.shared_teams(caller.id, other)) {
            if (auto c = tx.dm_channel(t, lo, hi)) return c;
        }
        for (const auto& t : tx.teams_of_user(caller.id)) {
            if (auto c = tx.dm_channel(t.id, lo, hi)) return c;
        }
        return std::nullopt;
    });
}

core::result<model::message> message_service::get(const model::user& caller, model::id message) {
    auto m = store_.read([&](store::tx& tx) { return visible_message(tx, caller, message); });
    if (m) sign(*m);
    return m;
}

// ---- changing

core::result<message_change> message_service::edit(const model::user& caller, model::id message,
                                                   const message_edit& change, edit_form form) {
    std::vector<event> out_events;
    auto done = store_.write([&](store::tx& tx) -> core::result<message_change> {
        if (!tx.lock_message(message)) return not_found_at("message_id");
        auto m = visible_message(tx, caller, message);
        if (!m) return m.error();
        if (!caller.staff() && m->sender.id != caller.id) {
            if (form == edit_form::edit_message)
                return core::error_shape(errc::permission_denied,
                                         "You can only edit your own messages", "message_id");
            return with_field(core::permission_denied(), "message_id");
        }

        std::string content = m->content;
        auto preview = m->link_preview;
        if (form == edit_form::edit_message) {
            const bool type_error =
                std::any_of(change.errors.begin(), change.errors.end(),
                            [](const core::field_error& f) { return f.field == "content"; });
            if (type_error || !change.content || core::is_blank(*change.content))
                return core::error_shape(errc::required, "New content is required", "content");
            if (core::code_points(*change.content) > limits_.max_message_chars)
                return core::error_shape(errc::invalid, too_long(limits_.max_message_chars),
                                         "content");
            if (const auto problem = content_problem(*change.content))
                return core::error_shape(errc::invalid, std::string(*problem), "content");
            content = *change.content;
        } else {
            field_errors errors({"content", "link_preview"});
            errors.add_all(change.errors);
            if (!errors.has("content")) {
                if (!change.content) {
                    if (form == edit_form::update_full)
                        errors.add("content", std::string(required_text));
                } else if (m->attachments.empty() && core::is_blank(*change.content)) {
                    errors.add("content", std::string(blank_text));
                } else if (core::code_points(*change.content) > limits_.max_message_chars) {
                    errors.add("content", too_long(limits_.max_message_chars));
                } else if (const auto problem = content_problem(*change.content)) {
                    errors.add("content", std::string(*problem));
                } else {
                    content = *change.content;
                }
            }
            if (change.link_preview && !errors.has("link_preview")) {
                if (*change.link_preview) {
                    if (auto problem = check_link_preview(**change.link_preview))
                        errors.add("link_preview", std::move(*problem));
                }
                preview = *change.link_preview;
            }
            if (!errors.empty()) return errors.error();
        }

        const auto same_preview = [](const std::optional<model::link_preview>& a,
                                     const std::optional<model::link_preview>& b) {
            if (!a || !b) return !a && !b;
            return a->url == b->url && a->title == b->title && a->description == b->description &&
                   a->image == b->image && a->site_name == b->site_name;
        };
        if (content == m->content && same_preview(preview, m->link_preview))
            return message_change{std::move(*m), false, std::nullopt};

        if (const auto wait = limiter_.hit("messages", std::to_string(caller.id),
                                           limits_.rate_messages, clock_()))
            return throttled(wait);
        // §6.9: the replaced content, stamped with the time it was written.
        const model::edit_entry replaced{m->content, m->edited_at.value_or(m->created_at)};
        const auto now = clock_();
        // §0.8: the newest 100 entries, and at most max_edit_history_bytes of them.
        auto history = std::move(m->edit_history);
        history.push_back(replaced);
        const auto keep = edit_entries_to_keep(history, max_edit_history);
        tx.edit_message(message, content, preview, now, replaced, keep);
        auto stored = tx.message_by_id(message);
        if (!stored) throw store::unavailable("edited message not found");
        out_events.emplace_back(events::message_edited{stored->id, stored->channel, stored->content,
                                                       stored->link_preview, now,
                                                       stored->edit_history});
        return message_change{std::move(*stored), true, std::nullopt};
    });
    if (done) {
        sign(done->msg);
        for (auto& e : out_events) events_.emit(std::move(e));
    }
    return done;
}

core::result<void> message_service::remove(const model::user& caller, model::id message,
                                           delete_form form) {
    std::optional<events::message_deleted> deleted;
    auto done = store_.write([&](store::tx& tx) -> core::result<void> {
        auto m = visible_message(tx, caller, message);
        if (!m) return m.error();
        bool allowed = caller.staff() || m->sender.id == caller.id;
        if (!allowed && !m->channel_is_direct) {  // owner moderation: group channels only
            const auto t = tx.team_by_id(m->team, false);
            allowed = t && t->created_by == caller.id;
        }
        if (!allowed) {
            if (form == delete_form::delete_message) {
                core::error e{.code = errc::permission_denied,
                              .message = "You can only delete your messages",
                              .body = core::shape::legacy,
                              .field = "message_id"};
                return e;
            }
            return with_field(core::permission_denied(), "message_id");
        }
        tx.delete_message(message);
        deleted = events::message_deleted{m->id, m->channel, m->channel_is_direct};
        return {};
    });
    if (done && deleted) events_.emit(std::move(*deleted));
    return done;
}

core::result<reaction_change> message_service::react(
    const model::user& caller, model::id message,
    const core::result<std::optional<std::string>>& reaction) {
    std::optional<event> out;
    auto done = store_.write([&](store::tx& tx) -> core::result<reaction_change> {
        auto m = visible_message(tx, caller, message);
        if (!m) return m.error();
        if (!reaction || (*reaction && !valid_reaction(**reaction)))
            return core::error_shape(
                errc::invalid, "Reaction must be a string of 1 to 64 characters.", "reaction");
        if (!*reaction || (*reaction)->empty())
            return core::error_shape(errc::required, "Reaction is required.", "reaction");
        const auto& value = **reaction;
        reaction_change r;
        r.message_id = m->id;
        r.channel_id = m->channel;
        r.username = caller.username;
        r.reaction = value;
        r.changed = tx.reaction_of(message, caller.id) != value;
        if (r.changed) {
            tx.set_reaction(message, caller.id, value, clock_());
            r.reactions = tx.reactions(message);
            out = events::reaction_update{m->id,     m->channel,      r.reactions,
                                          caller.id, caller.username, value};
        } else {
            r.reactions = std::move(m->reactions);
        }
        return r;
    });
    if (done && out) events_.emit(std::move(*out));
    return done;
}

core::result<reaction_change> message_service::unreact(const model::user& caller, model::id message,
                                                       bool require_existing) {
    std::optional<event> out;
    auto done = store_.write([&](store::tx& tx) -> core::result<reaction_change> {
        auto m = visible_message(tx, caller, message);
        if (!m) return m.error();
        reaction_change r;
        r.message_id = m->id;
        r.channel_id = m->channel;
        r.username = caller.username;
        r.changed = tx.remove_reaction(message, caller.id);
        if (!r.changed && require_existing)
            return core::error_shape(errc::no_reaction, "No reaction to remove for this user.",
                                     "reaction");
        r.reactions = r.changed ? tx.reactions(message) : std::move(m->reactions);
        if (r.changed) {
            out = events::reaction_update{m->id,     m->channel,      r.reactions,
                                          caller.id, caller.username, std::nullopt};
        }
        return r;
    });
    if (done && out) events_.emit(std::move(*out));
    return done;
}

core::result<message_change> message_service::pin(const model::user& caller, model::id message) {
    std::optional<event> out;
    auto done = store_.write([&](store::tx& tx) -> core::result<message_change> {
        auto m = visible_message(tx, caller, message);
        if (!m) return m.error();
        tx.lock_channel(m->channel);  // one pin per channel under concurrent pins
        const auto previous = tx.pinned_message(m->channel);
        message_change r;
        if (previous == m->id) {
            m->is_pinned = true;
            r.msg = std::move(*m);
            return r;
        }
        if (previous) tx.set_pinned(*previous, false);
        tx.set_pinned(m->id, true);
        m->is_pinned = true;
        r.changed = true;
        r.unpinned_message_id = previous;
        out = events::message_pinned{m->id, m->channel, caller.id, previous};
        r.msg = std::move(*m);
        return r;
    });
    if (done) sign(done->msg);
    if (done && out) events_.emit(std::move(*out));
    return done;
}

core::result<message_change> message_service::unpin(const model::user& caller, model::id message) {
    std::optional<event> out;
    auto done = store_.write([&](store::tx& tx) -> core::result<message_change> {
        auto m = visible_message(tx, caller, message);
        if (!m) return m.error();
        tx.lock_channel(m->channel);
        message_change r;
        if (tx.pinned_message(m->channel) == m->id) {
            tx.set_pinned(m->id, false);
            r.changed = true;
            out = events::message_unpinned{m->id, m->channel, caller.id};
        }
        m->is_pinned = false;
        r.msg = std::move(*m);
        return r;
    });
    if (done) sign(done->msg);
    if (done && out) events_.emit(std::move(*out));
    return done;
}

// ---- ephemeral

core::result<bool> message_service::typing(const model::user& caller, model::id channel,
                                           bool is_typing) {
    auto c = store_.read([&](store::tx& tx) -> core::result<model::channel> {
        auto ch = tx.channel_by_id(channel, false);
        if (!ch || !permissions::can_see_channel(tx, caller, *ch))
            return not_found_at("channel_id");
        if (!tx.is_team_member(ch->team, caller.id)) return not_team_member_error("channel_id");
        if (!permissions::can_post(tx, caller, *ch))
            return core::error_shape(errc::permission_denied, std::string(partner_left_text),
                                     "channel_id");
        return std::move(*ch);
    });
    if (!c) return c.error();
    const auto now = clock_();
    if (!typing_.admit(caller.id, channel, is_typing, now)) return false;
    events_.emit(events::typing{channel, c->team, ref_of(caller), is_typing, now});
    return true;
}

core::result<void> message_service::team_notification(const model::user& caller, model::id team,
                                                      const std::string& notification_type) {
    const bool visible = store_.read([&](store::tx& tx) {
        return tx.team_by_id(team, false).has_value() &&
               permissions::can_see_team(tx, caller, team);
    });
    if (!visible) return not_found_at("team_id");
    if (notification_type.empty())
        return core::error_shape(errc::required, std::string(required_text), "notification_type");
    if (core::code_points(notification_type) > 64 || has_nul(notification_type))
        return core::error_shape(errc::invalid, too_long(64), "notification_type");
    events_.emit(events::team_notification{team, notification_type, ref_of(caller), clock_()});
    return {};
}

}  // namespace parley::chat
