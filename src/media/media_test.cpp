// Unit tests of media/: multipart parsing, file names, paths, signatures, the SSRF policy, the
// upload receiver and link preview extraction (API.md §7).
#include "media/file_store.hpp"
#include "media/filenames.hpp"
#include "media/multipart.hpp"
#include "media/paths.hpp"
#include "media/preview.hpp"
#include "media/signer.hpp"
#include "media/ssrf.hpp"
#include "media/upload.hpp"

#include <gtest/gtest.h>

#include <unistd.h>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace parley::media {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

// ---- multipart

struct recorded_part {
    part_head head;
    std::string data;
    bool ended = false;
};

class recorder : public multipart_handler {
public:
    std::vector<recorded_part> parts;
    bool stop_on_data = false;

    bool on_part(const part_head& h) override {
        parts.push_back({h, {}, false});
        return true;
    }
    bool on_data(std::string_view b) override {
        EXPECT_FALSE(b.empty());
        parts.back().data.append(b);
        return !stop_on_data;
    }
    bool on_part_end() override {
        parts.back().ended = true;
        return true;
    }
};

const std::string boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW";

std::string sample_body() {
    return "preamble to ignore\r\n"
           "--" +
           boundary +
           "\r\n"
           "Content-Disposition: form-data; name=\"note\"\r\n\r\n"
           "hello\r\n"
           "--" +
           boundary +
           "\r\n"
           "Content-Disposition: form-data; name=\"file\"; filename=\"plan.pdf\"\r\n"
           "Content-Type: application/pdf\r\n\r\n"
           "%PDF-1.4\r\n--not-the-boundary\r\n\r\nbinary\0data"s +
           "\r\n--" + boundary + "--\r\nepilogue";
}

TEST(Multipart, BoundaryFromContentType) {
    EXPECT_EQ(form_data_boundary("multipart/form-data; boundary=abc"), "abc");
    EXPECT_EQ(form_data_boundary("Multipart/Form-Data;boundary=\"a b:c\""), "a b:c");
    EXPECT_EQ(form_data_boundary("multipart/form-data; charset=utf-8; boundary=x-y"), "x-y");
    EXPECT_FALSE(form_data_boundary("multipart/form-data"));
    EXPECT_FALSE(form_data_boundary("multipart/form-data; boundary="));
    EXPECT_FALSE(form_data_boundary("multipart/mixed; boundary=abc"));
    EXPECT_FALSE(form_data_boundary("application/json"));
    EXPECT_FALSE(form_data_boundary("multipart/form-data; boundary=" + std::string(71, 'a')));
    EXPECT_TRUE(form_data_boundary("multipart/form-data; boundary=" + std::string(70, 'a')));
    EXPECT_FALSE(form_data_boundary("multipart/form-data; boundary=\"ends with space \""));
    EXPECT_FALSE(form_data_boundary("multipart/form-data; boundary=a\rb"));
}

TEST(Multipart, ParsesPartsWholeAndByteByByte) {
    const std::string body = sample_body();
    for (const std::size_t step : {body.size(), std::size_t{1}, std::size_t{7}, std::size_t{64}}) {
        recorder r;
        multipart_parser p(boundary, r);
        for (std::size_t i = 0; i < body.size(); i += step) {
            const auto st = p.feed(std::string_view(body).substr(i, step));
            ASSERT_NE(st, multipart_parser::status::malformed) << "step " << step;
        }
        EXPECT_EQ(p.finish(), multipart_parser::status::done);
        ASSERT_EQ(r.parts.size(), 2u);
        EXPECT_EQ(r.parts[0].head.name, "note");
        EXPECT_FALSE(r.parts[0].head.filename);
        EXPECT_EQ(r.parts[0].data, "hello");
        EXPECT_EQ(r.parts[1].head.name, "file");
        EXPECT_EQ(r.parts[1].head.filename, "plan.pdf");
        EXPECT_EQ(r.parts[1].head.content_type, "application/pdf");
        EXPECT_EQ(r.parts[1].data, "%PDF-1.4\r\n--not-the-boundary\r\n\r\nbinary\0data"s);
        EXPECT_TRUE(r.parts[1].ended);
    }
}

TEST(Multipart, BodyStartingWithTheDelimiterAndEmptyParts) {
    const std::string body =
        "--b\r\n\r\n\r\n--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n"
        "\r\n--b--";
    recorder r;
    multipart_parser p("b", r);
    p.feed(body);
    EXPECT_EQ(p.finish(), multipart_parser::status::done);
    ASSERT_EQ(r.parts.size(), 2u);
    EXPECT_EQ(r.parts[0].head.name, "");
    EXPECT_EQ(r.parts[0].data, "");
    EXPECT_EQ(r.parts[1].head.name, "x");
    EXPECT_TRUE(r.parts[1].ended);
}

TEST(Multipart, FilenameForms) {
    const auto head_of = [](const std::string& disposition) {
        recorder r;
        multipart_parser p("b", r);
        p.feed("--b\r\nContent-Disposition: " + disposition + "\r\n\r\nx\r\n--b--");
        EXPECT_EQ(p.finish(), multipart_parser::status::done);
        return r.parts.at(0).head;
    };
    EXPECT_EQ(head_of("form-data; name=file; filename=a.txt").filename, "a.txt");
    EXPECT_EQ(head_of(R"(form-data; name="file"; filename="a \"q\" \\ b.txt")").filename,
              "a \"q\" \\ b.txt");
    EXPECT_EQ(head_of(R"(form-data; name="file"; filename="C:\dir\a.txt")").filename,
              "C:\\dir\\a.txt");
    EXPECT_EQ(head_of(R"(form-data; name="file"; filename="x;y.txt")").filename, "x;y.txt");
    EXPECT_EQ(head_of("form-data; name=\"file\"; filename=\"fallback\"; "
                      "filename*=UTF-8''%E2%82%AC%20rates.pdf")
                  .filename,
              "\xE2\x82\xAC rates.pdf");
    EXPECT_EQ(head_of("form-data; name=\"file\"; filename*=iso-8859-1''caf%E9").filename,
              "caf\xC3\xA9");
    EXPECT_EQ(head_of(R"(form-data; name="file"; filename="")").filename, "");
    EXPECT_FALSE(head_of(R"(form-data; name="file")").filename);
    EXPECT_EQ(head_of(R"(attachment; name="file"; filename="a")").name, "");
}

TEST(Multipart, MalformedInputs) {
    const auto status_of = [](const std::string& body) {
        recorder r;
        multipart_parser p("b", r);
        p.feed(body);
        return p.finish();
    };
    using st = multipart_parser::status;
    EXPECT_EQ(status_of(""), st::malformed);
    EXPECT_EQ(status_of("no delimiter at all"), st::malformed);
    EXPECT_EQ(status_of("--b\r\n\r\ncut short"), st::malformed);
    EXPECT_EQ(status_of("--bogus\r\n\r\nx\r\n--b--"), st::malformed);  // junk after a delimiter
    EXPECT_EQ(status_of("--b\r\n" + std::string(9000, 'h') + "\r\n\r\nx\r\n--b--"), st::malformed);
    std::string many;
    for (int i = 0; i < 70; ++i) many += "--b\r\n\r\nx\r\n";
    EXPECT_EQ(status_of(many + "--b--"), st::malformed);          // more than 64 parts
    EXPECT_EQ(status_of("--b  \t\r\n\r\nx\r\n--b--"), st::done);  // transport padding is fine
}

TEST(Multipart, HandlerCanStop) {
    recorder r;
    r.stop_on_data = true;
    multipart_parser p("b", r);
    EXPECT_EQ(p.feed("--b\r\n\r\n" + std::string(1000, 'x')), multipart_parser::status::stopped);
    EXPECT_EQ(p.feed("more"), multipart_parser::status::stopped);
}

TEST(Multipart, MemoryStaysBoundedOnLargeParts) {
    struct counter : multipart_handler {
        std::size_t bytes = 0;
        bool on_part(const part_head&) override { return true; }
        bool on_data(std::string_view b) override {
            bytes += b.size();
            return true;
        }
        bool on_part_end() override { return true; }
    } c;
    multipart_parser p("b", c);
    p.feed("--b\r\n\r\n");
    const std::string chunk(64 * 1024, 'z');
    for (int i = 0; i < 64; ++i) p.feed(chunk);
    p.feed("\r\n--b--\r\n");
    EXPECT_EQ(p.finish(), multipart_parser::status::done);
    EXPECT_EQ(c.bytes, 64u * chunk.size());
}

// ---- file names and types

TEST(Filenames, SanitizeFollowsSection71) {
    EXPECT_EQ(sanitize_filename("plan.pdf"), "plan.pdf");
    EXPECT_EQ(sanitize_filename("../../etc/passwd"), "passwd");
    EXPECT_EQ(sanitize_filename("C:\\Users\\bob\\report.docx"), "report.docx");
    EXPECT_EQ(sanitize_filename("a\"b\x01\x7F\tc.txt"), "abc.txt");
    EXPECT_EQ(sanitize_filename("dir/"), "file");
    EXPECT_EQ(sanitize_filename(""), "file");
    EXPECT_EQ(sanitize_filename("\x01\x02"), "file");
    EXPECT_EQ(sanitize_filename("caf\xC3\xA9.txt"), "caf\xC3\xA9.txt");
    EXPECT_EQ(sanitize_filename("bad\xFF\xC3utf8.txt"), "badutf8.txt");
    EXPECT_EQ(sanitize_filename("c1\xC2\x85"
                                "x"),
              "c1x");  // U+0085 is a C1 control
    // Cut to 255 code points keeping the extension.
    const std::string long_stem(300, 'a');
    const auto cut = sanitize_filename(long_stem + ".pdf");
    EXPECT_EQ(cut.size(), 255u);
    EXPECT_TRUE(cut.ends_with("a.pdf"));
    std::string euros;
    for (int i = 0; i < 300; ++i) euros += "\xE2\x82\xAC";
    const auto cut_utf8 = sanitize_filename(euros + ".txt");
    EXPECT_EQ(cut_utf8.size(), 251u * 3 + 4);
    EXPECT_EQ(sanitize_filename(std::string(300, 'b')).size(), 255u);
    EXPECT_EQ(sanitize_filename("x." + std::string(300, 'e')).size(), 255u);
}

TEST(Filenames, StoredExtension) {
    EXPECT_EQ(stored_extension("plan.PDF"), "pdf");
    EXPECT_EQ(stored_extension("archive.tar.gz"), "gz");
    EXPECT_EQ(stored_extension("noext"), "");
    EXPECT_EQ(stored_extension(".bashrc"), "");
    EXPECT_EQ(stored_extension("a."), "");
    EXPECT_EQ(stored_extension("a.toolongext1"), "");
    EXPECT_EQ(stored_extension("a.abcdefghij"), "abcdefghij");
    EXPECT_EQ(stored_extension("a.p-f"), "");
    EXPECT_EQ(stored_extension("a.\xC3\xA9"), "");
}

TEST(Filenames, ContentTypes) {
    EXPECT_EQ(normalize_content_type("application/pdf"), "application/pdf");
    EXPECT_EQ(normalize_content_type("Image/PNG"), "image/png");
    EXPECT_EQ(normalize_content_type("text/plain; charset=utf-8"), "text/plain");
    EXPECT_EQ(normalize_content_type(""), "application/octet-stream");
    EXPECT_EQ(normalize_content_type("text"), "application/octet-stream");
    EXPECT_EQ(normalize_content_type("text/"), "application/octet-stream");
    EXPECT_EQ(normalize_content_type("a b/c"), "application/octet-stream");
    EXPECT_EQ(normalize_content_type("text/html\r\nX: y"), "application/octet-stream");
    EXPECT_TRUE(served_inline("image/png"));
    EXPECT_TRUE(served_inline("image/webp"));
    EXPECT_FALSE(served_inline("image/svg+xml"));
    EXPECT_FALSE(served_inline("text/html"));
}

TEST(Filenames, ContentDispositionIsRfc6266) {
    EXPECT_EQ(content_disposition("plan.pdf", false),
              "attachment; filename=\"plan.pdf\"; filename*=UTF-8''plan.pdf");
    EXPECT_EQ(content_disposition("\xE2\x82\xAC rates.pdf", true),
              "inline; filename=\"_ rates.pdf\"; filename*=UTF-8''%E2%82%AC%20rates.pdf");
    EXPECT_EQ(content_disposition("a%b;c.txt", false),
              "attachment; filename=\"a_b_c.txt\"; filename*=UTF-8''a%25b%3Bc.txt");
}

// ---- paths

TEST(Paths, StoredNamesAreStrict) {
    const auto n = new_stored_name("pdf");
    EXPECT_TRUE(n.starts_with("uploads/"));
    EXPECT_TRUE(n.ends_with(".pdf"));
    EXPECT_TRUE(valid_stored_name(n));
    EXPECT_TRUE(valid_stored_name(new_stored_name("")));
    EXPECT_NE(new_stored_name("x"), new_stored_name("x"));
    EXPECT_TRUE(valid_upload_name("0b6f0c3e-4a5e-4bb0-9f1e-2f3c1d9e7a11.pdf"));
    EXPECT_FALSE(valid_upload_name("0b6f0c3e-4a5e-4bb0-9f1e-2f3c1d9e7a11.PDF"));
    EXPECT_FALSE(valid_upload_name("0B6F0C3E-4a5e-4bb0-9f1e-2f3c1d9e7a11"));
    EXPECT_FALSE(valid_upload_name("0b6f0c3e-4a5e-3bb0-9f1e-2f3c1d9e7a11"));  // version 3
    EXPECT_FALSE(valid_upload_name("0b6f0c3e-4a5e-4bb0-cf1e-2f3c1d9e7a11"));  // variant
    EXPECT_FALSE(valid_upload_name("0b6f0c3e-4a5e-4bb0-9f1e-2f3c1d9e7a11."));
    EXPECT_FALSE(valid_upload_name("0b6f0c3e-4a5e-4bb0-9f1e-2f3c1d9e7a11.abcdefghijk"));
    EXPECT_FALSE(valid_upload_name("0b6f0c3e-4a5e-4bb0-9f1e-2f3c1d9e7a11/../x"));
    EXPECT_FALSE(valid_stored_name("uploads/../secret_key"));
    EXPECT_FALSE(valid_stored_name("/etc/passwd"));
    EXPECT_FALSE(valid_stored_name("uploadsx/0b6f0c3e-4a5e-4bb0-9f1e-2f3c1d9e7a11"));
}

TEST(Paths, MediaRequestPathsNeverEscapeUploads) {
    const std::string name = "0b6f0c3e-4a5e-4bb0-9f1e-2f3c1d9e7a11.pdf";
    EXPECT_EQ(stored_name_of_media_path("/media/uploads/" + name), "uploads/" + name);
    EXPECT_EQ(stored_name_of_media_path("/media/uploads/" + name + "/"), "uploads/" + name);
    EXPECT_EQ(
        stored_name_of_media_path("/media/uploads/%30b6f0c3e-4a5e-4bb0-9f1e-2f3c1d9e7a11.pdf"),
        "uploads/" + name);
    for (const char* bad : {
             "/media/uploads/../parley.sqlite3",
             "/media/uploads/..%2Fsecret_key",
             "/media/uploads/%2e%2e%2fsecret_key",
             "/media/uploads/%2E%2E",
             "/media/uploads/..",
             "/media/uploads/",
             "/media/uploads",
             "/media/uploads//etc/passwd",
             "/media/uploads/x/0b6f0c3e-4a5e-4bb0-9f1e-2f3c1d9e7a11.pdf",
             "/media/../uploads/0b6f0c3e-4a5e-4bb0-9f1e-2f3c1d9e7a11.pdf",
             "/media/uploads/0b6f0c3e-4a5e-4bb0-9f1e-2f3c1d9e7a11.pdf%00.png",
             "/media/uploads/0b6f0c3e-4a5e-4bb0-9f1e-2f3c1d9e7a11.pdf%2F",
             "/media/uploads/0b6f0c3e-4a5e-4bb0-9f1e-2f3c1d9e7a11%5C.pdf",
             "/media/uploads/%",
             "/media/uploads/%zz",
             "/media/secret_key",
             "/etc/passwd",
         }) {
        EXPECT_FALSE(stored_name_of_media_path(bad)) << bad;
    }
    EXPECT_FALSE(stored_name_of_media_path(std::string("/media/uploads/a\0b", 17)));
}

// ---- signatures

TEST(Signer, Base64UrlAndHmacVectors) {
    EXPECT_EQ(base64url(""), "");
    EXPECT_EQ(base64url("f"), "Zg");
    EXPECT_EQ(base64url("fo"), "Zm8");
    EXPECT_EQ(base64url("foo"), "Zm9v");
    EXPECT_EQ(base64url("\xfb\xff"), "-_8");
    // RFC 4231 test case 2.
    EXPECT_EQ(base64url(hmac_sha256("Jefe", "what do ya want for nothing?")),
              base64url(std::string("\x5b\xdc\xc1\x46\xbf\x60\x75\x4e\x6a\x04\x24\x26\x08\x95\x75"
                                    "\xc7\x5a\x00\x3f\x08\x9d\x27\x39\x83\x9d\xec\x58\xb9\x64\xec"
                                    "\x38\x43",
                                    32)));
}

TEST(Signer, SignsAndVerifiesPerSection73) {
    std::int64_t now = 1742385420;
    url_signer s("secret", std::chrono::seconds(3600), [&] { return now; });
    const std::string path = "/media/uploads/0b6f0c3e-4a5e-4bb0-9f1e-2f3c1d9e7a11.pdf";
    const auto url = s.signed_url("uploads/0b6f0c3e-4a5e-4bb0-9f1e-2f3c1d9e7a11.pdf");
    EXPECT_EQ(url, path + "?expires=1742389020&signature=" + s.signature(path, 1742389020));
    // The scheme itself: key = HMAC(secret, "parley-media"), message "<path>\n<expires>".
    EXPECT_EQ(s.signature(path, 1742389020),
              base64url(hmac_sha256(hmac_sha256("secret", "parley-media"), path + "\n1742389020")));
    const auto sig = s.signature(path, 1742389020);
    EXPECT_EQ(sig.size(), 43u);
    EXPECT_TRUE(s.verify(path, "1742389020", sig));
    EXPECT_FALSE(s.verify(path + "x", "1742389020", sig));
    EXPECT_FALSE(s.verify(path, "1742389021", sig));
    EXPECT_FALSE(s.verify(path, "1742389020", sig.substr(1)));
    EXPECT_FALSE(s.verify(path, "", sig));
    EXPECT_FALSE(s.verify(path, "-1", sig));
    EXPECT_FALSE(s.verify(path, "17423890200000000000000", sig));
    url_signer other("other", std::chrono::seconds(3600), [&] { return now; });
    EXPECT_FALSE(other.verify(path, "1742389020", sig));
    now = 1742389021;  // expired
    EXPECT_FALSE(s.verify(path, "1742389020", sig));
}

// ---- SSRF policy

bool blocked(const char* ip) {
    const auto a = parse_ip(ip);
    EXPECT_TRUE(a) << ip;
    return a && blocked_reason(*a).has_value();
}

TEST(Ssrf, ParsesAddressesStrictly) {
    EXPECT_TRUE(parse_ip("1.2.3.4"));
    EXPECT_TRUE(parse_ip("::"));
    EXPECT_TRUE(parse_ip("::1"));
    EXPECT_TRUE(parse_ip("2001:db8::1"));
    EXPECT_TRUE(parse_ip("::ffff:127.0.0.1"));
    EXPECT_TRUE(parse_ip("1:2:3:4:5:6:7:8"));
    EXPECT_TRUE(parse_ip("1:2:3:4:5:6:1.2.3.4"));
    for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ",
                            "0x7f.0.0.1", "2130706433", "1:2:3:4:5:6:7:8:9", "1::2::3",
                            ":::", "12345::", "fe80::1%eth0", "[::1]", "1.2.3.4::", "g::1"}) {
        EXPECT_FALSE(parse_ip(bad)) << bad;
    }
    EXPECT_EQ(*parse_ip("::ffff:7f00:1"), *parse_ip("::ffff:127.0.0.1"));
}

TEST(Ssrf, BlocksEveryNonPublicRange) {
    for (const char* ip : {"127.0.0.1",
                           "127.255.255.254",
                           "10.0.0.1",
                           "172.16.0.1",
                           "172.31.255.255",
                           "192.168.1.1",
                           "169.254.169.254",
                           "100.64.0.1",
                           "100.127.255.255",
                           "0.0.0.0",
                           "0.1.2.3",
                           "224.0.0.1",
                           "239.255.255.255",
                           "240.0.0.1",
                           "255.255.255.255",
                           "192.0.2.1",
                           "198.51.100.7",
                           "203.0.113.9",
                           "198.18.0.1",
                           "198.19.255.255",
                           "192.0.0.170",
                           "192.88.99.1",
                           "::",
                           "::1",
                           "::ffff:127.0.0.1",
                           "::ffff:10.0.0.1",
                           "::ffff:169.254.169.254",
                           "::127.0.0.1",
                           "::8.8.8.8",
                           "::ffff:0:127.0.0.1",
                           "64:ff9b::127.0.0.1",
                           "64:ff9b::a9fe:a9fe",
                           "fc00::1",
                           "fd00:ec2::254",
                           "fe80::1",
                           "febf::1",
                           "fec0::1",
                           "ff02::1",
                           "2001:db8::1",
                           "2001::1",
                           "2002:7f00:1::1",
                           "100::1",
                           "3fff::1",
                           "5f00::1",
                           "1::1",
                           "4000::1"}) {
        EXPECT_TRUE(blocked(ip)) << ip;
    }
    for (const char* ip :
         {"8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.0", "172.32.0.1",
          "169.253.255.255", "223.255.255.255", "2606:4700:4700::1111", "2a00:1450:4001::1",
          "::ffff:8.8.8.8", "64:ff9b::808:808", "2001:4860:4860::8888"}) {
        EXPECT_FALSE(blocked(ip)) << ip;
    }
}

TEST(Ssrf, CidrsAndTheAllowList) {
    const auto net = parse_cidr("10.1.0.0/16");
    ASSERT_TRUE(net);
    EXPECT_TRUE(net->contains(*parse_ip("10.1.200.3")));
    EXPECT_FALSE(net->contains(*parse_ip("10.2.0.1")));
    EXPECT_FALSE(net->contains(*parse_ip("::ffff:10.1.0.1")));
    EXPECT_FALSE(parse_cidr("10.0.0.0/33"));
    EXPECT_FALSE(parse_cidr("10.0.0.0/"));
    EXPECT_TRUE(parse_cidr("fd00::/8"));
    EXPECT_TRUE(parse_cidr("0.0.0.0/0"));

    const address_policy none;
    EXPECT_FALSE(none.allows("localhost", "127.0.0.1"));
    EXPECT_FALSE(none.allows("x", "not an ip"));
    EXPECT_FALSE(none.allows("x", "fe80::1%eth0"));
    EXPECT_TRUE(none.allows("example.com", "93.184.216.34"));

    const address_policy p({"127.0.0.1", " 10.1.0.0/16", "Intranet.Example.", "fd00::/8", "[::1]"});
    EXPECT_TRUE(p.allows("a", "127.0.0.1"));
    EXPECT_TRUE(p.allows("a", "::ffff:127.0.0.1"));
    EXPECT_FALSE(p.allows("a", "127.0.0.2"));
    EXPECT_TRUE(p.allows("a", "10.1.2.3"));
    EXPECT_FALSE(p.allows("a", "10.2.2.3"));
    EXPECT_TRUE(p.allows("a", "fd12::1"));
    EXPECT_TRUE(p.allows("a", "::1"));
    EXPECT_TRUE(p.allows("intranet.example", "192.168.0.10"));
    EXPECT_TRUE(p.host_listed("INTRANET.example."));
    EXPECT_FALSE(p.host_listed("other.example"));
    EXPECT_FALSE(p.allows("other.example", "192.168.0.10"));
}

// ---- upload receiver

class UploadReceiver : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = fs::temp_directory_path() / ("parley-media-test-" + std::to_string(::getpid()) +
                                             "-" + std::to_string(counter_++));
        fs::remove_all(root_);
        files_.emplace(root_);
    }
    void TearDown() override { fs::remove_all(root_); }

    std::size_t files_in_uploads() const {
        std::size_t n = 0;
        for (const auto& e : fs::directory_iterator(files_->uploads_dir())) {
            (void)e;
            ++n;
        }
        return n;
    }

    static std::string body_with(const std::string& filename, const std::string& data) {
        return "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + filename +
               "\"\r\nContent-Type: text/plain\r\n\r\n" + data + "\r\n--b--\r\n";
    }

    static inline int counter_ = 0;
    fs::path root_;
    std::optional<file_store> files_;
};

TEST_F(UploadReceiver, WritesWhileReceivingAndCommits) {
    upload_receiver r(*files_, "b", 100);
    const std::string body = body_with("../notes.TXT", std::string(100, 'n'));
    for (std::size_t i = 0; i < body.size(); i += 10) ASSERT_TRUE(r.write(body.substr(i, 10)));
    auto got = r.finish();
    ASSERT_TRUE(got);
    EXPECT_EQ(got->filename, "notes.TXT");
    EXPECT_EQ(got->extension, "txt");
    EXPECT_EQ(got->content_type, "text/plain");
    EXPECT_EQ(got->size, 100u);
    EXPECT_EQ(files_in_uploads(), 1u);  // the temporary file
    const auto name = new_stored_name(got->extension);
    r.commit(name);
    const auto f = files_->open(name);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->size(), 100u);
    EXPECT_EQ(files_in_uploads(), 1u);
    EXPECT_TRUE(files_->remove(name));
    EXPECT_EQ(files_in_uploads(), 0u);
}

TEST_F(UploadReceiver, RefusesPastTheLimitAndRemovesThePartialFile) {
    upload_receiver r(*files_, "b", 100);
    const std::string body = body_with("a.bin", std::string(101, 'x'));
    const auto w = r.write(body);
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error().code, core::errc::payload_too_large);
    EXPECT_EQ(w.error().message, "File too large. The limit is 100 bytes.");
    EXPECT_EQ(files_in_uploads(), 0u);
}

TEST_F(UploadReceiver, NoFileCases) {
    for (const std::string& body : {
             std::string("--b\r\nContent-Disposition: form-data; name=\"other\"; "
                         "filename=\"a\"\r\n\r\nx\r\n--b--"),
             std::string("--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--b--"),
             body_with("", "x"),
             std::string("--b\r\nContent-Disposition: form-data; name=\"file\"; "
                         "filename=\"a\"\r\n\r\ncut short"),
             std::string("garbage"),
         }) {
        upload_receiver r(*files_, "b", 100);
        (void)r.write(body);
        const auto got = r.finish();
        ASSERT_FALSE(got) << body;
        EXPECT_EQ(got.error().code, core::errc::required);
        EXPECT_EQ(got.error().message, "No file provided");
        EXPECT_EQ(files_in_uploads(), 0u) << body;
    }
}

TEST_F(UploadReceiver, AbortAndDestructionRemoveThePartialFile) {
    {
        upload_receiver r(*files_, "b", 1000);
        ASSERT_TRUE(
            r.write("--b\r\nContent-Disposition: form-data; name=\"file\"; "
                    "filename=\"a\"\r\n\r\nhalf of it"));
        EXPECT_EQ(files_in_uploads(), 1u);
    }
    EXPECT_EQ(files_in_uploads(), 0u);
    upload_receiver r(*files_, "b", 1000);
    ASSERT_TRUE(r.write(body_with("a", "all")));
    r.abort();
    EXPECT_EQ(files_in_uploads(), 0u);
    EXPECT_FALSE(r.finish());
}

TEST_F(UploadReceiver, StaleTemporaryFilesAreSwept) {
    auto t = files_->create_temp();
    t->write("x");
    EXPECT_EQ(files_->remove_stale_temps(std::chrono::seconds(3600)), 0u);
    EXPECT_EQ(files_->remove_stale_temps(std::chrono::seconds(-1)), 1u);
    EXPECT_FALSE(files_->open("uploads/../x"));
}

// ---- link previews

TEST(Preview, UrlsAccepted) {
    const auto u = parse_preview_url("https://Example.COM/post?x=1#frag");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->scheme, "https");
    EXPECT_EQ(u->host, "Example.COM");
    EXPECT_EQ(u->port, 443);
    EXPECT_EQ(u->target, "/post?x=1");
    EXPECT_EQ(u->site_name, "Example.COM");
    const auto v6 = parse_preview_url("http://[::1]:8443");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->target, "/");
    EXPECT_EQ(v6->site_name, "[::1]:8443");
    EXPECT_EQ(parse_preview_url("http://example.com:80/")->site_name, "example.com");
    EXPECT_EQ(parse_preview_url("http://2130706433/")->host, "2130706433");
    for (const char* bad : {"", "example.com", "ftp://example.com/", "javascript:alert(1)",
                            "http:/x", "http://", "http://exa mple.com/", "http://example.com:0/",
                            "http://example.com:99999/", "file:///etc/passwd", "http://[v1.x]/"}) {
        EXPECT_FALSE(parse_preview_url(bad)) << bad;
    }
    EXPECT_FALSE(parse_preview_url("http://e.com/" + std::string(2040, 'a')));
    EXPECT_TRUE(parse_preview_url("http://e.com/" + std::string(2035, 'a')));
}

TEST(Preview, ResolvesRelativeUrls) {
    EXPECT_EQ(resolve_http_url("http://h.com/a/b", "../img.png"), "http://h.com/img.png");
    EXPECT_EQ(resolve_http_url("https://h.com/a/b", "//cdn.com/x.png"), "https://cdn.com/x.png");
    EXPECT_EQ(resolve_http_url("https://h.com/a/b", " /x.png "), "https://h.com/x.png");
    EXPECT_FALSE(resolve_http_url("https://h.com/", "javascript:alert(1)"));
    EXPECT_FALSE(resolve_http_url("https://h.com/", "data:image/png;base64,AAAA"));
    EXPECT_FALSE(resolve_http_url("https://h.com/", ""));
    EXPECT_FALSE(resolve_http_url("https://h.com/", "/" + std::string(2100, 'x')));
}

TEST(Preview, CleanTextCollapsesAndCuts) {
    EXPECT_EQ(clean_text("  a \n\t b\xC2\xA0\xE2\x80\x83 c  ", 100), "a b c");
    EXPECT_FALSE(clean_text(" \n\t ", 100));
    EXPECT_EQ(clean_text("abcdef", 3), "abc");
    EXPECT_EQ(clean_text("ab  cd", 3), "ab ");
    EXPECT_EQ(clean_text("\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC", 2), "\xE2\x82\xAC\xE2\x82\xAC");
    EXPECT_EQ(clean_text("a\x7F\xC2\x80"
                         "b\xFF",
                         10),
              "ab");
}

TEST(Preview, ExtractsOpenGraphThenFallbacks) {
    const std::string og = R"(<!doctype html><html><head>
        <meta property="og:title" content="  The   &amp; Title ">
        <meta name="og:description" content="Desc">
        <meta property="og:image" content="/img/cover.png">
        <meta property="og:site_name" content="Site">
        <title>Ignored</title><meta name="description" content="ignored too">
        </head><body></body></html>)";
    const auto f = extract_page_fields(og, "https://ex.com/posts/1");
    EXPECT_EQ(f.title, "The & Title");
    EXPECT_EQ(f.description, "Desc");
    EXPECT_EQ(f.image, "https://ex.com/img/cover.png");
    EXPECT_EQ(f.site_name, "Site");

    const std::string plain =
        "<title>\n  Plain\n  page </title><META NAME=Description "
        "CONTENT='About   things'><meta property=og:image "
        "content='javascript:alert(1)'>";
    const auto g = extract_page_fields(plain, "http://ex.com/");
    EXPECT_EQ(g.title, "Plain page");
    EXPECT_EQ(g.description, "About things");
    EXPECT_FALSE(g.image);
    EXPECT_FALSE(g.site_name);

    const auto empty = extract_page_fields("", "http://ex.com/");
    EXPECT_FALSE(empty.title);
    const auto h =
        extract_page_fields("<title>" + std::string(500, 'x') + "</title>", "http://ex.com/");
    EXPECT_EQ(h.title->size(), 300u);
    // Binary junk is not a crash, and never produces invalid UTF-8.
    std::string junk;
    std::mt19937 rng(7);
    for (int i = 0; i < 20000; ++i) junk.push_back(static_cast<char>(rng()));
    junk += "<title>t\xFF\xFEx</title>";
    const auto j = extract_page_fields(junk, "http://ex.com/");
    if (j.title) {
        EXPECT_EQ(clean_text(*j.title, 300), j.title);
    }
}

TEST(Preview, HostileNestingIsCutBeforeParsing) {
    // Each of these, 1 MiB long, takes gumbo seconds to hours when parsed whole.
    for (const std::string unit : {"<div>", "<div></span>", "<i><div></i>", "<b><i></b></i>"}) {
        std::string doc = "<title>Deep</title>";
        while (doc.size() < 1024 * 1024) doc += unit;
        const auto started = std::chrono::steady_clock::now();
        const auto f = extract_page_fields(doc, "http://ex.com/");
        EXPECT_EQ(f.title, "Deep") << unit;
        EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2)) << unit;
    }
    // Tags inside raw text do not count, and a normal page is not cut.
    std::string script = "<script>" + std::string(100000, '<') + "</script>";
    for (int i = 0; i < 100; ++i) script += "<div>";
    const auto g =
        extract_page_fields(script + "<meta name=description content=kept>", "http://ex.com/");
    EXPECT_EQ(g.description, "kept");
}

TEST(Preview, MakePreviewDefaultsToTheHost) {
    const auto u = parse_preview_url("http://example.com:8443/x");
    ASSERT_TRUE(u);
    const auto failed = make_preview(*u, std::nullopt);
    EXPECT_EQ(failed.url, "http://example.com:8443/x");
    EXPECT_FALSE(failed.title);
    EXPECT_FALSE(failed.description);
    EXPECT_FALSE(failed.image);
    EXPECT_EQ(failed.site_name, "example.com:8443");
    page_fields f;
    f.title = "T";
    EXPECT_EQ(make_preview(*u, f).site_name, "example.com:8443");
    f.site_name = "S";
    EXPECT_EQ(make_preview(*u, f).site_name, "S");
}

TEST(Preview, CacheExpiresAndStaysBounded) {
    preview_cache c(2);
    const auto t0 = preview_cache::clock::now();
    model::link_preview p;
    p.url = "a";
    c.put("a", p, t0 + std::chrono::seconds(10));
    EXPECT_TRUE(c.get("a", t0));
    EXPECT_FALSE(c.get("a", t0 + std::chrono::seconds(11)));
    c.put("a", p, t0 + std::chrono::seconds(10));
    c.put("b", p, t0 + std::chrono::seconds(10));
    EXPECT_TRUE(c.get("a", t0));  // a is now the most recent
    c.put("c", p, t0 + std::chrono::seconds(10));
    EXPECT_TRUE(c.get("a", t0));
    EXPECT_FALSE(c.get("b", t0));
    EXPECT_TRUE(c.get("c", t0));
}

}  // namespace
}  // namespace parley::media
