// shoalctl commands that change the cluster: drain, leave, set-weight, purge, warm.
#include <algorithm>
#include <thread>

#include "cluster/ctl_commands.h"
#include "cluster/ctl_format.h"
#include "cluster/ctl_http.h"
#include "cluster/ctl_progress.h"

namespace shoal::ctl {
namespace http = boost::beast::http;
using json = nlohmann::json;
using Align = Table::Align;
using Clock = std::chrono::steady_clock;

namespace {

// How long `drain` waits for the others to see the drained node leave.
constexpr auto kLeaveVisibleTimeout = std::chrono::seconds(20);
// A /admin/warm call covers at most this many bytes of the object, whatever --batch-pages says,
// so progress updates often enough with large pages.
constexpr std::uint64_t kWarmCallBytes = 256ull << 20;

void print(const Context& ctx, const std::string& text) {
  std::fputs(text.c_str(), ctx.out);
  std::fflush(ctx.out);
}

void print_json(const Context& ctx, const json& j) {
  print(ctx, j.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
}

std::string join(const json& list) {
  std::string out;
  for (const json& x : list) out += (out.empty() ? "" : ", ") + x.get<std::string>();
  return out.empty() ? "no other member" : out;
}

// A member other than `id` that is alive, to watch `id` leave: --node unless that is `id`.
std::string observer(const Context& ctx, const json& members, const std::string& id) {
  if (members.value("self", "") != id) return ctx.node;
  for (const json& m : members["members"]) {
    if (m.value("id", "") != id && m.value("state", "") == "alive")
      return m.value("client_addr", "");
  }
  return "";
}

// Waits until `addr`'s view shows `id` left (or gone); returns the state last seen.
std::string wait_until_left(const Context& ctx, const std::string& addr, const std::string& id) {
  const auto deadline = Clock::now() + kLeaveVisibleTimeout;
  std::string state = "unknown";
  while (Clock::now() < deadline) {
    json view = call_json(addr, http::verb::get, "/admin/members", ctx.token);
    state = "gone";
    for (const json& m : view["members"]) {
      if (m.value("id", "") == id) state = m.value("state", "");
    }
    if (state == "left" || state == "gone" || state == "dead") return state;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  throw CtlError(id + " did not leave within " + std::to_string(kLeaveVisibleTimeout.count()) +
                 " s (state " + state + " at " + addr + ")");
}

}  // namespace

// --- drain, leave, set-weight --------------------------------------------------------------------

int cmd_drain(const Context& ctx, const std::string& id, std::chrono::milliseconds timeout) {
  json members = fetch_members(ctx);
  const std::string addr = member_addr(members, id);
  const std::string watcher = observer(ctx, members, id);
  if (!ctx.json)
    print(ctx,
          "Draining " + id + " at " + addr + ": weight 0, waiting for every member to see it\n");
  json r = call_json(addr, http::verb::post, "/admin/drain", ctx.token,
                     json{{"timeout_ms", timeout.count()}}, timeout + std::chrono::seconds(10));
  const std::string state = watcher.empty() ? "unknown" : wait_until_left(ctx, watcher, id);
  if (ctx.json) {
    print_json(ctx, {{"id", id}, {"drain", r}, {"state", state}});
    return 0;
  }
  print(ctx, id + ": weight 0 confirmed by " + join(r["confirmed_by"]) + " after " +
                 std::to_string(r.value("waited_ms", 0)) + " ms; " +
                 (watcher.empty() ? "leaving" : "now " + state) + "\n");
  return 0;
}

int cmd_leave(const Context& ctx) {
  json r = call_json(ctx.node, http::verb::post, "/admin/leave", ctx.token);
  if (ctx.json) {
    print_json(ctx, r);
    return 0;
  }
  print(ctx, r.value("id", ctx.node) + " is leaving the cluster and shutting down\n");
  return 0;
}

int cmd_set_weight(const Context& ctx, const std::string& id, double weight) {
  json members = fetch_members(ctx);
  const std::string addr = member_addr(members, id);
  json r = call_json(addr, http::verb::post, "/admin/weight", ctx.token, json{{"weight", weight}});
  if (ctx.json) {
    print_json(ctx, r);
    return 0;
  }
  print(ctx, id + ": weight " + number(r.value("previous_weight", 0.0)) + " -> " +
                 number(r.value("weight", 0.0)) + " (epoch " + std::to_string(r.value("epoch", 0)) +
                 " at " + id + ")\n");
  return 0;
}

// --- purge ---------------------------------------------------------------------------------------

int cmd_purge(const Context& ctx, const std::string& kind,
              const std::optional<std::string>& object) {
  json members = fetch_members(ctx);
  json body = {{"kind", kind}};
  if (object) body["object"] = *object;
  json results = json::object();
  bool failed = false;
  std::uint64_t total = 0;
  for (const json& m : members["members"]) {
    if (m.value("state", "") != "alive") continue;
    const std::string id = m.value("id", "");
    try {
      json r =
          call_json(m.value("client_addr", ""), http::verb::post, "/admin/purge", ctx.token, body);
      total += r.value("pages_dropped", std::uint64_t{0});
      results[id] = r;
    } catch (const CtlError& e) {
      failed = true;
      results[id] = {{"error", e.what()}};
    }
  }
  if (ctx.json) {
    print_json(ctx, {{"kind", kind},
                     {"object", object ? json(*object) : json(nullptr)},
                     {"pages_dropped", total},
                     {"members", results}});
  } else {
    Table t({"NODE", "PAGES DROPPED"}, {Align::kLeft, Align::kRight});
    for (const auto& [id, r] : results.items()) {
      t.add({id, r.contains("error") ? "failed: " + r["error"].get<std::string>()
                                     : std::to_string(r.value("pages_dropped", 0))});
    }
    t.add({"TOTAL", std::to_string(total)});
    print(ctx, "Purged " + kind + (object ? "/" + *object : " (every object)") + "\n" + t.render());
  }
  return failed ? 1 : 0;
}

// --- warm ----------------------------------------------------------------------------------------

namespace {

struct WarmTarget {
  std::string object;
  std::uint64_t size = 0;
  std::uint64_t page_size = 0;
  std::uint64_t pages() const { return page_size ? (size + page_size - 1) / page_size : 0; }
};

}  // namespace

int cmd_warm(const Context& ctx, const std::string& kind, const std::vector<std::string>& objects,
             std::uint64_t batch_pages) {
  // Sizes first, so progress has totals (one metadata lookup each; no page is read).
  std::vector<WarmTarget> targets;
  std::uint64_t total_bytes = 0, total_pages = 0;
  json failures = json::object();
  for (const std::string& object : objects) {
    try {
      json j =
          call_json(ctx.node, http::verb::get,
                    "/admin/locate?kind=" + query_encode(kind) + "&object=" + query_encode(object) +
                        "&range=" + query_encode("bytes=0-0"),
                    ctx.token);
      WarmTarget t{object, j.value("size", std::uint64_t{0}),
                   j.value("page_size", std::uint64_t{0})};
      total_bytes += t.size;
      total_pages += t.pages();
      targets.push_back(std::move(t));
    } catch (const CtlError& e) {
      failures[object] = e.what();
    }
  }
  Progress progress(ctx.out, ctx.tty, total_bytes, total_pages);
  const auto started = Clock::now();
  std::uint64_t bytes = 0, pages = 0;
  json done = json::array();
  for (const WarmTarget& t : targets) {
    const std::uint64_t per_call = std::max<std::uint64_t>(
        1, std::min(batch_pages, kWarmCallBytes / std::max<std::uint64_t>(1, t.page_size)));
    json sources = {{"memory", 0}, {"origin", 0}, {"coalesced", 0}, {"peer", 0}};
    try {
      for (std::uint64_t p = 0; p < t.pages(); p += per_call) {
        const std::uint64_t first = p * t.page_size;
        const std::uint64_t last = std::min(t.size, (p + per_call) * t.page_size) - 1;
        json r = call_json(
            ctx.node, http::verb::post, "/admin/warm", ctx.token,
            json{{"kind", kind},
                 {"object", t.object},
                 {"range", "bytes=" + std::to_string(first) + "-" + std::to_string(last)}},
            std::chrono::minutes(10));
        bytes += r.value("bytes", std::uint64_t{0});
        pages += r.value("pages", std::uint64_t{0});
        for (auto& [k, v] : r["sources"].items()) {
          sources[k] = sources.value(k, std::uint64_t{0}) + v.get<std::uint64_t>();
        }
        if (!ctx.json) progress.update(bytes, pages, kind + "/" + t.object);
      }
      done.push_back(
          {{"object", t.object}, {"size", t.size}, {"pages", t.pages()}, {"sources", sources}});
    } catch (const CtlError& e) {
      failures[t.object] = e.what();
    }
  }
  if (!ctx.json) progress.finish();
  const double secs = std::chrono::duration<double>(Clock::now() - started).count();
  if (ctx.json) {
    print_json(ctx, {{"kind", kind},
                     {"objects", done},
                     {"pages", pages},
                     {"bytes", bytes},
                     {"elapsed_ms", static_cast<std::int64_t>(secs * 1000)},
                     {"failed", failures}});
  } else {
    for (const auto& [object, why] : failures.items()) {
      std::fprintf(stderr, "shoalctl: warm %s/%s: %s\n", kind.c_str(), object.c_str(),
                   why.get<std::string>().c_str());
    }
    print(ctx, "Warmed " + std::to_string(done.size()) + " of " + std::to_string(objects.size()) +
                   " objects: " + std::to_string(pages) + " pages, " +
                   human_bytes(static_cast<double>(bytes)) + " in " +
                   number(std::round(secs * 10) / 10) + " s (" +
                   human_rate(secs > 0 ? static_cast<double>(bytes) / secs : 0) + ")\n");
  }
  return failures.empty() ? 0 : 1;
}

}  // namespace shoal::ctl
