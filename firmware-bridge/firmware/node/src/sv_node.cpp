#include "sv_node.h"

namespace sv {

Node::Node(uint8_t id, uint8_t boot, uint8_t channels, uint16_t max_on_s)
    : id_(id),
      boot_(boot),
      channels_(channels > MAX_CHANNELS ? MAX_CHANNELS : channels),
      max_on_s_(max_on_s),
      seq_(0),
      relays_(0),  // every relay off at power-up
      have_last_(false),
      last_boot_(0),
      last_seq_(0),
      last_status_(0) {
  for (uint8_t c = 0; c < MAX_CHANNELS; c++) off_at_[c] = 0;
}

void Node::begin(uint8_t boot) {
  boot_ = boot;
  seq_ = 0;
  relays_ = 0;
  have_last_ = false;
  for (uint8_t c = 0; c < MAX_CHANNELS; c++) off_at_[c] = 0;
}

Outcome Node::handle(const Header& h, const uint8_t* payload, size_t len, uint32_t now_ms, Ack& ack) {
  if (h.node != id_ && h.node != BROADCAST) return OUTCOME_NONE;
  if (h.type == DESCRIBE) return len == 0 ? OUTCOME_DESCRIBE : OUTCOME_NONE;
  if (h.type != COMMAND || h.node == BROADCAST) return OUTCOME_NONE;
  Command cmd;
  if (!parse_command(payload, len, cmd)) return OUTCOME_NONE;
  if (have_last_ && h.boot == last_boot_) {
    uint16_t ahead = (uint16_t)(h.seq - last_seq_);
    if (ahead == 0) {
      // The host did not get our ack: answer again, but do not restart the timer.
      ack.ack_seq = h.seq;
      ack.status = last_status_;
      ack.relays = relays_;
      return OUTCOME_REPEAT;
    }
    if (ahead >= 0x8000) return OUTCOME_STALE;
  }
  uint8_t status = ACK_DONE;
  if (cmd.channel >= channels_) {
    status = ACK_UNKNOWN_CHANNEL;
  } else if (cmd.action == 1) {
    if (cmd.duration_ms < 1 || cmd.duration_ms > (uint32_t)max_on_s_ * 1000UL) {
      status = ACK_BAD_DURATION;
    } else {
      relays_ |= (uint8_t)(1 << cmd.channel);
      off_at_[cmd.channel] = now_ms + cmd.duration_ms;  // wraps with millis(): compared by difference
    }
  } else {
    relays_ &= (uint8_t)~(1 << cmd.channel);
  }
  have_last_ = true;
  last_boot_ = h.boot;
  last_seq_ = h.seq;
  last_status_ = status;
  ack.ack_seq = h.seq;
  ack.status = status;
  ack.relays = relays_;
  return OUTCOME_EXECUTED;
}

uint8_t Node::expire(uint32_t now_ms) {
  uint8_t off = 0;
  for (uint8_t c = 0; c < channels_; c++) {
    uint8_t bit = (uint8_t)(1 << c);
    // Wrap-safe: true once now_ms has reached off_at, also across millis() rolling over.
    if ((relays_ & bit) && (int32_t)(now_ms - off_at_[c]) >= 0) {
      relays_ &= (uint8_t)~bit;
      off |= bit;
    }
  }
  return off;
}

}  // namespace sv
