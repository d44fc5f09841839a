// smart-village firmware protocol v1: see sv_proto.h and firmware-bridge/PROTOCOL.md.
#include "sv_proto.h"

namespace sv {

uint16_t crc16(const uint8_t* data, size_t len, uint16_t crc) {
  // Bit by bit: 512 bytes of table would be a quarter of an ATmega328P's RAM.
  for (size_t i = 0; i < len; i++) {
    crc ^= (uint16_t)((uint16_t)data[i] << 8);
    for (uint8_t b = 0; b < 8; b++) crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
  }
  return crc;
}

size_t cobs_encode(const uint8_t* in, size_t len, uint8_t* out) {
  size_t code_at = 0;
  size_t o = 1;
  uint8_t code = 1;
  for (size_t i = 0; i < len; i++) {
    if (in[i] == 0) {
      out[code_at] = code;
      code_at = o++;
      code = 1;
      continue;
    }
    out[o++] = in[i];
    if (++code == 0xFF) {
      out[code_at] = code;
      code = 1;
      if (i == len - 1) return o;  // a full block ending the data takes no further code byte
      code_at = o++;
    }
  }
  out[code_at] = code;
  return o;
}

int cobs_decode(const uint8_t* in, size_t len, uint8_t* out) {
  size_t i = 0;
  size_t o = 0;
  while (i < len) {
    uint8_t code = in[i++];
    if (code == 0 || i + code - 1 > len) return -1;
    for (uint8_t k = 1; k < code; k++) {
      uint8_t b = in[i++];
      if (b == 0) return -1;
      out[o++] = b;  // o < i always, so decoding in place never overtakes the input
    }
    if (code != 0xFF && i < len) out[o++] = 0;
  }
  return (int)o;
}

void send_frame(const uint8_t* body, size_t len, PutByte put, void* ctx) {
  put(ctx, 0);
  size_t start = 0;  // first byte of the current block
  while (true) {
    // The block runs to the next zero, the end, or 254 bytes.
    size_t end = start;
    while (end < len && body[end] != 0 && end - start < 254) end++;
    uint8_t code = (uint8_t)(end - start + 1);
    put(ctx, code);
    for (size_t k = start; k < end; k++) put(ctx, body[k]);
    if (end >= len) break;
    if (code == 0xFF) {
      start = end;  // a full block: no zero consumed
    } else {
      start = end + 1;  // skip the zero the code stands for
      if (start == len) {
        put(ctx, 1);  // the body ended with a zero: one more (empty) block
        break;
      }
    }
  }
  put(ctx, 0);
}

// ---- Writer ----------------------------------------------------------------------------------

Writer::Writer(uint8_t* buf, size_t cap) : buf_(buf), cap_(cap), len_(0), overflow_(false) {}

void Writer::header(uint8_t type, uint8_t node, uint8_t boot, uint16_t seq) {
  len_ = 0;
  overflow_ = false;
  u8(VERSION);
  u8(type);
  u8(node);
  u8(boot);
  u16(seq);
}

void Writer::u8(uint8_t v) {
  // Room for the CRC stays reserved; the body never exceeds MAX_BODY.
  if (len_ + 1 + CRC_BYTES > cap_ || len_ + 1 + CRC_BYTES > MAX_BODY) {
    overflow_ = true;
    return;
  }
  buf_[len_++] = v;
}
void Writer::i8(int8_t v) { u8((uint8_t)v); }
void Writer::u16(uint16_t v) {
  u8((uint8_t)(v & 0xFF));
  u8((uint8_t)(v >> 8));
}
void Writer::u32(uint32_t v) {
  u16((uint16_t)(v & 0xFFFF));
  u16((uint16_t)(v >> 16));
}
void Writer::i32(int32_t v) { u32((uint32_t)v); }
void Writer::str(const char* s) {
  size_t n = 0;
  while (s[n] != 0) n++;
  if (n > 255) {
    overflow_ = true;
    return;
  }
  u8((uint8_t)n);
  for (size_t i = 0; i < n; i++) u8((uint8_t)s[i]);
}

size_t Writer::finish() {
  if (overflow_ || len_ + CRC_BYTES > cap_) return 0;
  uint16_t crc = crc16(buf_, len_);
  buf_[len_] = (uint8_t)(crc & 0xFF);
  buf_[len_ + 1] = (uint8_t)(crc >> 8);
  return len_ + CRC_BYTES;
}

// ---- Reader ----------------------------------------------------------------------------------

Reader::Reader(const uint8_t* p, size_t len) : p_(p), len_(len), pos_(0), ok_(true) {}

uint8_t Reader::u8() {
  if (!ok_ || pos_ >= len_) {
    ok_ = false;
    return 0;
  }
  return p_[pos_++];
}
int8_t Reader::i8() { return (int8_t)u8(); }
uint16_t Reader::u16() {
  uint16_t lo = u8();
  return (uint16_t)(lo | ((uint16_t)u8() << 8));
}
uint32_t Reader::u32() {
  uint32_t lo = u16();
  return lo | ((uint32_t)u16() << 16);
}
int32_t Reader::i32() { return (int32_t)u32(); }
void Reader::str(char* out, uint8_t max) {
  uint8_t n = u8();
  if (n > max) ok_ = false;
  uint8_t k = 0;
  for (uint8_t i = 0; ok_ && i < n; i++) {
    uint8_t c = u8();
    if (c < 0x20 || c > 0x7E) ok_ = false;
    if (out && k < max) out[k++] = (char)c;
  }
  if (out) out[k] = 0;
}

// ---- checks ----------------------------------------------------------------------------------

int check_body(const uint8_t* body, size_t len, Header& h) {
  if (len < MIN_BODY) return RX_SHORT;
  if (len > MAX_BODY) return RX_OVERSIZE;
  uint16_t want = (uint16_t)(body[len - 2] | ((uint16_t)body[len - 1] << 8));
  if (crc16(body, len - CRC_BYTES) != want) return RX_CRC;
  h.version = body[0];
  h.type = body[1];
  h.node = body[2];
  h.boot = body[3];
  h.seq = (uint16_t)(body[4] | ((uint16_t)body[5] << 8));
  if (h.version != VERSION) return RX_VERSION;
  return RX_NONE;
}

static bool valid_exp(int8_t e) { return e == FAILED_EXP || (e >= -9 && e <= 9); }

int check_payload(uint8_t type, const uint8_t* payload, size_t len) {
  Reader r(payload, len);
  switch (type) {
    case HELLO: {
      r.u16();
      uint8_t ns = r.u8();
      uint8_t na = r.u8();
      if (ns > MAX_SENSORS || na > MAX_ACTUATORS) return RX_PAYLOAD;
      r.str(0, MAX_FIRMWARE);
      for (uint8_t i = 0; i < ns; i++) {
        r.u8();
        r.u8();
        r.u8();
        r.str(0, MAX_NAME);
      }
      for (uint8_t i = 0; i < na; i++) {
        r.u8();
        r.u8();
        r.u16();
        r.str(0, MAX_NAME);
      }
      break;
    }
    case READINGS: {
      r.u16();
      uint8_t n = r.u8();
      if (n < 1 || n > MAX_READINGS) return RX_PAYLOAD;
      for (uint8_t i = 0; i < n; i++) {
        r.u8();
        r.u8();
        if (!valid_exp(r.i8())) return RX_PAYLOAD;
        r.i32();
      }
      break;
    }
    case HEARTBEAT: {
      Heartbeat hb;
      return parse_heartbeat(payload, len, hb) ? RX_NONE : RX_PAYLOAD;
    }
    case ACK: {
      Ack a;
      return parse_ack(payload, len, a) ? RX_NONE : RX_PAYLOAD;
    }
    case ERROR:
      r.u8();
      r.u8();
      r.str(0, MAX_TEXT);
      break;
    case DESCRIBE:
      break;
    case COMMAND: {
      Command c;
      return parse_command(payload, len, c) ? RX_NONE : RX_PAYLOAD;
    }
    default:
      return RX_TYPE;
  }
  return r.done() ? RX_NONE : RX_PAYLOAD;
}

// ---- messages --------------------------------------------------------------------------------

size_t build_hello(uint8_t* buf, size_t cap, uint8_t node, uint8_t boot, uint16_t seq, uint16_t heartbeat_s,
                   const char* firmware, const SensorInfo* sensors, uint8_t n_sensors, const ActuatorInfo* actuators,
                   uint8_t n_actuators) {
  if (n_sensors > MAX_SENSORS || n_actuators > MAX_ACTUATORS) return 0;
  Writer w(buf, cap);
  w.header(HELLO, node, boot, seq);
  w.u16(heartbeat_s);
  w.u8(n_sensors);
  w.u8(n_actuators);
  w.str(firmware);
  for (uint8_t i = 0; i < n_sensors; i++) {
    w.u8(sensors[i].index);
    w.u8(sensors[i].quantity);
    w.u8(sensors[i].unit);
    w.str(sensors[i].name);
  }
  for (uint8_t i = 0; i < n_actuators; i++) {
    w.u8(actuators[i].channel);
    w.u8(actuators[i].kind);
    w.u16(actuators[i].max_on_s);
    w.str(actuators[i].name);
  }
  return w.finish();
}

size_t build_readings(uint8_t* buf, size_t cap, uint8_t node, uint8_t boot, uint16_t seq, uint16_t age_ds,
                      const Value* values, uint8_t count) {
  if (count < 1 || count > MAX_READINGS) return 0;
  Writer w(buf, cap);
  w.header(READINGS, node, boot, seq);
  w.u16(age_ds);
  w.u8(count);
  for (uint8_t i = 0; i < count; i++) {
    if (!valid_exp(values[i].exp)) return 0;
    w.u8(values[i].sensor);
    w.u8(values[i].unit);
    w.i8(values[i].exp);
    w.i32(values[i].exp == FAILED_EXP ? 0 : values[i].mantissa);
  }
  return w.finish();
}

size_t build_heartbeat(uint8_t* buf, size_t cap, uint8_t node, uint8_t boot, uint16_t seq, const Heartbeat& hb) {
  Writer w(buf, cap);
  w.header(HEARTBEAT, node, boot, seq);
  w.u32(hb.uptime_s);
  w.u8(hb.relays);
  w.u16(hb.rx_errors);
  return w.finish();
}

size_t build_ack(uint8_t* buf, size_t cap, uint8_t node, uint8_t boot, uint16_t seq, const Ack& ack) {
  Writer w(buf, cap);
  w.header(ACK, node, boot, seq);
  w.u16(ack.ack_seq);
  w.u8(ack.status);
  w.u8(ack.relays);
  return w.finish();
}

size_t build_error(uint8_t* buf, size_t cap, uint8_t node, uint8_t boot, uint16_t seq, uint8_t code, uint8_t detail,
                   const char* text) {
  Writer w(buf, cap);
  w.header(ERROR, node, boot, seq);
  w.u8(code);
  w.u8(detail);
  w.str(text);
  return w.finish();
}

size_t build_describe(uint8_t* buf, size_t cap, uint8_t node, uint8_t boot, uint16_t seq) {
  Writer w(buf, cap);
  w.header(DESCRIBE, node, boot, seq);
  return w.finish();
}

size_t build_command(uint8_t* buf, size_t cap, uint8_t node, uint8_t boot, uint16_t seq, const Command& cmd) {
  Writer w(buf, cap);
  w.header(COMMAND, node, boot, seq);
  w.u8(cmd.channel);
  w.u8(cmd.action);
  w.u32(cmd.duration_ms);
  return w.finish();
}

bool parse_command(const uint8_t* payload, size_t len, Command& out) {
  Reader r(payload, len);
  out.channel = r.u8();
  out.action = r.u8();
  out.duration_ms = r.u32();
  return r.done() && out.action <= 1;
}

bool parse_ack(const uint8_t* payload, size_t len, Ack& out) {
  Reader r(payload, len);
  out.ack_seq = r.u16();
  out.status = r.u8();
  out.relays = r.u8();
  return r.done() && out.status <= ACK_FAULT;
}

bool parse_heartbeat(const uint8_t* payload, size_t len, Heartbeat& out) {
  Reader r(payload, len);
  out.uptime_s = r.u32();
  out.relays = r.u8();
  out.rx_errors = r.u16();
  return r.done();
}

}  // namespace sv
