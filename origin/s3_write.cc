#include "origin/s3_write.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>

namespace shoal::origin {
namespace {

// Response headers a write's client reads (compared case-insensitively).
bool kept_header(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower == "etag" || lower == "last-modified" || lower == "x-amz-version-id" ||
         lower.starts_with("x-amz-checksum-") || lower.starts_with("x-amz-server-side-encryption");
}

// What curl's callbacks fill in.
struct Received {
  WriteResult* out;
  BodyPipe* body;
};

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* r = static_cast<Received*>(user);
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    r->out->headers.clear();  // a new response (after a 100 Continue)
    return size * count;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return size * count;
  std::string_view name = line.substr(0, colon), value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  if (kept_header(name)) r->out->headers.emplace_back(std::string(name), std::string(value));
  return size * count;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* r = static_cast<Received*>(user);
  const std::size_t n = size * count;
  if (r->out->body.size() + n > OriginWriter::kMaxResponseBody) {
    r->out->body_capped = true;
    return 0;
  }
  r->out->body.append(data, n);
  return n;
}

std::size_t on_read(char* dest, std::size_t size, std::size_t count, void* user) {
  const long n = static_cast<Received*>(user)->body->read(dest, size * count);
  return n == BodyPipe::kAborted ? CURL_READFUNC_ABORT : static_cast<std::size_t>(n);
}

}  // namespace

struct OriginWriter::Job {
  std::shared_ptr<BodyPipe> body;
  std::thread thread;
  std::atomic<bool> done{false};
};

OriginWriter::OriginWriter(S3Config config, std::size_t max_writes)
    : config_(std::move(config)), max_writes_(max_writes) {}

OriginWriter::~OriginWriter() {
  std::list<std::shared_ptr<Job>> jobs;
  {
    std::lock_guard lock(mu_);
    jobs.swap(jobs_);
  }
  for (auto& j : jobs) {
    if (j->body) j->body->abort();
  }
  for (auto& j : jobs) j->thread.join();
}

void OriginWriter::reap_locked() {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if ((*it)->done.load()) {
      (*it)->thread.join();
      it = jobs_.erase(it);
    } else {
      ++it;
    }
  }
}

bool OriginWriter::start(WriteRequest req, std::shared_ptr<BodyPipe> body,
                         std::function<void(WriteResult)> done) {
  std::string url;
  if (object_url(config_, req.bucket, req.key, &url)) return false;
  if (!req.query.empty()) url += "?" + req.query;
  std::lock_guard lock(mu_);
  reap_locked();
  if (running_.load() >= max_writes_) return false;
  ++running_;
  auto job = std::make_shared<Job>();
  job->body = body;
  jobs_.push_back(job);
  job->thread = std::thread(
      [this, job, req = std::move(req), url = std::move(url), body, done = std::move(done)] {
        WriteResult r = perform(config_, req, url, body.get());
        --running_;
        done(std::move(r));
        job->done.store(true);
      });
  return true;
}

WriteResult OriginWriter::perform(const S3Config& config, const WriteRequest& req,
                                  const std::string& url, BodyPipe* body) {
  WriteResult out;
  CURL* easy = curl_easy_init();
  if (easy == nullptr) {
    out.message = "curl_easy_init failed";
    return out;
  }
  Received rec{&out, body};
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(easy, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, config.verify_tls ? 1L : 0L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, config.verify_tls ? 2L : 0L);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &rec);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &rec);
  if (req.body_length) {
    curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);  // PUT unless overridden below
    curl_easy_setopt(easy, CURLOPT_READFUNCTION, &on_read);
    curl_easy_setopt(easy, CURLOPT_READDATA, &rec);
    curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(*req.body_length));
  } else if (req.method == "PUT" || req.method == "POST") {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, 0L);
  }
  if (req.method != "GET" && req.method != "PUT") {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  const Credentials& creds = config.credentials;
  const std::string sigv4 = "aws:amz:" + config.region + ":s3";
  if (!creds.anonymous()) {
    curl_easy_setopt(easy, CURLOPT_AWS_SIGV4, sigv4.c_str());
    curl_easy_setopt(easy, CURLOPT_USERNAME, creds.access_key_id.c_str());
    curl_easy_setopt(easy, CURLOPT_PASSWORD, creds.secret_access_key.c_str());
  }
  curl_slist* list = nullptr;
  list = curl_slist_append(list, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
  if (!creds.session_token.empty()) {
    list = curl_slist_append(list, ("x-amz-security-token: " + creds.session_token).c_str());
  }
  for (const std::string& h : req.headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, list);
  const CURLcode rc = curl_easy_perform(easy);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK) {
    out.status = 0;
    out.message = error[0] != '\0' ? error : curl_easy_strerror(rc);
    if (body && body->aborted()) out.message = "the request body was abandoned";
  } else {
    out.status = static_cast<int>(status);
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(easy);
  if (body) body->abort();  // wakes a producer still waiting for space
  return out;
}

}  // namespace shoal::origin
