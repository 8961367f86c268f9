// parley: the command line (API.md §10.1) and the wiring of every layer. The only place that
// names a backend or reads configuration.
#include "api/application.hpp"
#include "api/ws/hub.hpp"
#include "app/bootstrap.hpp"
#include "app/data_commands.hpp"
#include "chat/auth_service.hpp"
#include "core/log.hpp"
#include "net/server.hpp"

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <termios.h>
#include <unistd.h>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

namespace {

using namespace parley;

// Reads one line from stdin, without echo when stdin is a terminal.
std::string read_secret_line(const char* prompt) {
    const bool tty = ::isatty(STDIN_FILENO) != 0;
    termios old{};
    if (tty) {
        std::fprintf(stderr, "%s", prompt);
        ::tcgetattr(STDIN_FILENO, &old);
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    std::string line;
    std::getline(std::cin, line);
    if (tty) {
        ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
        std::fprintf(stderr, "\n");
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

std::string read_line(const char* prompt) {
    if (::isatty(STDIN_FILENO)) std::fprintf(stderr, "%s", prompt);
    std::string line;
    std::getline(std::cin, line);
    return line;
}

// What to do next, on stderr at start (README, "Two commands"): the address, the data, the stop.
void print_banner(const config::settings& s, unsigned short port) {
    std::string host = s.http.host == "0.0.0.0" || s.http.host == "::" ? "127.0.0.1" : s.http.host;
    if (host.find(':') != std::string::npos) host = "[" + host + "]";  // IPv6 in a URL
    std::fprintf(stderr,
                 "\n  Parley is serving on http://%s:%u/ (web client; REST API under /api/, "
                 "OpenAPI at /api/schema/)\n"
                 "  data: %s (%s)\n"
                 "  stop: Ctrl-C or SIGTERM (a clean stop); back up: parley backup PATH\n\n",
                 host.c_str(), port, std::filesystem::absolute(s.data_dir).c_str(),
                 s.database_url.starts_with("sqlite:") ? "SQLite database, uploads"
                                                       : "uploads; the database is in PostgreSQL");
}

int serve(app::runtime& rt) {
    std::atomic<bool> shutting_down{false};
    api::services svc = rt.api_services(shutting_down);
    api::application application(svc);
    // The WebSocket protocol (API.md §8); declared before the server, which calls into it.
    api::ws_hub hub(svc, application, rt.realtime(), rt.bus(), rt.streams(), rt.presence(),
                    rt.events());
    net::server server(rt.settings.http, application, &hub, rt.settings.ws);
    rt.start_realtime(server.event_loop());  // Redis: connects once the I/O threads run
    server.on_shutdown([&] { shutting_down = true; });
    server.listen();
    rt.start_maintenance();  // orphan uploads (§1.4), expired blacklist entries (§2.3)
    spdlog::info("parley {} listening on http://{}:{}/ ({} store, {} fan-out)", PARLEY_VERSION,
                 rt.settings.http.host, server.port(), rt.store->backend(), rt.fanout_name());
    if (!rt.settings.production()) print_banner(rt.settings, server.port());
    server.run();
    hub.stop();          // after the sockets closed: timers off, pending last_seen recorded
    rt.stop_realtime();  // Redis connections, while the server's event loop still exists
    spdlog::info("parley stopped");
    return 0;
}

int migrate(app::runtime& rt, bool check_only) {
    const auto pending = rt.store->pending_migrations();
    if (check_only) {
        for (const auto& m : pending) std::printf("pending: %s\n", m.c_str());
        if (pending.empty()) std::printf("No pending migrations.\n");
        return pending.empty() ? 0 : 1;
    }
    rt.store->migrate();
    std::printf("Applied %zu migration(s).\n", pending.size());
    return 0;
}

int createsuperuser(app::runtime& rt, std::string username, std::string email, bool no_input) {
    std::string password;
    if (no_input) {
        const auto env = [](const char* name) {
            const char* v = std::getenv(name);
            return std::string(v ? v : "");
        };
        if (username.empty()) username = env("PARLEY_SUPERUSER_USERNAME");
        if (email.empty()) email = env("PARLEY_SUPERUSER_EMAIL");
        password = env("PARLEY_SUPERUSER_PASSWORD");
        if (username.empty() || email.empty() || password.empty()) {
            std::fprintf(stderr,
                         "Error: --no-input needs PARLEY_SUPERUSER_USERNAME, "
                         "PARLEY_SUPERUSER_EMAIL and PARLEY_SUPERUSER_PASSWORD.\n");
            return 1;
        }
    } else {
        if (username.empty()) username = read_line("Username: ");
        if (email.empty()) email = read_line("Email address: ");
        password = read_secret_line("Password: ");
        if (read_secret_line("Password (again): ") != password) {
            std::fprintf(stderr, "Error: Your passwords didn't match.\n");
            return 1;
        }
    }
    auto made = rt.auth().create_superuser(username, email, password);
    if (!made) {
        std::fprintf(stderr, "Error: %s\n", made.error().message.c_str());
        return 1;
    }
    std::printf("Superuser created successfully.\n");
    return 0;
}

int changepassword(app::runtime& rt, const std::string& username, bool from_stdin) {
    std::string password;
    if (from_stdin) {
        std::getline(std::cin, password);
        if (!password.empty() && password.back() == '\r') password.pop_back();
    } else {
        password = read_secret_line("Password: ");
        if (read_secret_line("Password (again): ") != password) {
            std::fprintf(stderr, "Error: Passwords do not match.\n");
            return 1;
        }
    }
    auto r = rt.auth().change_password(username, password);
    if (!r) {
        std::fprintf(stderr, "Error: %s\n", r.error().message.c_str());
        return 1;
    }
    std::printf("Password changed successfully for user '%s'.\n", username.c_str());
    return 0;
}

// "yes"/"no" and the other §10.2 boolean spellings; nullopt when absent or unknown.
std::optional<bool> parse_flag(const std::string& v) {
    if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
    if (v == "0" || v == "false" || v == "no" || v == "off") return false;
    return std::nullopt;
}

int setuser(app::runtime& rt, const std::string& username, const std::string& active,
            const std::string& staff) {
    const auto a = parse_flag(active);
    const auto s = parse_flag(staff);
    if ((!active.empty() && !a) || (!staff.empty() && !s) || (!a && !s)) {
        std::fprintf(stderr, "Error: give --active and/or --staff as yes or no.\n");
        return 2;
    }
    auto r = rt.auth().set_user_status(username, a, s);
    if (!r) {
        std::fprintf(stderr, "Error: %s\n", r.error().message.c_str());
        return 1;
    }
    std::printf("User '%s': active=%s staff=%s.\n", username.c_str(), r->is_active ? "yes" : "no",
                r->staff() ? "yes" : "no");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{"Parley: a real-time team chat server.", "parley"};
    cli.set_version_flag("--version", std::string("parley ") + PARLEY_VERSION);
    cli.require_subcommand(1);

    app::options opts;
    config::raw_values flag_storage;  // every flag's slot; only the given ones count
    std::vector<CLI::App*> commands;
    const auto add_config_flags = [&](CLI::App* cmd) {
        commands.push_back(cmd);
        cmd->add_option("--env-file", opts.env_file, "read KEY=VALUE settings from this file");
        for (const auto& v : config::variables()) {
            cmd->add_option(config::flag_name(v.name), flag_storage[std::string(v.name)],
                            std::string(v.help) + " [" + std::string(v.name) + "]");
        }
    };

    auto* serve_cmd = cli.add_subcommand("serve", "apply migrations and serve until SIGTERM");
    add_config_flags(serve_cmd);

    bool check_only = false;
    auto* migrate_cmd = cli.add_subcommand("migrate", "apply pending database migrations");
    migrate_cmd->add_flag("--check", check_only, "only report pending migrations (exit 1 if any)");
    add_config_flags(migrate_cmd);

    std::string su_username, su_email;
    bool no_input = false;
    auto* su_cmd = cli.add_subcommand("createsuperuser", "create a staff superuser");
    su_cmd->add_option("--username", su_username, "username");
    su_cmd->add_option("--email", su_email, "email address");
    su_cmd->add_flag("--no-input", no_input,
                     "read PARLEY_SUPERUSER_USERNAME/_EMAIL/_PASSWORD, never prompt");
    add_config_flags(su_cmd);

    std::string cp_username;
    bool password_stdin = false;
    auto* cp_cmd = cli.add_subcommand("changepassword", "set a user's password");
    cp_cmd->add_option("username", cp_username, "the user")->required();
    cp_cmd->add_flag("--password-stdin", password_stdin, "read the password as one stdin line");
    add_config_flags(cp_cmd);

    std::string su_target, su_active, su_staff;
    auto* setuser_cmd =
        cli.add_subcommand("setuser", "activate or deactivate a user, grant or remove staff");
    setuser_cmd->add_option("username", su_target, "the user")->required();
    setuser_cmd->add_option("--active", su_active,
                            "yes or no; no also revokes every token and closes the user's sockets");
    setuser_cmd->add_option("--staff", su_staff, "yes or no (is_staff and is_superuser)");
    add_config_flags(setuser_cmd);

    auto* check_cmd = cli.add_subcommand("check", "validate configuration and dependencies");
    add_config_flags(check_cmd);

    std::string data_path, export_out;
    std::int64_t export_team_id = 0;
    auto* backup_cmd = cli.add_subcommand(
        "backup", "copy the SQLite database (online) and the uploads into a new folder");
    backup_cmd->add_option("path", data_path, "the backup folder (new or empty)")->required();
    add_config_flags(backup_cmd);
    auto* restore_cmd = cli.add_subcommand(
        "restore", "restore a backup into a data folder without a database or a running server");
    restore_cmd->add_option("path", data_path, "a folder written by `parley backup`")->required();
    add_config_flags(restore_cmd);
    auto* export_cmd =
        cli.add_subcommand("export", "write a team's channels, members and messages as JSON lines");
    export_cmd->add_option("--team", export_team_id, "the team's id")->required();
    export_cmd->add_option("--out", export_out, "write to this file (mode 0600), not stdout");
    add_config_flags(export_cmd);

    try {
        cli.parse(argc, argv);
    } catch (const CLI::Success& e) {
        return cli.exit(e);
    } catch (const CLI::ParseError& e) {
        cli.exit(e);
        return 2;
    }

    for (auto* cmd : commands) {
        if (!cmd->parsed()) continue;
        for (const auto& v : config::variables())
            if (cmd->count(config::flag_name(v.name)) > 0)
                opts.flags[std::string(v.name)] = flag_storage[std::string(v.name)];
    }

    try {
        if (check_cmd->parsed()) return app::check(opts);
        if (backup_cmd->parsed()) return app::backup(opts, data_path);
        if (restore_cmd->parsed()) return app::restore(opts, data_path);
        if (export_cmd->parsed()) return app::export_team(opts, export_team_id, export_out);
        auto rt = app::runtime::open(opts, /*for_serve=*/serve_cmd->parsed());
        if (!rt) return 1;
        // `serve` holds the data folder's lock shared until it exits, so `restore` refuses it.
        std::optional<app::data_dir_lock> lock;
        if (serve_cmd->parsed()) {
            std::string error;
            lock = app::data_dir_lock::acquire(rt->settings.data_dir,
                                               app::data_dir_lock::mode::shared, error);
            if (!lock) {
                std::fprintf(stderr, "Error: %s\n", error.c_str());
                return 1;
            }
        }
        if (migrate_cmd->parsed()) return migrate(*rt, check_only);
        rt->store->migrate();
        if (serve_cmd->parsed()) return serve(*rt);
        if (su_cmd->parsed()) return createsuperuser(*rt, su_username, su_email, no_input);
        if (cp_cmd->parsed()) return changepassword(*rt, cp_username, password_stdin);
        if (setuser_cmd->parsed()) return setuser(*rt, su_target, su_active, su_staff);
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        std::fprintf(stderr, "Error: %s\n", e.what());
        return 1;
    }
    return 2;
}
