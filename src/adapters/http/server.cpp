// HttpServer over cpp-httplib (`phasegate serve`); with client.cpp the only files including httplib.h.
#include <httplib.h>

#include <thread>

#include "phasegate/adapters.hpp"

namespace phasegate {

struct HttpServer::Impl {
  httplib::Server server;
  std::thread thread;
};

HttpServer::HttpServer() : impl_(std::make_unique<Impl>()) {
  // Nothing the handlers answer is secret to the process, but nothing else is served either: unknown paths are 404.
  impl_->server.set_keep_alive_max_count(100);
  impl_->server.set_read_timeout(5, 0);
  impl_->server.set_write_timeout(5, 0);
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::get(const std::string& path, std::function<Response()> handler) {
  impl_->server.Get(path, [handler = std::move(handler)](const httplib::Request&, httplib::Response& res) {
    Response r = handler();
    res.status = r.status;
    // The banner snippet fetches /status from the app's pages, often on another origin (docs/serve.md).
    res.set_header("Access-Control-Allow-Origin", "*");
    res.set_header("Cache-Control", "no-store");
    res.set_content(r.body, r.content_type.c_str());
  });
}

Result<int> HttpServer::bind(const std::string& host, int port) {
  int got = port == 0 ? impl_->server.bind_to_any_port(host.c_str()) : (impl_->server.bind_to_port(host.c_str(), port) ? port : -1);
  if (got <= 0)
    return fail(Exit::invalid, "cannot listen on " + host + ":" + std::to_string(port) +
                                   " (the port is in use, or the address is not one of this host's); nothing was started");
  return got;
}

void HttpServer::start() {
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
}

void HttpServer::stop() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace phasegate
