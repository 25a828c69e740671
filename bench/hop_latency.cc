// Added latency per hop at one request in flight, measured so that the machine's drift cancels.
//
// wrk -c1 runs each target for seconds in turn; on a shared machine the floor moves between
// those runs by as much as the figure being measured (bench/compare.sh's -c1 medians spread over
// tens of µs). Here one keep-alive connection per target is opened and the same request goes to
// each target in turn, round after round, so every round times all the targets within a few
// hundred µs of each other. A target's added latency is the median, over the rounds, of its time
// minus the direct target's time in the same round.
//
// The order is drawn anew every round (a seeded shuffle, so runs repeat). A target's time depends
// on which target ran just before it (another proxy's work leaves the caches and the CPUs
// otherwise than the target's own): with the order only rotated, every target kept the same predecessor in all but one place of
// the cycle, and the same proxy read up to 6 µs apart by its place (docs/perf/proxy.md,
// "Twenty-third pass"). Shuffled, every target follows every other alike. `--order rotate`
// gives the old order, to compare.
//
//   hop_latency --body FILE [--header-len N] [--path P] [--rounds N] [--warmup N]
//               [--order shuffle|rotate] [--seed N] NAME=PORT...
//
// It also prints each target's median added latency by the target that ran just before it (the
// last of the previous round for a round's first), and writes them to the JSON as "after".
//
// The first NAME=PORT is the baseline (the backend called directly). Prints one line per target
// and, with --json FILE, writes them as JSON. Only 127.0.0.1 is used. Plain blocking sockets: the
// client adds the same few µs to every target.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Target {
  std::string name;
  int port = 0;
  int fd = -1;
  std::vector<double> us;     // each round's time
  std::vector<double> added;  // each round's time minus the baseline's in that round
};

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "hop_latency: %s\n", why.c_str());
  std::exit(1);
}

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket: " + std::string(std::strerror(errno)));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    die("connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno));
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void send_all(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die("send: " + std::string(std::strerror(errno)));
    done += static_cast<size_t>(n);
  }
}

// Reads one response on a keep-alive connection: the head, then Content-Length bytes. Returns
// the status. `buf` keeps what was read past the response (nothing, with one request in flight).
int read_response(int fd, std::string& buf) {
  size_t head_end;
  char chunk[65536];
  while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die("the connection closed before a response head");
    buf.append(chunk, static_cast<size_t>(n));
  }
  std::string head = buf.substr(0, head_end);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto cl = head.find("\r\ncontent-length:");
  if (cl == std::string::npos) die("a response without Content-Length (chunked answers are not read)");
  const size_t length = std::strtoull(head.c_str() + cl + 17, nullptr, 10);
  const int status = std::atoi(head.c_str() + 9);
  const size_t total = head_end + 4 + length;
  while (buf.size() < total) {
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die("the connection closed inside a response body");
    buf.append(chunk, static_cast<size_t>(n));
  }
  buf.erase(0, total);
  return status;
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  const size_t k = static_cast<size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

void usage() {
  std::fprintf(stderr,
               "usage: hop_latency --body FILE [--header-len N] [--path P] [--rounds N] [--warmup N]\n"
               "                   [--order shuffle|rotate] [--seed N] [--json FILE] NAME=PORT...\n"
               "       (the first target is the baseline; the order is shuffled every round by default)\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string body_file, header_len, path = "/v2/models/fmnist-tiny/infer", json;
  long rounds = 20000, warmup = 1000;
  bool shuffle = true;
  unsigned long seed = 1;
  std::vector<Target> targets;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--body") body_file = value();
    else if (a == "--header-len") header_len = value();
    else if (a == "--path") path = value();
    else if (a == "--rounds") rounds = std::atol(value().c_str());
    else if (a == "--warmup") warmup = std::atol(value().c_str());
    else if (a == "--json") json = value();
    else if (a == "--seed") seed = std::strtoul(value().c_str(), nullptr, 10);
    else if (a == "--order") {
      const std::string o = value();
      if (o != "shuffle" && o != "rotate") usage();
      shuffle = o == "shuffle";
    }
    else if (a.find('=') != std::string::npos && a[0] != '-') {
      Target t;
      t.name = a.substr(0, a.find('='));
      t.port = std::atoi(a.c_str() + a.find('=') + 1);
      if (t.port <= 0 || t.port > 65535) usage();
      targets.push_back(std::move(t));
    } else {
      usage();
    }
  }
  if (body_file.empty() || targets.size() < 2 || rounds < 1 || warmup < 0) usage();
  std::ifstream in(body_file, std::ios::binary);
  if (!in) die("cannot read " + body_file);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string body = ss.str();
  std::string request = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  request += header_len.empty() ? "Content-Type: application/json\r\n"
                                : "Content-Type: application/octet-stream\r\nInference-Header-Content-Length: " +
                                      header_len + "\r\n";
  request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;

  for (Target& t : targets) {
    t.fd = connect_to(t.port);
    t.us.reserve(static_cast<size_t>(rounds));
    t.added.reserve(static_cast<size_t>(rounds));
  }
  std::string buf;
  std::vector<double> round_us(targets.size());
  std::vector<size_t> order(targets.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::mt19937_64 rng(seed);
  // by_pred[i][j]: target i's added latency in the rounds where target j ran just before it.
  std::vector<std::vector<std::vector<double>>> by_pred(targets.size(), std::vector<std::vector<double>>(targets.size()));
  std::vector<size_t> pred(targets.size());
  size_t last = targets.size();  // none yet
  long errors = 0;
  for (long r = -warmup; r < rounds; ++r) {
    const size_t n = targets.size();
    if (shuffle) std::shuffle(order.begin(), order.end(), rng);
    for (size_t k = 0; k < n; ++k) {
      const size_t i = shuffle ? order[k] : (static_cast<size_t>(r + warmup) + k) % n;  // rotate who goes first
      const auto t0 = std::chrono::steady_clock::now();
      send_all(targets[i].fd, request);
      const int status = read_response(targets[i].fd, buf);
      const auto t1 = std::chrono::steady_clock::now();
      if (status != 200) ++errors;
      round_us[i] = std::chrono::duration<double, std::micro>(t1 - t0).count();
      pred[i] = last;
      last = i;
    }
    if (r < 0) continue;
    for (size_t i = 0; i < n; ++i) {
      targets[i].us.push_back(round_us[i]);
      targets[i].added.push_back(round_us[i] - round_us[0]);
      if (pred[i] < n) by_pred[i][pred[i]].push_back(round_us[i] - round_us[0]);
    }
  }
  std::string out = "{\"rounds\":" + std::to_string(rounds) + ",\"errors\":" + std::to_string(errors) +
                    ",\"baseline\":\"" + targets[0].name + "\",\"targets\":[";
  for (size_t i = 0; i < targets.size(); ++i) {
    const Target& t = targets[i];
    const double p50 = quantile(t.us, 0.5), p90 = quantile(t.us, 0.9), p99 = quantile(t.us, 0.99);
    const double a50 = quantile(t.added, 0.5), a25 = quantile(t.added, 0.25), a75 = quantile(t.added, 0.75);
    std::printf("hop_latency: %-8s p50 %7.1f µs  p90 %7.1f  p99 %7.1f   added per hop: median %6.1f µs "
                "[quartiles %.1f, %.1f]\n",
                t.name.c_str(), p50, p90, p99, a50, a25, a75);
    char item[320];
    std::snprintf(item, sizeof item,
                  "%s{\"name\":\"%s\",\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,"
                  "\"added_median_us\":%.1f,\"added_q1_us\":%.1f,\"added_q3_us\":%.1f,\"after\":{",
                  i ? "," : "", t.name.c_str(), p50, p90, p99, a50, a25, a75);
    out += item;
    for (size_t j = 0; j < targets.size(); ++j) {
      if (by_pred[i][j].empty()) continue;
      std::snprintf(item, sizeof item, "%s\"%s\":{\"added_median_us\":%.1f,\"rounds\":%zu}",
                    out.back() == '{' ? "" : ",", targets[j].name.c_str(), quantile(by_pred[i][j], 0.5),
                    by_pred[i][j].size());
      out += item;
    }
    out += "}}";
    ::close(t.fd);
  }
  out += "]}\n";
  // What the target before does: a target that follows another process's work may find the
  // caches and the CPUs in another state than after its own (docs/perf/proxy.md).
  std::printf("hop_latency: median added per hop by the target that ran just before (columns)\n%-10s", "");
  for (const Target& t : targets) std::printf(" %9s", t.name.c_str());
  std::printf("\n");
  for (size_t i = 1; i < targets.size(); ++i) {
    std::printf("%-10s", targets[i].name.c_str());
    for (size_t j = 0; j < targets.size(); ++j) {
      if (by_pred[i][j].empty()) std::printf(" %9s", "-");
      else std::printf(" %9.1f", quantile(by_pred[i][j], 0.5));
    }
    std::printf("\n");
  }
  if (errors) std::fprintf(stderr, "hop_latency: %ld responses were not 200\n", errors);
  if (!json.empty()) {
    std::ofstream o(json);
    o << out;
    if (!o) die("cannot write " + json);
  }
  return errors ? 1 : 0;
}
