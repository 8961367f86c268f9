// `parley export --team ID` (API.md §10.1): a team's data as JSON lines, for users who want it.
// Read through the store interface, so it works on both backends.
#include "api/json.hpp"
#include "api/message_json.hpp"
#include "app/data_commands.hpp"

#include <boost/json/serialize.hpp>

#include <sys/stat.h>
#include <cstdio>
#include <map>

namespace parley::app {

namespace {

constexpr std::int64_t export_page_messages = 1000;  // messages per read (three statements each)

// One JSON line {"type": type, key: value}.
void emit(std::FILE* out, const char* type, const char* key, api::json::value value) {
    api::json::object line{{"type", type}};
    line[key] = std::move(value);
    const std::string text = api::json::serialize(line);
    std::fwrite(text.data(), 1, text.size(), out);
    std::fputc('\n', out);
}

// The team's channels: those any current member belongs to (group channels follow the team,
// DM channels have a member in it), by id, with members.
std::vector<model::channel> team_channels(store::tx& t, const model::team& team) {
    std::map<model::id, model::channel> by_id;
    for (const auto& m : team.members)
        for (auto& c : t.channels_of_user(m.id, team.id)) by_id.emplace(c.id, std::move(c));
    std::vector<model::channel> out;
    out.reserve(by_id.size());
    for (auto& [id, c] : by_id) out.push_back(std::move(c));
    return out;
}

struct export_counts {
    std::size_t channels = 0;
    std::size_t messages = 0;
};

// Writes every line; false when there is no such team. One read transaction: a snapshot.
bool write_team(store::store& db, model::id team_id, std::FILE* out, export_counts& n) {
    return db.read([&](store::tx& t) {
        const auto team = t.team_by_id(team_id, /*with_members=*/true);
        if (!team) return false;
        emit(out, "team", "team", api::to_json(*team));
        for (const auto& m : team->members) emit(out, "member", "user", api::to_json(m));
        const auto channels = team_channels(t, *team);
        for (const auto& c : channels) emit(out, "channel", "channel", api::to_json(c));
        n.channels = channels.size();
        for (const auto& c : channels) {
            store::message_query q;
            q.scope = store::message_query::kind::channel;
            q.channel = c.id;
            q.after = 0;
            q.limit = export_page_messages;
            for (;;) {
                const auto page = t.message_page(q);  // oldest first
                for (const auto& m : page) emit(out, "message", "message", api::rest_message(m));
                n.messages += page.size();
                if (static_cast<std::int64_t>(page.size()) < q.limit) break;
                q.after = page.back().id;
            }
        }
        return true;
    });
}

}  // namespace

int export_team(const options& opts, std::int64_t team, const std::string& out_path) {
    auto s = load_settings(opts);
    if (!s) return 1;
    auto db = open_store(*s);
    std::FILE* out = stdout;
    if (!out_path.empty()) {
        const mode_t old = ::umask(077);  // e-mail addresses and messages: the owner's only
        out = std::fopen(out_path.c_str(), "w");
        ::umask(old);
        if (out == nullptr) {
            std::fprintf(stderr, "Error: cannot create %s\n", out_path.c_str());
            return 1;
        }
    }
    export_counts n;
    const bool found = write_team(*db, team, out, n);
    bool written = std::fflush(out) == 0;
    if (out != stdout) written = std::fclose(out) == 0 && written;
    if (!found) {
        if (!out_path.empty()) std::remove(out_path.c_str());
        std::fprintf(stderr, "Error: no team with id %lld\n", static_cast<long long>(team));
        return 1;
    }
    if (!written) {
        std::fprintf(stderr, "Error: cannot write the export\n");
        return 1;
    }
    std::fprintf(stderr, "Exported team %lld: %zu channels, %zu messages.\n",
                 static_cast<long long>(team), n.channels, n.messages);
    return 0;
}

}  // namespace parley::app
