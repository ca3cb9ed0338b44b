// HttpClient over cpp-httplib (health and smoke checks); http and https (Debian builds it with OpenSSL). The only TU that
// includes httplib.h, a large header.
#include <httplib.h>

#include <regex>

#include "phasegate/adapters.hpp"
#include "phasegate/text.hpp"

namespace phasegate {

namespace {
constexpr size_t kBodyLimit = 16 * 1024;

struct Url {
  std::string origin;  // scheme://host[:port]
  std::string path;    // /path?query
};

Result<Url> split(const std::string& url) {
  static const std::regex re(R"(^(https?://[^/?#]+)([^#]*)(#.*)?$)");
  std::smatch m;
  if (!std::regex_match(url, m, re)) return fail(Exit::invalid, "not an http(s) URL: \"" + url + "\"");
  return Url{m[1].str(), m[2].str().empty() ? "/" : m[2].str()};
}

Result<HttpResponse> send(const std::string& url, Millis timeout, const std::string* body, const HttpClient::Headers& headers = {}) {
  auto u = split(url);
  if (!u) return std::unexpected(u.error());
  httplib::Client client(u->origin);
  auto secs = static_cast<time_t>(timeout.count() / 1000);
  auto usecs = static_cast<time_t>((timeout.count() % 1000) * 1000);
  client.set_connection_timeout(secs, usecs);
  client.set_read_timeout(secs, usecs);
  client.set_write_timeout(secs, usecs);
  httplib::Headers h;
  for (const auto& [k, v] : headers) h.emplace(k, v);
  auto res = body ? client.Post(u->path, h, *body, "application/json") : client.Get(u->path, h);
  if (!res) return fail(Exit::failed, "no response (" + httplib::to_string(res.error()) + ")");
  HttpResponse out;
  out.status = res->status;
  out.body = valid_utf8(res->body.substr(0, kBodyLimit));
  return out;
}
}  // namespace

Result<HttpResponse> HttplibClient::get(const std::string& url, Millis timeout) { return send(url, timeout, nullptr); }

Result<HttpResponse> HttplibClient::post(const std::string& url, const std::string& body, Millis timeout, const Headers& headers) {
  return send(url, timeout, &body, headers);
}

}  // namespace phasegate
