// The node side of the protocol's command rules (firmware-bridge/PROTOCOL.md §9): relays that
// switch themselves off when an ON's duration ends, retransmissions acked without acting twice,
// stale commands ignored. Portable: the sketch applies relays() to its pins.
#ifndef SV_NODE_H
#define SV_NODE_H

#include "sv_proto.h"

namespace sv {

const uint8_t MAX_CHANNELS = 8;

enum Outcome {
  OUTCOME_NONE = 0,      // not for this node, or not a command
  OUTCOME_EXECUTED = 1,  // carried out (whatever its status); `ack` is set
  OUTCOME_REPEAT = 2,    // a retransmission of the last command: `ack` is set, nothing switched
  OUTCOME_STALE = 3,     // older than the last command of the same host boot: ignored, no ack
  OUTCOME_DESCRIBE = 4   // the host wants our HELLO
};

class Node {
 public:
  Node(uint8_t id, uint8_t boot, uint8_t channels, uint16_t max_on_s);
  // Power-up state with this boot id: seq 0, every relay off, no command remembered.
  void begin(uint8_t boot);

  // A host frame whose body passed check_body(). `now_ms` is millis(): it may wrap.
  Outcome handle(const Header& h, const uint8_t* payload, size_t len, uint32_t now_ms, Ack& ack);
  // Switches off every channel whose ON has run out; returns the channels switched off.
  uint8_t expire(uint32_t now_ms);
  // Bit c: channel c is on.
  uint8_t relays() const { return relays_; }
  // The seq for the next frame this node sends (0 first after power-up).
  uint16_t next_seq() { return seq_++; }
  uint8_t id() const { return id_; }
  uint8_t boot() const { return boot_; }

 private:
  uint8_t id_;
  uint8_t boot_;
  uint8_t channels_;
  uint16_t max_on_s_;
  uint16_t seq_;
  uint8_t relays_;
  uint32_t off_at_[MAX_CHANNELS];
  bool have_last_;
  uint8_t last_boot_;
  uint16_t last_seq_;
  uint8_t last_status_;
};

}  // namespace sv

#endif
