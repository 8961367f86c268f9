// Problems → wire errors (#15): every English contract text of a domain problem and every REST
// shape choice for one, in one table.
#include "api/problems.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

namespace parley::api {

namespace {

using core::errc;
using core::problem_kind;

std::string n(std::int64_t v) {
    return std::to_string(v);
}

std::string pk_text(std::int64_t id) {
    return "Invalid pk \"" + n(id) + "\" - object does not exist.";
}

// A refusal of the whole request: REST answers it in its own shape, never in the field shape.
bool is_refusal(problem_kind k) noexcept {
    switch (k) {
        case problem_kind::not_found:
        case problem_kind::forbidden:
        case problem_kind::self_dm_channel:
        case problem_kind::user_not_team_member:
        case problem_kind::owner_cannot_leave:
        case problem_kind::already_member:
        case problem_kind::invitation_code_missing:
        case problem_kind::invitation_invalid:
        case problem_kind::invitation_unknown:
        case problem_kind::revoke_forbidden:
        case problem_kind::channel_not_visible:
        case problem_kind::not_team_member:
        case problem_kind::partner_left:
        case problem_kind::not_direct_channel:
        case problem_kind::not_the_partner:
        case problem_kind::edit_forbidden:
        case problem_kind::delete_forbidden:
        case problem_kind::new_content_missing:
        case problem_kind::reaction_invalid:
        case problem_kind::reaction_missing:
        case problem_kind::no_reaction:
        case problem_kind::reaction_limit:
        case problem_kind::notification_type_invalid:
        case problem_kind::file_not_found:
        case problem_kind::upload_quota_exceeded:
        case problem_kind::insufficient_storage:
        case problem_kind::throttled:
            return true;
        default:
            return false;
    }
}

// A refusal in REST's shapes (§0.6).
core::error rest_refusal(const core::problem& p, rest_form form) {
    switch (p.kind) {
        case problem_kind::not_found:
            return core::not_found();
        case problem_kind::forbidden:
            return core::permission_denied();
        case problem_kind::upload_quota_exceeded:
        case problem_kind::insufficient_storage:
            return core::detail(problem_code(p), problem_text(p));
        case problem_kind::throttled: {
            auto e = core::detail(errc::throttled, problem_text(p));
            e.retry_after_s = p.limit;
            return e;
        }
        case problem_kind::edit_forbidden:
            if (form == rest_form::serializer) return core::permission_denied();
            break;
        case problem_kind::delete_forbidden: {
            if (form == rest_form::serializer) return core::permission_denied();
            core::error e{.code = errc::permission_denied,
                          .message = problem_text(p),
                          .body = core::shape::legacy,
                          .field = p.field};
            return e;
        }
        default:
            break;
    }
    return core::error_shape(problem_code(p), problem_text(p), p.field);
}

// Key problems in DRF's field shape, merged per key in report order.
core::error rest_fields(const std::vector<core::problem>& problems) {
    std::vector<core::field_error> fields;
    for (const auto& p : problems) {
        auto it = std::find_if(fields.begin(), fields.end(),
                               [&](const core::field_error& f) { return f.field == p.field; });
        if (it == fields.end()) {
            fields.push_back({p.field, {}, problem_code(p)});
            it = std::prev(fields.end());
        }
        it->messages.push_back(problem_text(p));
    }
    return core::field_shape(std::move(fields));
}

// The texts of key problems (DRF's, for the field shape); empty for a refusal.
std::string value_text(const core::problem& p) {
    switch (p.kind) {
        case problem_kind::required:
            return "This field is required.";
        case problem_kind::null_value:
            return "This field may not be null.";
        case problem_kind::blank:
            return "This field may not be blank.";
        case problem_kind::too_long:
        case problem_kind::notification_type_invalid:
            return "Ensure this field has no more than " + n(p.limit) + " characters.";
        case problem_kind::too_many:
            return "Ensure this field has no more than " + n(p.limit) + " elements.";
        case problem_kind::empty_list:
            return "This list may not be empty.";
        case problem_kind::duplicate_id:
            return "Duplicate channel id " + n(p.id) + ".";
        case problem_kind::below_minimum:
            return "Ensure this value is greater than or equal to " + n(p.limit) + ".";
        case problem_kind::above_maximum:
            return "Ensure this value is less than or equal to " + n(p.limit) + ".";
        case problem_kind::invalid_reference:
        case problem_kind::unknown_reference:
            return pk_text(p.id);
        case problem_kind::unknown_file:
            return "Invalid file id " + n(p.id) + ".";
        case problem_kind::invalid_input:
            return "Invalid value.";  // readers always word their own
        default:
            return {};
    }
}

// The texts of refusals and of the key problems DRF has no text for.
std::string refusal_text(const core::problem& p) {
    switch (p.kind) {
        case problem_kind::self_dm:
            return "You cannot send a message to yourself.";
        case problem_kind::not_found:
            return "Not found.";
        case problem_kind::forbidden:
            return "You do not have permission to perform this action.";
        case problem_kind::self_dm_channel:
            return "You cannot create a direct message channel with yourself";
        case problem_kind::user_not_team_member:
            return "User is not a member of this team";
        case problem_kind::owner_cannot_leave:
            return "The team owner cannot leave or be removed. Transfer ownership or delete the "
                   "team.";
        case problem_kind::already_member:
            return "You are already a member of this team";
        case problem_kind::invitation_code_missing:
            return "Invitation code is required";
        case problem_kind::invitation_invalid:
            return "Invalid or expired invitation code";
        case problem_kind::invitation_unknown:
            return "Invalid invitation code";
        case problem_kind::revoke_forbidden:
            return "You do not have permission to revoke invitations for this team";
        case problem_kind::channel_not_visible:
            return "You are not a member of this channel.";
        case problem_kind::not_team_member:
            return "You are not a member of this team.";
        case problem_kind::partner_left:
            return "The other participant is no longer a member of this team.";
        case problem_kind::not_direct_channel:
            return "Not a direct message channel.";
        case problem_kind::not_the_partner:
            return "The recipient is not the other participant of this channel.";
        case problem_kind::edit_forbidden:
            return "You can only edit your own messages";
        case problem_kind::delete_forbidden:
            return "You can only delete your messages";
        case problem_kind::new_content_missing:
            return "New content is required";
        case problem_kind::reaction_invalid:
            return "Reaction must be a string of 1 to 64 characters.";
        case problem_kind::reaction_missing:
            return "Reaction is required.";
        case problem_kind::no_reaction:
            return "No reaction to remove for this user.";
        case problem_kind::reaction_limit:
            return "This message already has " + n(p.limit) + " reactions, the most it can hold.";
        case problem_kind::file_not_found:
            return "File not found";
        case problem_kind::upload_quota_exceeded:
            return "Upload quota exceeded. Each user may store " + n(p.limit) + " bytes of files.";
        case problem_kind::insufficient_storage:
            return "Not enough storage space on the server for this upload.";
        case problem_kind::throttled:
            return "Request was throttled. Expected available in " + n(p.limit) +
                   (p.limit == 1 ? " second." : " seconds.");
        default:
            return {};
    }
}

}  // namespace

std::string problem_text(const core::problem& p) {
    if (!p.text.empty()) return p.text;
    auto text = value_text(p);
    if (text.empty()) text = refusal_text(p);
    return text.empty() ? "Invalid value." : text;  // a kind without its text: problems_test fails
}

core::errc problem_code(const core::problem& p) noexcept {
    switch (p.kind) {
        case problem_kind::required:
        case problem_kind::null_value:
        case problem_kind::blank:
        case problem_kind::new_content_missing:
        case problem_kind::reaction_missing:
        case problem_kind::invitation_code_missing:
            return errc::required;
        case problem_kind::not_found:
        case problem_kind::file_not_found:
        case problem_kind::invitation_invalid:
        case problem_kind::invitation_unknown:
            return errc::not_found;
        case problem_kind::owner_cannot_leave:
            return errc::owner_cannot_leave;
        case problem_kind::already_member:
            return errc::already_member;
        case problem_kind::not_team_member:
        case problem_kind::user_not_team_member:
            return errc::not_team_member;
        case problem_kind::revoke_forbidden:
        case problem_kind::forbidden:
        case problem_kind::partner_left:
        case problem_kind::edit_forbidden:
        case problem_kind::delete_forbidden:
            return errc::permission_denied;
        case problem_kind::self_dm:
        case problem_kind::self_dm_channel:
            return errc::self_dm;
        case problem_kind::no_reaction:
            return errc::no_reaction;
        case problem_kind::reaction_limit:
            return errc::too_many_reactions;
        case problem_kind::upload_quota_exceeded:
            return errc::payload_too_large;
        case problem_kind::insufficient_storage:
            return errc::insufficient_storage;
        case problem_kind::throttled:
            return errc::throttled;
        case problem_kind::too_long:
        case problem_kind::too_many:
        case problem_kind::empty_list:
        case problem_kind::duplicate_id:
        case problem_kind::below_minimum:
        case problem_kind::above_maximum:
        case problem_kind::invalid_reference:
        case problem_kind::unknown_reference:
        case problem_kind::unknown_file:
        case problem_kind::invalid_input:
        case problem_kind::channel_not_visible:
        case problem_kind::not_direct_channel:
        case problem_kind::not_the_partner:
        case problem_kind::reaction_invalid:
        case problem_kind::notification_type_invalid:
            return errc::invalid;
    }
    return errc::invalid;
}

core::error render_rest(const core::error& e, rest_form form) {
    if (e.problems.empty()) return e;
    const auto& first = e.problems.front();
    if (is_refusal(first.kind)) return rest_refusal(first, form);
    if (form == rest_form::action)
        return core::error_shape(problem_code(first), problem_text(first), first.field);
    return rest_fields(e.problems);
}

core::error render_ws(const core::error& e) {
    if (e.problems.empty()) return e;
    const auto& first = e.problems.front();
    switch (first.kind) {
        case problem_kind::throttled: {
            // §8.3: the WebSocket words a rate limit its own way.
            auto limited = core::detail(errc::rate_limited, "Rate limit exceeded. Try again in " +
                                                                n(first.limit) + " seconds.");
            limited.retry_after_s = first.limit;
            limited.field = first.field;
            return limited;
        }
        // §8.3: what the caller cannot see is not found, whatever REST says of it.
        case problem_kind::unknown_reference:
        case problem_kind::channel_not_visible:
        case problem_kind::not_found: {
            auto missing = core::not_found();
            missing.field = first.field;
            return missing;
        }
        default:
            return core::error_shape(problem_code(first), problem_text(first), first.field);
    }
}

core::problem reader_problem(std::string field, std::string text, core::errc code) {
    return core::problem{
        .kind = code == errc::required ? problem_kind::required : problem_kind::invalid_input,
        .field = std::move(field),
        .text = std::move(text)};
}

std::vector<core::problem> reader_problems(const std::vector<core::field_error>& fields) {
    std::vector<core::problem> out;
    for (const auto& f : fields) {
        for (const auto& m : f.messages) out.push_back(reader_problem(f.field, m, f.code));
    }
    return out;
}

}  // namespace parley::api
