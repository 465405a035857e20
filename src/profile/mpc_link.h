// The link between the two MPC parties: bandwidth and round-trip time. (A "network" in this
// project is a neural network; older files and flags said "network" for the link, and are still
// read.) A step of the protocol that needs `rounds` round trips and sends `bytes` each way takes
//   seconds = rounds * RTT + bytes / bandwidth.
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

namespace vitnas {

struct LinkProfile {
  std::string name;                 // "lan", "wan", "custom" or a file's own name
  double bandwidth_bits_per_s = 0;  // per direction, full duplex; 1 Gbit = 1e9 bits
  double rtt_s = 0;
};

// REFERENCE.md section 2: "lan" 3 Gbit/s, 0.3 ms RTT; "wan" 400 Mbit/s, 40 ms. InputError otherwise.
LinkProfile link_profile(const std::string& name);
LinkProfile custom_link(double bandwidth_mbit_per_s, double rtt_ms);  // InputError unless > 0, >= 0
bool same_link(const LinkProfile& a, const LinkProfile& b);           // bandwidth and RTT

// {"name", "bandwidth_mbit_per_s", "rtt_ms"}; read back from that, or from a profile name.
// `path` is the key the link was read from ("link", or "network" in older files), for errors.
nlohmann::json link_to_json(const LinkProfile& l);
LinkProfile link_from_json(const nlohmann::json& j, const std::string& path = "link");

// What one or more protocol steps exchange.
struct MpcCost {
  double rounds = 0;
  double bytes = 0;  // per direction
  double seconds(const LinkProfile& link) const;
};

// Steps in sequence: rounds and bytes add.
inline MpcCost operator+(MpcCost a, const MpcCost& b) {
  a.rounds += b.rounds;
  a.bytes += b.bytes;
  return a;
}

}  // namespace vitnas
