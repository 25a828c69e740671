// hir-mcu-emu: the MCU firmware (frame codec + int8 model) on the host, behind a pseudo-terminal
// or a TCP port, paced like a Cortex-M4 on a 921600-baud UART. See docs/mcu-emulator.md.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "app/command_line.h"
#include "mcu_emu/emulator.h"
#include "mcu_emu/transport.h"

namespace {

hir::mcu_emu::Emulator* g_emulator = nullptr;

extern "C" void on_signal(int) {
  if (g_emulator) g_emulator->request_stop();  // async-signal-safe: a flag and a pipe write
}

bool write_file(const std::string& path, const std::string& text) {
  // Write then rename, so a reader polling for the file never sees half of it.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    f << text << "\n";
    if (!f) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hir::mcu_emu;
  EmulatorConfig cfg;
  cfg.model_path = "models/fmnist-tiny/int8/model.hirm";
  int tcp_port = -1;
  double heartbeat_ms = 200;
  std::string path_file, port_file;

  CLI::App app{
      "hir-mcu-emu: runs the MCU firmware (frame codec + int8 model) on this host with the timing "
      "of a real device.\n"
      "By default it opens a pseudo-terminal and prints its path (e.g. /dev/pts/7); talk to it as "
      "to a serial port with the frame protocol of docs/frame-protocol.md. With --tcp it listens on "
      "127.0.0.1 instead, like a serial-to-TCP bridge.\n\n"
      "Example:  hir-mcu-emu --path-file /tmp/mcu0.path --baud 921600 --heartbeat-ms 200\n"
      "Faults:   hir-mcu-emu --drop-every 5 --corrupt-every 7 --garbage\n\n"
      "SIGTERM, SIGINT or SIGHUP: close the pty or socket, print the frame counts, exit 0."};
  app.set_version_flag("--version", HIR_VERSION);  // as hir and hir-worker answer it
  app.add_option("--model", cfg.model_path, "model blob made by models/quantize.py")
      ->capture_default_str();
  app.add_option("--tcp", tcp_port, "listen on 127.0.0.1:PORT instead of a pty (0: any free port)");
  app.add_option("--path-file", path_file, "write the pty's slave path to this file");
  app.add_option("--port-file", port_file, "write the TCP port to this file (with --tcp)");
  app.add_option("--baud", cfg.baud, "line rate in bits/s; each byte takes 10 bits (8N1)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--macs-per-second", cfg.macs_per_second,
                 "MCU compute rate; default: Cortex-M4 at 80 MHz, CMSIS-NN s8 at ~0.5 MAC/cycle")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--heartbeat-ms", heartbeat_ms, "STATUS heartbeat period (0: none)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--drop-every", cfg.faults.drop_every, "drop every Nth incoming frame (0: never)");
  app.add_option("--corrupt-every", cfg.faults.corrupt_every,
                 "flip a byte in every Nth outgoing frame (0: never)");
  app.add_option("--stall-after", cfg.faults.stall_after,
                 "answer nothing (not even heartbeats) after N inference requests (-1: never)")
      ->capture_default_str();
  app.add_option("--deaf-after", cfg.faults.deaf_after,
                 "read nothing more from the line after N inference requests, heartbeats still going "
                 "(a hung receiver; -1: never)")
      ->capture_default_str();
  app.add_option("--busy-after", cfg.faults.busy_after,
                 "answer every inference request with ERROR busy after N of them, heartbeats still "
                 "going (firmware stuck busy; -1: never)")
      ->capture_default_str();
  app.add_flag("--garbage", cfg.faults.garbage, "emit random garbage bytes between frames now and then");
  app.add_option("--seed", cfg.seed, "seed for the garbage bytes")->capture_default_str();
  if (auto rc = hir::app::parse_command_line(app, argc, argv)) return *rc;
  cfg.heartbeat = hir::from_ms(heartbeat_ms);

  auto emu = Emulator::create(cfg);
  if (!emu.ok()) {
    std::cerr << "hir-mcu-emu: " << emu.status().to_string() << "\n";
    return 2;
  }
  g_emulator = emu->get();
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  // SIGHUP too, as hir serve and hir-worker take it: the session that started it going away
  // would otherwise kill it at once (the default action), without its closing counts.
  sigaction(SIGHUP, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  hir::Status st;
  if (tcp_port >= 0) {
    auto l = TcpListener::bind_loopback(tcp_port);
    if (!l.ok()) {
      std::cerr << "hir-mcu-emu: " << l.status().to_string() << "\n";
      return 2;
    }
    std::cout << "tcp://127.0.0.1:" << l->port() << std::endl;
    if (!port_file.empty() && !write_file(port_file, std::to_string(l->port()))) {
      std::cerr << "hir-mcu-emu: cannot write " << port_file << "\n";
      return 2;
    }
    st = (*emu)->serve_tcp(*l);
  } else {
    auto pty = Pty::open();
    if (!pty.ok()) {
      std::cerr << "hir-mcu-emu: " << pty.status().to_string() << "\n";
      return 2;
    }
    std::cout << pty->slave_path() << std::endl;
    if (!path_file.empty() && !write_file(path_file, pty->slave_path())) {
      std::cerr << "hir-mcu-emu: cannot write " << path_file << "\n";
      return 2;
    }
    st = (*emu)->serve_pty(*pty);
  }
  const auto& s = (*emu)->stats();
  std::cerr << "hir-mcu-emu: exiting; frames in " << s.frames_in << ", results " << s.results
            << ", dropped by fault " << s.dropped_by_fault << ", corrupted " << s.corrupted << "\n";
  g_emulator = nullptr;
  if (!st.ok()) {
    std::cerr << "hir-mcu-emu: " << st.to_string() << "\n";
    return 1;
  }
  return 0;
}
