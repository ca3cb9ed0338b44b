// The cpp-httplib client against a real server on a free port: statuses, bodies, a refused connection and
// a server slower than the timeout.
#include <doctest/doctest.h>
#include <httplib.h>

#include <thread>

#include "phasegate/adapters.hpp"

using namespace phasegate;

TEST_SUITE("adapters::http") {
  TEST_CASE("GET and POST reach a real server; errors are errors, statuses are responses") {
    httplib::Server server;
    server.Get("/health", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
    server.Get("/down", [](const httplib::Request&, httplib::Response& res) { res.status = 503; });
    server.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      res.set_content("late", "text/plain");
    });
    server.Post("/books", [](const httplib::Request& req, httplib::Response& res) {
      res.status = 201;
      res.set_content("saved " + req.body, "text/plain");
    });
    int port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    std::thread t([&] { server.listen_after_bind(); });
    while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::string base = "http://127.0.0.1:" + std::to_string(port);
    HttplibClient http;

    auto ok = http.get(base + "/health", Millis(2000));
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK(ok->body == "ok");
    auto down = http.get(base + "/down", Millis(2000));
    REQUIRE(down);
    CHECK(down->status == 503);
    auto saved = http.post(base + "/books", "{\"title\":\"x\"}", Millis(2000));
    REQUIRE(saved);
    CHECK(saved->status == 201);
    CHECK(saved->body == "saved {\"title\":\"x\"}");
    auto slow = http.get(base + "/slow", Millis(300));
    CHECK_FALSE(slow);
    auto bad = http.get("ftp://example.com/x", Millis(300));
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("not an http(s) URL") != std::string::npos);

    server.stop();
    t.join();
    auto refused = http.get(base + "/health", Millis(500));
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message.find("no response") != std::string::npos);
  }
}
